"""Any config the schema accepts renders every template within CloudFormation's size limit, or is refused in one line.

Each env has its own templates (templates/<env>/<stack>.yaml), so what an env lists grows its own templates only:
each address of `notifications.emails` is a subscription in its messaging template, each of `operations.emails` one
in its pipeline template (infra/output/size_limits.py). Here configs at the schema's limits (every list key at its
maxItems, short or maximum-length values, envs sharing addresses or each with their own, one to five envs) either
render with every template under the limit, or generate.py refuses them with one line that names the env's config
file, the key and the limit; and a template over the limit is refused naming the key that grew it.
"""
from __future__ import annotations

import contextlib
import copy
import io
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings, strategies as st

import generate
from infra import config
from infra.config import schema
from infra.output import render, size_limits
from tests.conftest import FIXTURE_CONFIG

ACCOUNT = "222222222222"
# Every list key of an env file whose values are free (not an enum), with what makes its n-th value; `long` makes
# each value as long as the schema allows (or close), where its length could matter.
VALUES = {
    ("notifications", "emails"): lambda n, tag, long: f"{'n' * (40 if long else 1)}{n}-{tag}@{'d' * (60 if long else 3)}.example.org",
    ("operations", "emails"): lambda n, tag, long: f"{'o' * (40 if long else 1)}{n}-{tag}@{'d' * (60 if long else 3)}.example.org",
    ("sagemaker", "data_uploaders"): lambda n, tag, long: f"arn:aws:iam::{ACCOUNT}:role/{'u' * (400 if long else 1)}{n}-{tag}",
    ("sagemaker", "approvers"): lambda n, tag, long: f"arn:aws:iam::{ACCOUNT}:role/{'p' * 400 + '/' if long else ''}p{n}-{tag}",
    ("operations", "dead_letter_readers"): lambda n, tag, long: f"arn:aws:iam::{ACCOUNT}:role/{'d' * (400 if long else 1)}{n}-{tag}",
    ("kpi", "analyst_principals"): lambda n, tag, long: f"arn:aws:iam::{ACCOUNT}:role/{'a' * (50 if long else 1)}{n}-{tag}",
    ("kpi", "quicksight_principals"): lambda n, tag, long: f"arn:aws:quicksight:eu-west-1:{ACCOUNT}:user/default/{'q' * (200 if long else 1)}{n}-{tag}",
}


def _list_keys(node: dict, path=()) -> dict[tuple[str, ...], dict]:
    """Every array key of the schema below `node`, by path."""
    found = {}
    for name, sub in node.get("properties", {}).items():
        if sub.get("type") == "array":
            found[path + (name,)] = sub
        elif sub.get("type") == "object":
            found.update(_list_keys(sub, path + (name,)))
    return found


ENV_LISTS = _list_keys(schema.ENVIRONMENT)


def test_every_list_key_of_an_env_file_is_filled_here():
    """A new list key in the schema must be added to VALUES (an enum list, statuses, is at most its enum's size)."""
    free = {path for path, sub in ENV_LISTS.items() if "enum" not in sub.get("items", {})}
    assert free == set(VALUES)
    assert all("maxItems" in ENV_LISTS[path] for path in VALUES)  # an unbounded list could outgrow any template


def _write_config(root: Path, envs: int, long: bool, shared: bool) -> Path:
    cfg = Path(shutil.copytree(FIXTURE_CONFIG, root / "config"))
    project = yaml.safe_load((cfg / "project.yaml").read_text())
    base = yaml.safe_load((cfg / f"{project['environments'][-1]}.yaml").read_text())
    for name in project["environments"]:
        (cfg / f"{name}.yaml").unlink()
    project["environments"] = [f"e{i}" for i in range(envs)]
    (cfg / "project.yaml").write_text(yaml.safe_dump(project))
    for i, name in enumerate(project["environments"]):
        env = copy.deepcopy(base)
        env["account_id"] = ACCOUNT
        for (section, key), make in VALUES.items():
            env.setdefault(section, {})[key] = [make(n, "all" if shared else name, long) for n in range(ENV_LISTS[(section, key)]["maxItems"])]
        env.setdefault("operations", {})["release_approval"] = True
        env.setdefault("tags", {})["environment"] = name
        (cfg / f"{name}.yaml").write_text(yaml.safe_dump(env))
    return cfg


def limit_line(limit: int = size_limits.TEMPLATE_BODY_LIMIT) -> re.Pattern:
    return re.compile(rf"^error: (?P<file>\S+): (?P<key>[\w.]+)[^:]*: .*over CloudFormation's {limit:,}-byte template limit")


