"""buildspec.yaml and pipeline_def/requirements.txt: what the upsert CodeBuild project runs and installs."""
from __future__ import annotations

import re
from importlib import metadata

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

BUILDSPEC = ROOT / "buildspec.yaml"
REQUIREMENTS = ROOT / "pipeline_def" / "requirements.txt"


def _pins(path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            pins.update(_pins(path.parent / line[3:]))
            continue
        assert "==" in line, f"{path.name}: '{line}' is not pinned with =="
        name, version = line.split("==")
        pins[canonicalize_name(name)] = version
    return pins


def test_buildspec_installs_the_pins_then_upserts_the_env():
    spec = yaml.safe_load(BUILDSPEC.read_text())
    assert spec["version"] == 0.2
    assert str(spec["phases"]["install"]["runtime-versions"]["python"]) in ("3.11", "3.12")
    assert spec["phases"]["install"]["commands"] == ["python -m pip install --quiet -r pipeline_def/requirements.txt"]
    assert spec["phases"]["build"]["commands"] == ['python -m pipeline_def upsert --env "$ENV_NAME"']


def test_buildspec_names_no_account_or_region():
    text = BUILDSPEC.read_text()
    assert not re.search(r"\b\d{12}\b", text)
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d\b", text)
    assert "render" not in text


def test_requirements_pin_sagemaker_2x_and_its_whole_dependency_closure_as_tested():
    pins = _pins(REQUIREMENTS)
    assert pins["sagemaker"] == "2.257.7"
    closure, todo = set(), ["sagemaker"]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in closure:
            continue
        closure.add(name)
        for r in metadata.requires(name) or []:
            req = Requirement(r)
            if not req.marker or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    assert closure <= set(pins), sorted(closure - set(pins))
    # Exactly what the tests ran with.
    assert {n: metadata.version(n) for n in pins} == pins
