"""infra/config/schema.py is the one description of the config: the loader's defaults and docs/configuration.md's
key tables come from it. These checks fail when the docs drift from the schema, when a key is added without a
description (it would be missing from the docs), when a default breaks its own key's rules (defaults are filled in
after validation), when the loader gives an absent key anything but its documented default, or when
docs/deployment.md's example block stops being the defaults it says it is.
"""
from __future__ import annotations

import re
import shutil

import jsonschema
import pytest
import yaml

from infra.config import docs, load, schema
from infra.config.loader import deployment_settings
from tests.conftest import FIXTURE_CONFIG

SCHEMAS = {"project.yaml": schema.PROJECT, "<env>.yaml": schema.ENVIRONMENT}


def _properties(schema_: dict, prefix: str = ""):
    """(key path, property schema) for every key, the keys of each source type included."""
    for key, sub in schema_.get("properties", {}).items():
        yield f"{prefix}{key}", sub
        yield from _properties(sub, f"{prefix}{key}.")
    for case in schema_.get("allOf", ()):
        yield from _properties(case["then"], prefix)


def test_the_committed_key_tables_are_the_schemas():
    committed = docs.DOC.read_text()
    assert docs.BEGIN in committed and docs.END in committed, f"{docs.DOC}: the markers around the key tables are missing"
    assert committed == docs.render(committed), (
        "docs/configuration.md's key tables differ from infra/config/schema.py: run `.venv/bin/python -m infra.config.docs`")


@pytest.mark.parametrize("file", SCHEMAS)
def test_every_key_has_a_description(file):
    undescribed = [path for path, sub in _properties(SCHEMAS[file])
                   if "description" not in sub and "properties" not in sub and sub != {}]  # {}: a source type's `type`
    assert not undescribed, f"{file}: keys without a description (so missing from docs/configuration.md): {undescribed}"


@pytest.mark.parametrize("file", SCHEMAS)
def test_every_default_keeps_its_own_keys_rules(file):
    for path, sub in _properties(SCHEMAS[file]):
        if "default" in sub:
            rules = {k: v for k, v in sub.items() if k != "default"}
            errors = [e.message for e in jsonschema.Draft202012Validator(rules).iter_errors(sub["default"])]
            assert not errors, f"{file}: {path}: default {sub['default']!r}: {errors}"


def _required_only(schema_: dict, data: dict) -> dict:
    """`data` without its optional keys, at every depth (a source block is kept whole: its keys depend on its type)."""
    kept = {key: data[key] for key in schema_.get("required", ())}
    props = schema_["properties"]
    return {key: _required_only(props[key], v) if isinstance(v, dict) and "allOf" not in props[key] else v for key, v in kept.items()}


def _only_required(tmp_path):
    """The fixture config with every optional key removed."""
    cfg = tmp_path / "config"
    shutil.copytree(FIXTURE_CONFIG, cfg)
    for path in cfg.glob("*.yaml"):
        schema_ = schema.PROJECT if path.name == "project.yaml" else schema.ENVIRONMENT
        path.write_text(yaml.safe_dump(_required_only(schema_, yaml.safe_load(path.read_text()))))
    return cfg


def test_an_absent_key_gets_its_documented_default(tmp_path):
    project = load(_only_required(tmp_path))
    assert project.description == schema.PROJECT["properties"]["project"]["properties"]["description"]["default"]
    settings = deployment_settings("", {})
    checked = 0
    for path, sub in _properties(schema.ENVIRONMENT):
        if "default" not in sub or "properties" in sub or path == "tags":  # tags: each env gets its `environment` tag
            continue
        block, _, key = path.rpartition(".")
        attribute = {"rollout.type": "rollout_type", "notifications.statuses": "statuses"}.get(path.partition(".")[2], key)
        expected = tuple(sub["default"]) if isinstance(sub["default"], list) else sub["default"]
        for env in project.environments.values():
            loaded = getattr(settings if block.startswith("deployment") else env, attribute)
            assert loaded == expected and type(loaded) is type(expected), f"{path}: loaded {loaded!r}, documented {expected!r}"
        checked += 1
    assert checked >= 20, checked
    # The defaults derived from another key (`x-default`); traffic_percent's: test_rollout_steps_are_whole_instances.py.
    assert settings.staging_instance_type == settings.instance_type
    assert all(env.operations_emails == env.emails for env in project.environments.values())


def test_the_deployment_example_is_the_defaults():
    """docs/deployment.md shows a whole `deployment` block and says its values are the defaults."""
    text = (docs.DOC.parent / "deployment.md").read_text()
    example = yaml.safe_load(re.search(r"```yaml\n(deployment:.*?)```", text, re.S).group(1))["deployment"]
    assert deployment_settings("", example) == deployment_settings("", {}), "docs/deployment.md: the example is not the defaults"