LIMIT_LINE = limit_line()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envs=st.integers(1, 5), long=st.booleans(), shared=st.booleans())
@example(envs=1, long=False, shared=False)  # one env at the schema's maximum list sizes
@example(envs=2, long=False, shared=False)  # the report: two envs with 20 addresses each, a 54 KB pipeline.yaml
@example(envs=5, long=True, shared=True)
def test_a_config_at_the_schemas_limits_renders_within_the_size_limit_or_is_refused_in_one_line(envs, long, shared):
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()) as stderr:
        cfg = _write_config(Path(tmp), envs, long, shared)
        project = config.load(cfg)  # the schema and every loader check accept it
        code = generate.main(["--config", str(cfg), "--out", str(Path(tmp) / "templates")])
        err = stderr.getvalue()
        if code == 0:
            sizes = {path: len(text.encode()) for path, text in render.render(project).items() if path.endswith(".yaml")}
            assert max(sizes.values()) <= size_limits.TEMPLATE_BODY_LIMIT, sizes
            return
        assert code == 2 and err.count("\n") == 1, err
        refused = LIMIT_LINE.match(err)
        assert refused, err
        assert Path(refused["file"]).name in {f"{e}.yaml" for e in project.environments}, err  # one env's own file
        assert refused["key"] in {"notifications.emails", "operations.emails", "name"}, err


def _sizes(cfg: Path) -> dict[str, int]:
    return {path: len(text.encode()) for path, text in render.render(config.load(cfg)).items() if path.endswith(".yaml")}


def test_an_envs_addresses_grow_its_own_messaging_and_pipeline_templates_and_no_other_envs(tmp_path):
    """The report: two envs with twenty addresses of their own each made a shared 54 KB pipeline.yaml. Each env's
    addresses are now in its own templates only: cutting e0's lists to one address shrinks e0's messaging
    (notifications.emails) and pipeline (operations.emails) templates, and leaves every file of e1 as it was."""
    full = _write_config(tmp_path / "full", envs=2, long=False, shared=False)
    cut = _write_config(tmp_path / "cut", envs=2, long=False, shared=False)
    e0 = yaml.safe_load((cut / "e0.yaml").read_text())
    e0["notifications"]["emails"] = e0["notifications"]["emails"][:1]
    e0["operations"]["emails"] = e0["operations"]["emails"][:1]
    (cut / "e0.yaml").write_text(yaml.safe_dump(e0))
    before, after = render.render(config.load(full)), render.render(config.load(cut))
    assert {p: t for p, t in after.items() if p.startswith("e1/")} == {p: t for p, t in before.items() if p.startswith("e1/")}
    grown = {p for p in before if p.startswith("e0/") and p.endswith(".yaml") and before[p] != after[p]}
    assert grown == {"e0/messaging.yaml", "e0/pipeline.yaml"}
    assert all(len(after[p].encode()) < len(before[p].encode()) for p in grown)
    assert max(len(t.encode()) for p, t in before.items() if p.endswith(".yaml")) <= size_limits.TEMPLATE_BODY_LIMIT


def test_a_template_over_the_limit_is_refused_naming_the_envs_file_and_the_key_that_grew_it(fixture_project):
    """messaging grows with notifications.emails, pipeline with operations.emails (or notifications.emails where
    operations.emails is unset, which it then defaults to); any other template only with the names."""
    from infra.config import ConfigError
    from infra.stacks import BUILDERS

    limit = size_limits.TEMPLATE_BODY_LIMIT
    for env in fixture_project.environments.values():
        operations = "operations.emails" if env.operations_emails != env.emails else "notifications.emails"
        for stack in BUILDERS:
            # A YAML string whose size as sent is `size` (quoted: its compact JSON is as long as the YAML).
            sized = lambda size: '"' + "x" * (size - 2) + '"'  # noqa: E731
            size_limits.check(env, stack, sized(limit))  # at the limit: accepted
            with pytest.raises(ConfigError) as refused:
                size_limits.check(env, stack, sized(limit + 1))
            expected = {"messaging": "notifications.emails", "pipeline": operations}.get(stack, "name")
            assert refused.value.file == env.file and refused.value.key.split(" ")[0] == expected, (stack, str(refused.value))
            assert f"templates/{env.name}/{stack}.yaml {limit + 1:,} bytes" in str(refused.value)
            assert f"over CloudFormation's {limit:,}-byte template limit" in str(refused.value)
    # The fixture config has an env of each kind: one that sets operations.emails, one that leaves it unset.
    assert {e.operations_emails != e.emails for e in fixture_project.environments.values()} == {True, False}


def test_generate_refuses_a_template_over_the_limit_in_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    """The check runs inside the render: generate.py prints one line naming the env's file and writes nothing."""
    cfg = _write_config(tmp_path, envs=2, long=False, shared=False)
    limit = min(_sizes(cfg).values()) - 1  # every template is over it: the first one rendered is refused
    monkeypatch.setattr(size_limits, "TEMPLATE_BODY_LIMIT", limit)
    assert generate.main(["--config", str(cfg), "--out", str(tmp_path / "templates")]) == 2
    err = capsys.readouterr().err
    refused = limit_line(limit).match(err)
    assert refused and err.count("\n") == 1, err
    assert Path(refused["file"]).name == "e0.yaml", err
    assert not (tmp_path / "templates").exists()  # nothing written
