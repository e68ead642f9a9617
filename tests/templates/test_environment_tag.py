"""Every stack of an env carries `environment: <env name>`, from the name: a file copied from another env needs no edit.

Adding an env by copying another's file once left `tags: environment: <the other env>`, and `make test` failed on the
copy's stacks carrying the other env's tag. Config now derives the tag and refuses an explicit one that differs
(tests/config/test_config_errors.py).
"""
from __future__ import annotations

import json
import shutil

import yaml

from infra import stacks
from infra.config import loader
from infra.output import render
from infra.stacks import BUILDERS
from tests.conftest import FIXTURE_CONFIG, absent_env


def _copy_first_env(tmp_path) -> tuple:
    cfg = tmp_path / "config"
    shutil.copytree(FIXTURE_CONFIG, cfg)
    project = yaml.safe_load((cfg / "project.yaml").read_text())
    first, added = project["environments"][0], absent_env(project["environments"])
    shutil.copy(cfg / f"{first}.yaml", cfg / f"{added}.yaml")
    project["environments"].append(added)
    (cfg / "project.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return cfg, first, added


def test_a_copied_env_file_tags_every_stack_with_its_own_name(tmp_path):
    cfg, _, added = _copy_first_env(tmp_path)
    files = render.render(loader.load(cfg))
    tags = {path: json.loads(text)["Tags"] for path, text in files.items()
            if path.startswith(f"{added}/") and path.endswith(".json")}
    assert set(tags) == {f"{added}/{stack}.json" for stack in stacks.of_env(loader.load(cfg).env(added))}
    assert {t["environment"] for t in tags.values()} == {added}


def test_a_copied_env_files_templates_name_nothing_of_the_env_it_was_copied_from(tmp_path):
    """Its templates are concrete (names written in): each derives from the copy's own env name."""
    from infra.config import names

    cfg, first, added = _copy_first_env(tmp_path)
    project = loader.load(cfg)
    files = render.render(project)
    source = names.for_env(project, first)
    needles = (source.prefix, source.stack("iam").removesuffix("iam"), source.sagemaker_pipeline, f"-{first}-", f"/{first}/")
    found = [f"{path}: {needle}" for path, text in files.items() if path.startswith(f"{added}/")
             for needle in needles if needle in text]
    assert not found, "\n".join(found)
    assert source.prefix in files[f"{first}/iam.yaml"] and names.for_env(project, added).prefix in files[f"{added}/iam.yaml"]


def test_an_explicit_environment_tag_equal_to_the_name_is_kept(tmp_path):
    cfg, first, _ = _copy_first_env(tmp_path)
    data = yaml.safe_load((cfg / f"{first}.yaml").read_text())
    data["tags"] = {"environment": first, "cost-centre": "ml"}
    (cfg / f"{first}.yaml").write_text(yaml.safe_dump(data))
    assert dict(loader.load(cfg).env(first).tags) == {"environment": first, "cost-centre": "ml"}
