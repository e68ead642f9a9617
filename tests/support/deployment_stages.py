"""The model-deployment pipeline's stages as rendered: for an env of a config, or for the fixture config with a
deployment block of a test's choosing."""
from __future__ import annotations

import shutil

import yaml

from infra import config
from infra.config import names
from infra.output import render
from tests.conftest import FIXTURE_CONFIG
from tests.support import resolve
from tests.support.serving_config import serve


def branches(item) -> list:
    """An item of a list that may be an Fn::If (a conditional stage or action): each branch that is not AWS::NoValue."""
    if isinstance(item, dict) and set(item) == {"Fn::If"}:
        return [b for b in item["Fn::If"][1:] if isinstance(b, dict) and "Ref" not in b]
    return [item]


def deployment_stages(rendered, project, env: str) -> list:
    stack = resolve.alone(rendered, project, env, "deployment")
    (pipeline,) = stack.resources("AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]["Stages"]


def fixture_serving(tmp_path, settings: dict):
    """The fixture config with a deployment block in its dev env: (names, the deployment pipeline's stages)."""
    shutil.copytree(FIXTURE_CONFIG, tmp_path / "config")
    path = tmp_path / "config" / "dev.yaml"
    data = yaml.safe_load(path.read_text())
    serve(data, settings)
    path.write_text(yaml.safe_dump(data))
    project = config.load(tmp_path / "config")
    return names.for_env(project, "dev"), deployment_stages(render.render(project), project, "dev")
