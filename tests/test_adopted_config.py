"""The checks that must hold for any config, re-run in-process on an adopter's config.

An adopting team renames the project, adds an env, changes who is notified, drops an env and picks its regions;
`make test` must still pass. tests/support/adopter_edit.py makes all those edits at once on a copy of config/ (project, short and
SageMaker pipeline names and repositories changed; the last env dropped, "staging" added second; the first
env notified on other statuses by other people; each env in a region of its own, the first in us-east-1), each to
values config/ does not hold. This module points the shared fixtures (`project`, `rendered`, `definitions`, `env_names`) and
`@pytest.mark.every_env` at that copy, and collects the config-derived tests of the modules in RERUN again,
here. A test among them that hard-codes a sample name, address or env fails here, not in an adopter's first
week. The whole suite on such a copy: tests/adopter_check.sh (slower; run it before merging).
"""
from __future__ import annotations

import atexit
import inspect
import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from infra import config
from infra.config import names
from infra.output import render
from tests.support import adopter_edit
from tests import test_stacks_agree_with_each_other, test_kpi_dashboard, test_kpi_stack, test_notifications_template, test_pipeline_stack

_WORK = Path(tempfile.mkdtemp(prefix="adopted-config-"))
atexit.register(shutil.rmtree, _WORK, True)
CONFIG_UNDER_TEST = Path(shutil.copytree(config.CONFIG_DIR, _WORK / "config"))
adopter_edit.apply(CONFIG_UNDER_TEST, "all")

# Fixtures a re-run test may ask for: this module's (below) and the modules' own, which build on them.
_SHARED = {"project", "rendered", "definitions", "env_names", "env"}
RERUN = (test_stacks_agree_with_each_other, test_notifications_template, test_kpi_dashboard, test_kpi_stack, test_pipeline_stack)


@pytest.fixture(scope="module")
def project():
    return config.load(CONFIG_UNDER_TEST)


@pytest.fixture(scope="module")
def env_names(project):
    return list(project.environments)


@pytest.fixture(scope="module")
def rendered(project):
    return render.render(project)


@pytest.fixture(scope="module")
def definitions(project):
    from pipeline_def import cli

    return {env: json.loads(cli.render(names.for_env(project, env))) for env in project.environments}


def _collect_again(module) -> dict:
    """The module's fixtures, and its tests that take only fixtures (the shared ones or the module's own)."""
    found = {}
    fixtures = {n for n, v in vars(module).items() if hasattr(v, "_pytestfixturefunction") or type(v).__name__ == "FixtureFunctionDefinition"}
    for name, value in vars(module).items():
        if name in fixtures and name not in _SHARED:
            found[name] = value
    for name, value in vars(module).items():
        if not (name.startswith("test_") and inspect.isfunction(value)) or value.__module__ != module.__name__:
            continue
        marks = getattr(value, "pytestmark", [])
        parametrized = {a.strip() for m in marks if m.name == "parametrize" for a in
                        (m.args[0].split(",") if isinstance(m.args[0], str) else m.args[0])}
        args = set(inspect.signature(value).parameters)
        if args & (_SHARED | fixtures) and args <= _SHARED | fixtures | parametrized:
            found[name] = value
    return found


for _module in RERUN:
    globals().update(_collect_again(_module))


def test_the_adopted_config_changes_every_value_a_test_could_hard_code(project):
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
        found.update(n.stack(stack) for stack in render.BUILDERS)
    return found


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def test_the_render_keeps_no_trace_of_the_sample_names(rendered):
    """Every name is derived from config (infra/config/names.py): none that config/ derives survives a rename. Compared as
    derived names, not raw fragments: a short name such as `kpi` or `ml`, or an e-mail address kept from config/,
    is not a trace."""
    sample = config.load(config.CONFIG_DIR)
    adopted = config.load(CONFIG_UNDER_TEST)
    # Bare env names are words ("prod"); a dropped env is traced by its prefixed names and its folder.
    traces = sorted(derived_names(sample) - derived_names(adopted) - set(sample.environments) - set(adopted.environments))
    dropped = [env for env in sample.environments if env not in adopted.environments]
    found = {(path, trace) for path, text in rendered.items() for trace in traces
             if re.search(rf"(?<![\w-]){re.escape(trace)}(?![\w])", EMAIL.sub("", text))}
    found |= {(path, f"{env}/") for path in rendered for env in dropped if path.startswith(f"{env}/")}
    assert not found, sorted(found)


def test_reruns_collected(request):
    """The re-run really happens: this module holds tests of every module in RERUN (a rename would drop them silently)."""
    held = {name for name in globals() if name.startswith("test_")}
    for module in RERUN:
        assert held & {n for n in vars(module) if n.startswith("test_")}, module.__name__
