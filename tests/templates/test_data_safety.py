"""What holds data survives: Retain on stateful resources, stack policies, fixed identities, sizes."""
from __future__ import annotations

import json

import pytest

from infra import stacks
from infra.config import names as names_mod
from infra.output import render, size_limits
from infra.stacks import BUILDERS
from tests.support.cfn import load

# Resource types that hold data or protect it; every one must be retained.
STATEFUL_TYPES = {"AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SageMaker::ModelPackageGroup", "AWS::SQS::Queue"}
INLINE_TEMPLATE_LIMIT = size_limits.TEMPLATE_BODY_LIMIT  # bytes: CloudFormation's TemplateBody limit


def _template(rendered, env, stack):
    return load(rendered[f"{env}/{stack}.yaml"])


def _resources(rendered, env, stack):
    return {k: v for k, v in load(rendered[f"{env}/{stack}.yaml"]).get("Resources", {}).items() if isinstance(v, dict)}


@pytest.mark.every_env_stack
def test_stateful_resources_are_retained_on_delete_and_replace(rendered, env, stack):
    for logical_id, res in _resources(rendered, env, stack).items():
        if res["Type"] in STATEFUL_TYPES:
            # RetainExceptOnCreate: retained for good, yet a failed first create leaves no orphan behind.
            assert res.get("DeletionPolicy") == "RetainExceptOnCreate", f"{env}/{stack}.yaml {logical_id} ({res['Type']}) is not retained on delete"
            assert res.get("UpdateReplacePolicy") == "Retain", f"{env}/{stack}.yaml {logical_id} lacks UpdateReplacePolicy: Retain"


@pytest.mark.every_env_stack
def test_every_template_fits_cloudformations_inline_limit(rendered, env, stack):
    size = size_limits.sent_size(stack, rendered[f"{env}/{stack}.yaml"])  # compact JSON where only make deploy sends it
    assert size <= INLINE_TEMPLATE_LIMIT, f"templates/{env}/{stack}.yaml is {size} bytes as sent; CloudFormation takes {INLINE_TEMPLATE_LIMIT} inline"


@pytest.mark.every_env
def test_self_update_cannot_replace_or_drop_the_artifact_bucket_key_or_registry(rendered, env):
    resources = _resources(rendered, env, "pipeline")
    # Fixed logical IDs: renaming one would replace the resource.
    assert resources["ArtifactBucket"]["Type"] == "AWS::S3::Bucket"
    assert resources["ArtifactKey"]["Type"] == "AWS::KMS::Key"
    assert resources["ModelPackageGroup"]["Type"] == "AWS::SageMaker::ModelPackageGroup"
    policy = render.stack_policy(_template(rendered, env, "pipeline"))
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert set(deny["Action"]) == {"Update:Replace", "Update:Delete"}
    assert {"LogicalResourceId/ArtifactBucket", "LogicalResourceId/ArtifactKey", "LogicalResourceId/ModelPackageGroup"} <= set(deny["Resource"])


@pytest.mark.every_env_stack
def test_stack_policy_protects_exactly_what_the_template_retains(rendered, env, stack):
    retained = {f"LogicalResourceId/{k}" for k, v in _resources(rendered, env, stack).items()
                if v.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")}
    policy = render.stack_policy(_template(rendered, env, stack))
    if not retained:
        assert policy is None
        return
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert set(deny["Resource"]) == retained


class FakeCloudFormation:
    """Records the calls `make deploy` makes for a stack that does not exist yet."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, kwargs or {"args": args}))
            if name == "describe_stacks":
                from botocore.exceptions import ClientError

                raise ClientError({"Error": {"Code": "ValidationError", "Message": "Stack does not exist"}}, name)
            if name == "describe_change_set":
                return {"Status": "CREATE_COMPLETE", "Changes": []}
            if name == "get_paginator":
                return type("Paginator", (), {"paginate": lambda self, **kw: [{"StackEvents": []}]})()
            return {}

        return call


def test_bootstrap_turns_on_termination_protection_and_applies_the_stack_policy(project):
    """make deploy (infra/ops/deploy.py) protects what it creates, the same way the pipeline does."""
    from infra.ops import deploy
    from infra.config import names
    from tests.conftest import CONFIGURED_ENVS, ROOT

    env = CONFIGURED_ENVS[0]
    stack = names.for_env(project, env).stack("pipeline")
    cfn = FakeCloudFormation()
    body, params, tags = deploy.stack_inputs(ROOT / "templates", "pipeline", env)
    deploy.deploy_stack(cfn, stack, "pipeline", body, params, tags)
    deploy.apply_stack_policy(cfn, stack, ROOT / "templates" / env / "pipeline.yaml")
    made = dict(cfn.calls)
    assert made["create_change_set"]["ChangeSetType"] == "CREATE"
    assert made["update_termination_protection"] == {"StackName": stack, "EnableTerminationProtection": True}
    policy = json.loads(made["set_stack_policy"]["StackPolicyBody"])
    assert "LogicalResourceId/ArtifactBucket" in policy["Statement"][1]["Resource"]


@pytest.mark.every_env
def test_log_retention_comes_from_config(rendered, project, env):
    """Each env's log groups keep logs as long as its own config says (written in: envs differ)."""
    days = project.env(env).log_retention_days
    groups = 0
    for stack in stacks.of_env(project.env(env)):
        for logical_id, res in _resources(rendered, env, stack).items():
            if res["Type"] == "AWS::Logs::LogGroup":
                groups += 1
                assert res["Properties"]["RetentionInDays"] == days, f"{env}/{stack}.yaml {logical_id}"
    assert groups, f"{env}: no log group found: the check would pass on nothing"
    n = names_mod.for_env(project, env)
    assert json.loads(rendered[f"{env}/iam.json"])["Tags"]["environment"] == n.env_name
