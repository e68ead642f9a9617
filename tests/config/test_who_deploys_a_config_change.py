"""Which config changes need an administrator, and which of them an administrator's CloudFormation role.

docs/operations.md tells operators, per config key, how a change reaches AWS: a push (the delivery pipeline deploys
it with each stack's deploy role), `make deploy` (an administrator-only stack), or `make deploy CFN_ROLE_ARN=…`
(the pipeline stack's resource policies and subscriptions, which its deploy role may not write:
tests/iam/test_push_cannot_write_resource_policies.py). Here each key of that table is changed in a copy of the fixture
config, both configs are rendered and evaluated for the env, and the stacks and resources that differ say which
way it really takes; the page must say the same.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from infra import config
from infra.config.names import BOOTSTRAP_ONLY_STACKS
from infra.output import render
from infra.stacks import BUILDERS
from tests.conftest import FIXTURE_CONFIG
from tests.support.resolve import resolve_all
from tests.support.serving_config import serve

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
PUSH, ADMIN, ADMIN_ROLE = "a push", "make deploy", "make deploy CFN_ROLE_ARN"
# Resources of the pipeline stack whose change writes a resource policy or a subscription, or (the bucket) what keeps
# its data: its deploy role may not (tests/iam/test_push_cannot_change_bucket_settings.py). None: any change.
POLICY_HOLDERS = {"AWS::KMS::Key": ("KeyPolicy",), "AWS::SageMaker::ModelPackageGroup": ("ModelPackageGroupPolicy",), "AWS::S3::BucketPolicy": None, "AWS::SNS::TopicPolicy": None,
                  "AWS::SNS::Subscription": None, "AWS::SQS::QueuePolicy": None,
                  "AWS::Chatbot::SlackChannelConfiguration": None, "AWS::Chatbot::MicrosoftTeamsChannelConfiguration": None,
                  "AWS::S3::Bucket": ("BucketName", "LifecycleConfiguration", "VersioningConfiguration", "BucketEncryption",
                                      "PublicAccessBlockConfiguration", "OwnershipControls", "NotificationConfiguration",
                                      "LoggingConfiguration")}
ACCOUNT = "222222222222"


def _add(section: str, key: str, value: str):
    def edit(env: dict) -> None:
        env.setdefault(section, {}).setdefault(key, []).append(value)
    return edit


def _set(key: str, value):
    def edit(env: dict) -> None:
        env[key] = value
    return edit


# (docs row, env of the fixture config, edit): the fixture's dev has no operations.emails, prod has its own.
CHANGES = {
    "notifications.emails": [("dev", _add("notifications", "emails", "new-person@example.org")),
                             ("prod", _add("notifications", "emails", "new-person@example.org"))],
    "operations.emails": [("prod", _add("operations", "emails", "new-oncall@example.org"))],
    "notifications.chat": [("dev", lambda env: env["notifications"].update(chat={"slack": {"workspace_id": "T0NEW", "channel_id": "C0NEW"}}))],
    "sagemaker.data_uploaders": [("prod", _add("sagemaker", "data_uploaders", f"arn:aws:iam::{ACCOUNT}:role/uploader"))],
    "sagemaker.approvers": [("prod", _add("sagemaker", "approvers", f"arn:aws:iam::{ACCOUNT}:role/approver"))],
    "kpi.analyst_principals": [("prod", _add("kpi", "analyst_principals", f"arn:aws:iam::{ACCOUNT}:role/analyst"))],
    "sagemaker.sample_data": [("prod", lambda env: env["sagemaker"].update(sample_data=not env["sagemaker"].get("sample_data", True)))],
    "notifications.statuses": [("prod", lambda env: env["notifications"].update(statuses=["Approved"]))],
    "kpi.quicksight_principals": [("prod", _add("kpi", "quicksight_principals", f"arn:aws:quicksight:eu-west-1:{ACCOUNT}:group/default/ml"))],
    "log_retention_days": [("prod", _set("log_retention_days", 90))],
    "tags": [("prod", lambda env: env.setdefault("tags", {}).update({"cost-centre": "ml-42"}))],
    "deployment": [("dev", lambda env: _serve(env)), ("prod", lambda env: _serve(env))],
}


# What a key's change needs in place before it (in both configs compared): QuickSight queries as an analyst role.
PREREQUISITES = {"kpi.quicksight_principals": _add("kpi", "analyst_principals", f"arn:aws:iam::{ACCOUNT}:role/quicksight")}


def _serve(env: dict) -> None:
    """The env starts serving models: a deployment block (defaults), which needs release approval and approvers."""
    serve(env)


def _evaluated(cfg: Path, env: str) -> tuple[dict, dict]:
    project = config.load(cfg)
    rendered = render.render(project)
    stacks = resolve_all(rendered, project, env, list(BUILDERS))
    tags = {stack: json.loads(rendered[f"{env}/{stack}.json"]).get("Tags") for stack in stacks}
    return {key: s.resources() for key, s in stacks.items()}, tags


def ways(before: tuple[dict, dict], after: tuple[dict, dict]) -> set[str]:
    """How the change between two evaluated configs reaches AWS."""
    found = set()
    for stack in BUILDERS:
        old, new = before[0].get(stack, {}), after[0].get(stack, {})  # {}: the env does not render the stack
        changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
        if not changed and before[1].get(stack) == after[1].get(stack):
            continue
        if stack in BOOTSTRAP_ONLY_STACKS:
            found.add(ADMIN)
            continue
        found.add(PUSH)
        for k in changed:
            res = new.get(k) or old[k]
            props = POLICY_HOLDERS.get(res["Type"], ())
            if props is None or any(old.get(k, {}).get("Properties", {}).get(p) != new.get(k, {}).get("Properties", {}).get(p)
                                    for p in props):
                found.add(ADMIN_ROLE)
    return found


def _rows() -> dict[str, str]:
    """The doc table: `key` -> how its change is deployed (the last cell)."""
    text = OPERATIONS.read_text(encoding="utf-8")
    section = text.split("### Which config changes need it", 1)[1].split("\n#", 1)[0]
    return {m[1]: m[2] for m in re.finditer(r"^\| `([\w.]+)`[^|]*\|.*\| ([^|]+) \|$", section, re.MULTILINE)}


@pytest.mark.parametrize("key", list(CHANGES))
def test_the_docs_say_how_a_change_of_each_key_is_deployed(key, tmp_path):
    row = _rows().get(key)
    assert row, f"docs/operations.md: no row for `{key}` under 'Which config changes need it'"
    for env, edit in CHANGES[key]:
        cfg = Path(shutil.copytree(FIXTURE_CONFIG, tmp_path / f"{env}-config"))
        data = yaml.safe_load((cfg / f"{env}.yaml").read_text())
        data["account_id"] = data["source"]["connection_arn"].split(":")[4]  # naming principals needs it
        PREREQUISITES.get(key, lambda env: None)(data)
        (cfg / f"{env}.yaml").write_text(yaml.safe_dump(data))
        before = _evaluated(cfg, env)
        edit(data)
        (cfg / f"{env}.yaml").write_text(yaml.safe_dump(data))
        found = ways(before, _evaluated(cfg, env))
        assert found, f"{key}: the edit changed nothing"
        if ADMIN_ROLE in found:
            assert "CFN_ROLE_ARN" in row, (key, env, found, row)
        elif "CFN_ROLE_ARN" in row:
            assert "unset" in row, (key, env, found, row)  # needed only where operations.emails is unset
        assert ("make deploy" in row) == bool(found & {ADMIN, ADMIN_ROLE}), (key, env, found, row)
        if found == {PUSH}:
            assert row == PUSH, (key, env, found, row)

def test_the_classification_sees_a_subscription_a_key_policy_and_a_bucket_setting():
    sub = {"S": {"Type": "AWS::SNS::Subscription", "Properties": {"Endpoint": "a@example.org"}}}
    key = {"K": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": []}, "Description": "k"}}}
    key2 = {"K": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [1]}, "Description": "k"}}}
    described = {"K": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": []}, "Description": "other"}}}
    empty = {stack: {} for stack in BUILDERS}
    tags = {stack: None for stack in BUILDERS}
    assert ways(({**empty}, tags), ({**empty, "pipeline": sub}, tags)) == {PUSH, ADMIN_ROLE}
    assert ways(({**empty, "pipeline": key}, tags), ({**empty, "pipeline": key2}, tags)) == {PUSH, ADMIN_ROLE}
    assert ways(({**empty, "pipeline": key}, tags), ({**empty, "pipeline": described}, tags)) == {PUSH}
    assert ways(({**empty}, tags), ({**empty, "messaging": sub}, tags)) == {ADMIN}
    bucket = {"B": {"Type": "AWS::S3::Bucket", "Properties": {"LifecycleConfiguration": {"Rules": []}, "Tags": []}}}
    expiring = {"B": {"Type": "AWS::S3::Bucket", "Properties": {"LifecycleConfiguration": {"Rules": [1]}, "Tags": []}}}
    tagged = {"B": {"Type": "AWS::S3::Bucket", "Properties": {"LifecycleConfiguration": {"Rules": []}, "Tags": [1]}}}
    assert ways(({**empty, "pipeline": bucket}, tags), ({**empty, "pipeline": expiring}, tags)) == {PUSH, ADMIN_ROLE}
    assert ways(({**empty, "pipeline": bucket}, tags), ({**empty, "pipeline": tagged}, tags)) == {PUSH}


def test_make_deploy_points_to_the_section_that_says_how_to_create_the_role():
    from infra.ops import deploy

    path, anchor = deploy.ADMIN_ROLE_DOC.split("#")
    text = (OPERATIONS.parents[1] / path).read_text(encoding="utf-8")
    slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    assert anchor in slugs


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_turning_serving_on_takes_an_administrator(env, tmp_path):
    """No push alone can start serving: the roles and grants serving needs are in administrator-only stacks, which an
    env renders only once its config has a `deployment` block (tests/iam/test_serving_only_where_config_serves.py)."""
    cfg = Path(shutil.copytree(FIXTURE_CONFIG, tmp_path / "config"))
    data = yaml.safe_load((cfg / f"{env}.yaml").read_text())
    assert "deployment" not in data, "the fixture env already serves models"
    before = _evaluated(cfg, env)
    _serve(data)
    (cfg / f"{env}.yaml").write_text(yaml.safe_dump(data))
    after = _evaluated(cfg, env)
    assert "serving-iam" not in before[0] and "serving-iam" in after[0]
    for stack in ("boundaries", "iam", "messaging"):
        assert before[0][stack] != after[0][stack], f"{stack}: unchanged by turning serving on"
    assert ADMIN in ways(before, after)
