"""deployment.models_from (docs/promotion.md): a valid pair loads; each way a pair cannot work is one line naming the
file and key. The pair is built from the fixture config's envs (the first gives, the last serves), not from its values."""
from __future__ import annotations

import shutil

import pytest
import yaml

from infra import config
from infra.config import ConfigError
from infra.config.names import for_env
from tests.conftest import FIXTURE_CONFIG

ENVS = yaml.safe_load((FIXTURE_CONFIG / "project.yaml").read_text())["environments"]
SOURCE, TAKER = ENVS[0], ENVS[-1]
ACCOUNTS = {SOURCE: "999999999999", TAKER: "123456789012"}


def _edit(cfg, env, change):
    path = cfg / f"{env}.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def pair(tmp_path):
    """A copy of the fixture config where TAKER serves SOURCE's approved versions from another account."""
    cfg = tmp_path / "config"
    shutil.copytree(FIXTURE_CONFIG, cfg)
    region = yaml.safe_load((cfg / f"{TAKER}.yaml").read_text())["region"]

    def pinned(env):
        def change(data):
            data["account_id"] = ACCOUNTS[env]
            data["region"] = region
            data.pop("source")
            data["source"] = {"type": "codecommit", "repository": "variant-repository", "branch": "main"}
            data.setdefault("sagemaker", {})["approvers"] = [f"arn:aws:iam::{ACCOUNTS[env]}:role/approver"]
            data.setdefault("operations", {})["release_approval"] = True
        return change

    _edit(cfg, SOURCE, pinned(SOURCE))
    _edit(cfg, TAKER, pinned(TAKER))
    _edit(cfg, TAKER, lambda d: d.setdefault("deployment", {}).update(models_from=SOURCE))
    return cfg


@pytest.mark.skipif(SOURCE == TAKER, reason="the fixture config has one env")
def test_a_valid_pair_loads_and_each_side_names_the_other(pair):
    project = config.load(pair)
    taker = for_env(project, TAKER)
    assert taker.models_source.env_name == SOURCE
    assert for_env(project, SOURCE).models_taker.env_name == TAKER
    # make deploy of the serving env alone still knows whose registry it serves from
    alone = config.load(pair, only_env=TAKER)
    assert set(alone.environments) == {TAKER, SOURCE}


def _set(key, value):
    def change(data):
        node = data
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return change


CASES = [
    ("itself", TAKER, _set("deployment.models_from", TAKER), TAKER, "deployment.models_from", "not another env"),
    ("unknown", TAKER, _set("deployment.models_from", "nowhere"), TAKER, "deployment.models_from", "not another env"),
    # Approvers need the account pinned too: whichever check speaks first, it names the file and account_id.
    ("source_unpinned", SOURCE, _set("account_id", None), SOURCE, "", "account_id"),
    ("taker_unpinned", TAKER, _set("account_id", None), TAKER, "", "account_id"),
    ("same_account", SOURCE, _set("account_id", ACCOUNTS[TAKER]), TAKER, "deployment.models_from", "another account"),
    ("other_region", SOURCE, _set("region", "us-east-1"), TAKER, "deployment.models_from", "region"),
    ("source_without_release_approval", SOURCE, _set("operations.release_approval", False), SOURCE,
     "operations.release_approval", "a person approves each release"),
    ("source_without_approvers", SOURCE, _set("sagemaker.approvers", []), SOURCE, "sagemaker.approvers", "approve"),
    ("source_serves_another", SOURCE, _set("deployment", {"models_from": TAKER}), SOURCE, "deployment.models_from",
     "name the env that builds them"),
]


@pytest.mark.skipif(SOURCE == TAKER, reason="the fixture config has one env")
@pytest.mark.parametrize("edit_env,change,file_env,key,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_pair_that_cannot_work_is_one_line_naming_file_and_key(pair, edit_env, change, file_env, key, fragment):
    _edit(pair, edit_env, change)
    if edit_env == SOURCE and change is CASES[4][2]:  # the source's approvers follow it into the other account
        _edit(pair, SOURCE, _set("sagemaker.approvers", [f"arn:aws:iam::{ACCOUNTS[TAKER]}:role/approver"]))
    with pytest.raises(ConfigError) as caught:
        config.load(pair)
    line = str(caught.value)
    assert "\n" not in line
    assert line.split(": ")[0].endswith(f"/{file_env}.yaml"), line
    assert key in line and fragment in line, line
