"""An adopter's edits of config/ reach every name the render holds: none of the sample's survives.

tests/support/adopter_edit.py makes all of an adopting team's edits at once on a copy of config/ (project, short and
SageMaker pipeline names and repositories changed; the last env dropped, "staging" added; the first env notified on
other statuses by other people; each env in a region of its own, the first in us-east-1). The whole suite on such
copies is `make adopter-check` (tests/adopter_check.sh), which CI runs.
"""
from __future__ import annotations

import inspect
import re
import shutil

import pytest

from infra import stacks
from infra import config
from infra.config import names
from infra.output import render
from tests.support import adopter_edit


@pytest.fixture(scope="module")
def adopted(tmp_path_factory):
    path = shutil.copytree(config.CONFIG_DIR, tmp_path_factory.mktemp("adopted") / "config")
    adopter_edit.apply(path, "all")
    return config.load(path)


def test_the_adopted_config_changes_every_value_a_test_could_hard_code(adopted):
    project = adopted
    sample = config.load(config.CONFIG_DIR)
    assert project.name != sample.name and project.short_name != sample.short_name
    assert project.sagemaker_pipeline_name != sample.sagemaker_pipeline_name
    added = [env for env in project.environments if env not in sample.environments]
    assert len(added) == 1 and added[0] in adopter_edit.ADDED_ENVS
    dropped = [env for env in sample.environments if env not in project.environments]
    assert dropped == ([list(sample.environments)[-1]] if len(sample.environments) > 1 else [])
    first = next(iter(project.environments))
    assert project.env(first).emails != sample.env(first).emails and project.env(first).statuses != sample.env(first).statuses
    regions, sample_regions = [project.env(env).region for env in project.environments], {sample.env(env).region for env in sample.environments}
    assert len(set(regions)) == len(regions) and not set(regions) & sample_regions
    assert adopter_edit.US_EAST_1 in {*regions, *sample_regions}  # S3's exception (tests/support/s3.py) is tested one way or the other


def derived_names(project: config.Project) -> set[str]:
    """Every name infra/config/names.py derives for each env (prefixes, stacks, roles, pipelines, topics, buckets...)."""
    found = set()
    for env in project.environments:
        n = names.for_env(project, env)
        for attr, member in inspect.getmembers(type(n)):
            if isinstance(member, property) and isinstance(getattr(n, attr), str):
                found.add(getattr(n, attr))
        found.update(n.stack(stack) for stack in stacks.BUILDERS)
    return found


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def test_the_render_keeps_no_trace_of_the_sample_names(adopted):
    """Every name is derived from config (infra/config/names.py): none that config/ derives survives a rename. Compared as
    derived names, not raw fragments: a short name such as `kpi` or `ml`, or an e-mail address kept from config/,
    is not a trace."""
    sample = config.load(config.CONFIG_DIR)
    rendered = render.render(adopted)
    # Bare env names are words ("prod"); a dropped env is traced by its prefixed names and its folder.
    traces = sorted(derived_names(sample) - derived_names(adopted) - set(sample.environments) - set(adopted.environments))
    dropped = [env for env in sample.environments if env not in adopted.environments]
    found = {(path, trace) for path, text in rendered.items() for trace in traces
             if re.search(rf"(?<![\w-]){re.escape(trace)}(?![\w])", EMAIL.sub("", text))}
    found |= {(path, f"{env}/") for path in rendered for env in dropped if path.startswith(f"{env}/")}
    assert not found, sorted(found)
