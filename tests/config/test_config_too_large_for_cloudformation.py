"""Any config the schema accepts renders every template within CloudFormation's size limit, or is refused in one line.

The schema caps each env's lists; the templates are shared by every env, so what several envs list together can
outgrow the 51,200 bytes CloudFormation takes (infra/output/size_limits.py). Here configs at the schema's limits
(every list key at its maxItems, short or maximum-length values, envs sharing addresses or each with their own, one
to five envs) either render with every template under the limit, or generate.py refuses them with one line that
names a config file, the key and the limit.
"""
from __future__ import annotations

import contextlib
import copy
import io
import re
import shutil
import tempfile
from pathlib import Path

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


LIMIT_LINE = re.compile(rf"^error: (?P<file>\S+): (?P<key>[\w.]+)[^:]*: .*over CloudFormation's {size_limits.TEMPLATE_BODY_LIMIT:,}-byte template limit")


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
        assert (Path(refused["file"]).name in {f"{e}.yaml" for e in project.environments} | {"project.yaml"}), err
        assert refused["key"] in {"notifications.emails", "operations.emails", "environments"}, err


def test_the_reported_case_is_refused_naming_the_key_and_the_limit(tmp_path, capsys):
    """Two envs with twenty addresses of their own each: a 54 KB pipeline.yaml used to fail only a test's assertion."""
    cfg = _write_config(tmp_path, envs=2, long=False, shared=False)
    assert generate.main(["--config", str(cfg), "--out", str(tmp_path / "templates")]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(r"error: \S+e[01]\.yaml: (operations|notifications)\.emails: 40 addresses in all envs.*"
                        r"over CloudFormation's 51,200-byte template limit: list fewer.*\n", err), err
    assert not (tmp_path / "templates").exists()  # nothing written
