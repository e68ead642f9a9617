"""No role a push deploys with or runs as may change what keeps a bucket's data, or who may reach it.

A lifecycle rule with an expiration deletes every object and version of a bucket; suspending versioning, changing
its default key, opening its public access block or ownership, or sending its events or access logs elsewhere
weakens or leaks what it holds. These settings of the artifact bucket (the only bucket: input data, models, run
artifacts) are made by an administrator's `make deploy` and change only there, with CFN_ROLE_ARN. So no deploy role
of a stack a push controls (pipeline, notifications, kpi, deployment, the endpoint stacks) and no role the delivery
pipeline or its builds run as holds any of them, on any bucket.
"""
from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from infra.config.names import ENDPOINT_STACKS
from infra.stacks.deployment import ENDPOINT_DEPLOY_ROLES
from infra.stacks.pipeline import DEPLOYMENTS
from tests.support.cfn import as_list, role_statements
from tests.support.iam_actions import resource_types

# action -> what it would let a push do to the bucket's data.
BUCKET_SETTINGS: dict[str, str] = {
    "s3:PutLifecycleConfiguration": "expire every object and version (also how DeleteBucketLifecycle is authorised)",
    "s3:PutBucketVersioning": "suspend versioning: an overwrite or delete then loses the data",
    "s3:PutEncryptionConfiguration": "make uploads naming no key get S3's own key, not the artifact key",
    "s3:PutBucketPublicAccessBlock": "allow a public policy or ACL",
    "s3:PutBucketOwnershipControls": "turn ACLs back on",
    "s3:PutBucketNotification": "send every object event to a topic, queue or function elsewhere",
    "s3:PutBucketLogging": "copy access logs (every key name) to another bucket",
    "s3:PutBucketPolicy": "let anyone read, write or delete",
    "s3:DeleteBucketPolicy": "drop the policy's Deny statements (TLS, keys, copies into models/)",
    "s3:PutBucketAcl": "grant another account access",
    "s3:PutReplicationConfiguration": "copy every object to another bucket",
    "s3:PutInventoryConfiguration": "list every key to another bucket",
    "s3:PutAnalyticsConfiguration": "export storage analysis to another bucket",
    "s3:PutBucketObjectLockConfiguration": "lock objects against their lifecycle and deletion",
    "s3:PutIntelligentTieringConfiguration": "archive objects out of immediate reach",
    "s3:CreateBucket": "replace the bucket: CloudFormation then sets every setting above",
}

# The deploy roles of the stacks a push controls, and the runtime roles of the delivery pipeline and its builds
# (the builds run the pushed code; the pipeline runs the pushed stages).
DEPLOY_ROLES = [*(role_export.removesuffix("Arn") for _, _, role_export, _ in DEPLOYMENTS.values()),
                *(ENDPOINT_DEPLOY_ROLES[stack].removesuffix("Arn") for stack in ENDPOINT_STACKS)]
RUNTIME_ROLES = ["CodePipelineRole", "SynthBuildRole", "UpsertBuildRole"]


def settings_held(resources: dict, role: str) -> list[str]:
    """Each bucket-setting action the role's Allow statements grant, wildcards (`s3:Put*`) included."""
    return [f"{role} {statement.get('Sid')} holds {action}"
            for statement in role_statements({"Resources": resources}, role) if statement["Effect"] == "Allow"
            for granted in as_list(statement["Action"]) for action in BUCKET_SETTINGS
            if fnmatchcase(action.lower(), granted.lower())]


def _roles(env) -> dict:
    """Deploy roles live in the deploy-roles and serving-iam stacks (only an env that serves models has serving-iam),
    runtime roles in the iam stack."""
    return {resource_id: resource for stack in ("deploy-roles", "serving-iam", "iam") if env.renders(stack)
            for resource_id, resource in env.template(stack)["Resources"].items()}


@pytest.mark.parametrize("role", DEPLOY_ROLES + RUNTIME_ROLES)
def test_no_push_deployed_or_push_run_role_may_change_a_buckets_settings(envs, role):
    problems = [f"{env.label}: {p}" for env in envs if role in _roles(env) for p in settings_held(_roles(env), role)]
    assert not problems, "\n".join(problems)


def test_every_role_named_exists(envs):
    """A renamed role would make the check above pass by finding nothing."""
    for env in envs:
        wanted = RUNTIME_ROLES + (DEPLOY_ROLES if env.renders("serving-iam") else [DEPLOY_ROLES[0]])
        missing = [r for r in wanted if r not in _roles(env)]
        assert not missing, (env.label, missing)


def test_the_table_names_real_actions():
    unknown = [action for action in BUCKET_SETTINGS if resource_types(action) is None]
    assert not unknown, f"not IAM actions: {unknown}"


def test_the_check_catches_a_lifecycle_write_and_a_wildcard():
    role = {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [
        {"Sid": "Bucket", "Effect": "Allow", "Action": ["s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration"],
         "Resource": "arn:aws:s3:::b"},
        {"Sid": "Wild", "Effect": "Allow", "Action": "s3:PutBucketP*", "Resource": "arn:aws:s3:::b"},
        {"Sid": "Denied", "Effect": "Deny", "Action": "s3:PutBucketLogging", "Resource": "*"},
        {"Sid": "Tags", "Effect": "Allow", "Action": "s3:PutBucketTagging", "Resource": "arn:aws:s3:::b"},
    ]}}]}}
    assert settings_held({"Role": role}, "Role") == [
        "Role Bucket holds s3:PutLifecycleConfiguration",
        "Role Wild holds s3:PutBucketPublicAccessBlock",
        "Role Wild holds s3:PutBucketPolicy",
    ]
