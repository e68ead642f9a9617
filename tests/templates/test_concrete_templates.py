"""Each env's templates are concrete: what the env gets is decided in Python, its config values are written in, and
its files come from its own config alone.

- no Conditions, no Fn::If, no AWS::NoValue, no resource or output under a condition;
- no Parameters but the run-time ones (infra/cfn/parameters.py RUN_TIME), and no config value left to substitute;
- adding or removing an env leaves every other env's files byte-identical, and `generate.py --env X` writes only X's.
"""
from __future__ import annotations

import dataclasses
import re

import generate
from infra.cfn import parameters
from infra.output import render
from tests.conftest import absent_env
from tests.support.cfn import load
from tests.support.resolve import walk

_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def _templates(rendered: dict[str, str]):
    return [(path, load(text)) for path, text in sorted(rendered.items()) if path.endswith(".yaml")]


def test_no_template_leaves_anything_to_a_condition(rendered):
    problems = []
    for path, template in _templates(rendered):
        if "Conditions" in template:
            problems.append(f"{path}: Conditions {sorted(template['Conditions'])}")
        for section in ("Resources", "Outputs"):
            problems += [f"{path}: {section}.{key} has Condition" for key, item in template.get(section, {}).items()
                         if "Condition" in item]
        for where, node in walk(template):
            if isinstance(node, dict) and ("Fn::If" in node or node == {"Ref": "AWS::NoValue"}):
                problems.append(f"{path}: {where} is {sorted(node)[0]}")
    assert problems == []


def test_only_run_time_parameters_remain_and_every_config_value_is_written_in(rendered):
    config_names = set(parameters.VALUES)
    problems = []
    for path, template in _templates(rendered):
        extra = set(template.get("Parameters", {})) - set(parameters.RUN_TIME)
        if extra:
            problems.append(f"{path}: parameters {sorted(extra)} are not decided at run time")
        for where, node in walk(template):
            if not isinstance(node, dict):
                continue
            if node.get("Ref") in config_names:
                problems.append(f"{path}: {where} refers to {node['Ref']}")
            sub = node.get("Fn::Sub")
            text = sub if isinstance(sub, str) else sub[0] if isinstance(sub, list) else ""
            left = config_names & set(_SUB_NAME.findall(text))
            if left:
                problems.append(f"{path}: {where} still substitutes {sorted(left)}")
    assert problems == []


def test_the_configuration_files_hold_only_run_time_placeholders(rendered):
    for path, template in _templates(rendered):
        configuration = load(rendered[path.replace(".yaml", ".json")])
        assert set(configuration["Parameters"]) == set(template.get("Parameters", {})), path


def _with_envs(project, environments: dict):
    return dataclasses.replace(project, environments=environments)


def test_adding_an_env_leaves_every_other_envs_files_as_they_were(project, rendered):
    first = next(iter(project.environments.values()))
    added = absent_env(list(project.environments))
    copy = dataclasses.replace(first, name=added)
    after = render.render(_with_envs(project, {**project.environments, added: copy}))
    assert {path: text for path, text in after.items() if not path.startswith(f"{added}/")} == rendered
    assert any(path.startswith(f"{added}/") for path in after)


def test_removing_an_env_leaves_every_other_envs_files_as_they_were(project, rendered):
    dropped, *kept = project.environments
    after = render.render(_with_envs(project, {name: project.environments[name] for name in kept}))
    assert after == {path: text for path, text in rendered.items() if not path.startswith(f"{dropped}/")}


def test_rendering_one_env_writes_only_its_files(project, tmp_path):
    env = next(iter(project.environments))
    assert generate.main(["--env", env, "--out", str(tmp_path)]) == 0
    written = {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {env}
