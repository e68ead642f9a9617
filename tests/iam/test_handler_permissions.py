"""Each deploy role holds what CloudFormation's resource handlers call for its stack's resources.

A deploy fails with AccessDenied when the role CloudFormation runs as lacks a permission the resource's
handler calls (reviews found log-group listings, Glue and Athena calls missing this way). The handlers'
permissions are published in each resource type's schema, which cfn-lint ships; every one of them is
granted to the stack's deploy role, or is in the table below with the reason it is not needed.
"""
from __future__ import annotations

import json
from pathlib import Path

import cfnlint
import pytest

from infra.stacks.deployment import ENDPOINT_DEPLOY_ROLES
from infra.stacks.pipeline import DEPLOYMENTS
from infra.iam.policies import DEPLOY_ROLE_KEY_ACTIONS
from tests.support.cfn import as_list, role_statements
from tests.support.iam_actions import resource_types

SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
HANDLERS = ("create", "read", "update", "delete")

_NO_VPC = "the functions run outside a VPC and mount no file system"
_UNSET_LAMBDA = "a function property the templates never set (capacity provider, concurrency, code signing, runtime management, layers, versions)"
_UNSET_BUCKET = "a bucket feature the artifact bucket does not use"
_UNSET_LOGS = "a log-group feature the templates never set (data protection, index, resource policy, deliveries, deletion protection)"
_KEY_POLICY = "granted by the notifications key's own policy to this deploy role (Lambda encrypts the function's environment)"

# permission -> why the deploy role does not hold it
NOT_NEEDED: dict[str, str] = {
    **{p: _NO_VPC for p in ("ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeNetworkInterfaces",
                            "elasticfilesystem:DescribeMountTargets", "s3files:ListMountTargets")},
    **{p: _UNSET_LAMBDA for p in ("lambda:AssociateRuntimeAlias", "lambda:PassCapacityProvider", "lambda:PutFunctionScalingConfig",
                                  "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency", "lambda:GetCodeSigningConfig",
                                  "lambda:PutFunctionCodeSigningConfig", "lambda:DeleteFunctionCodeSigningConfig",
                                  "lambda:PutRuntimeManagementConfig", "lambda:GetLayerVersion", "lambda:PublishVersion")},
    **{p: _KEY_POLICY for p in ("kms:CreateGrant", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")},
    **{p: _UNSET_BUCKET for p in (
        "s3:CreateBucketMetadataTableConfiguration", "s3:GetBucketMetadataTableConfiguration", "s3:DeleteBucketMetadataTableConfiguration",
        "s3:UpdateBucketMetadataAnnotationTableConfiguration", "s3:UpdateBucketMetadataInventoryTableConfiguration",
        "s3:UpdateBucketMetadataJournalTableConfiguration", "s3:PutAccelerateConfiguration", "s3:PutAnalyticsConfiguration",
        "s3:DeleteBucketAnalyticsConfiguration", "s3:PutBucketAbac", "s3:GetBucketAbac", "s3:PutBucketCORS", "s3:DeleteBucketCors",
        "s3:PutBucketObjectLockConfiguration", "s3:PutObjectLockConfiguration", "s3:PutBucketReplication", "s3:PutReplicationConfiguration",
        "s3:DeleteBucketReplication", "s3:PutBucketWebsite", "s3:DeleteBucketWebsite", "s3:PutIntelligentTieringConfiguration",
        "s3:PutInventoryConfiguration", "s3:PutMetricsConfiguration", "s3:DeleteBucketMetricsConfiguration",
        "s3:PutObjectAcl", "s3:PutBucketAcl", "s3:DeleteObject", "s3:DeleteBucketEncryption", "s3tables:CreateNamespace",
        "s3tables:CreateTable", "s3tables:CreateTableBucket", "s3tables:GetTable", "s3tables:GetTableMetadataLocation",
        "s3tables:PutTableBucketPolicy", "s3tables:PutTableEncryption", "s3tables:PutTablePolicy", "s3tables:UpdateTableMetadataLocation")},
    "s3:DeleteBucket": "the artifact bucket is retained: CloudFormation never deletes it",
    **{p: _UNSET_LOGS for p in ("firehose:TagDeliveryStream", "logs:CreateLogDelivery", "logs:PutBearerTokenAuthentication",
                                "logs:PutDataProtectionPolicy", "logs:DeleteDataProtectionPolicy", "logs:PutIndexPolicy",
                                "logs:DeleteIndexPolicy", "logs:PutResourcePolicy", "logs:DeleteResourcePolicy",
                                "logs:PutLogGroupDeletionProtection")},
    "sns:PutDataProtectionPolicy": "the topic has no data protection policy",
    **{p: "the Glue database has no connection" for p in ("glue:CreateConnection", "glue:PassConnection", "glue:GetConnection",
                                                          "glue:UpdateConnection", "glue:DeleteConnection")},
    "glue:GetSchemaVersion": "the decisions table names no schema-registry schema (SchemaReference)",
    "lakeformation:GetDataAccess": "the artifact bucket is not registered with Lake Formation: Glue vends no credentials for it",
    **{p: "the QuickSight data source is put in no folder" for p in ("quicksight:CreateFolderMembership", "quicksight:DeleteFolderMembership",
                                                                    "quicksight:ListFoldersForResource")},
    **{p: "who may use the bucket is set by an administrator's make deploy, never by a push"
       for p in ("s3:PutBucketPolicy", "s3:DeleteBucketPolicy")},
    **{p: "who may use a key, and whether it exists, stay with the account's administrators, never a push"
       for p in ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DisableKeyRotation", "kms:CancelKeyDeletion")},
    "iam:CreateServiceLinkedRole": "deploy roles never write to IAM; the Athena workgroup needs no service-linked role "
                                   "(the production endpoint's role holds it, for Application Auto Scaling's role alone)",
    **{p: "the scalable target has no scheduled actions" for p in ("application-autoscaling:PutScheduledAction",
                                                                  "application-autoscaling:DeleteScheduledAction")},
    **{p: "the scalable target is a SageMaker variant, not a Lambda function's provisioned concurrency"
       for p in ("lambda:GetProvisionedConcurrencyConfig", "lambda:PutProvisionedConcurrencyConfig",
                 "lambda:DeleteProvisionedConcurrencyConfig")},
    **{p: "who may approve (the group's policy) is set by an administrator's make deploy with CFN_ROLE_ARN, never by a "
          "push; holding this would let a template change let anyone approve, or share models with other accounts"
       for p in ("sagemaker:PutModelPackageGroupPolicy", "sagemaker:DeleteModelPackageGroupPolicy")},
}


PASS_CONNECTION = {"codestar-connections:PassConnection", "codeconnections:PassConnection"}

# (stack, permission) -> why that stack's deploy role does not hold it
NOT_NEEDED_BY: dict[tuple[str, str], str] = {
    **{("deployment", p): "the model-deployment pipeline's source is the release object in S3, never a connection"
       for p in sorted(PASS_CONNECTION)},
    # Made by an administrator's `make deploy` (the pipeline stack's bootstrap), never by a push: a key's policy comes
    # with CreateKey, and who may publish to, subscribe to or receive from the operations topic is its policy and
    # subscriptions (tests/iam/test_push_cannot_write_resource_policies.py).
    **{("pipeline", p): "the artifact key, the operations topic, its policy and subscriptions change only by make deploy"
       for p in ("kms:CreateKey", "sns:CreateTopic", "sns:DeleteTopic", "sns:SetTopicAttributes", "sns:Subscribe",
                 "sns:Unsubscribe", "sns:SetSubscriptionAttributes")},
    # The artifact bucket is made by `make deploy`, and what keeps its data changes only there, with CFN_ROLE_ARN
    # (tests/iam/test_push_cannot_change_bucket_settings.py): a push that changes one of these fails its update.
    **{("pipeline", p): "the artifact bucket and what keeps its data are set only by an administrator's make deploy"
       for p in ("s3:CreateBucket", "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock",
                 "s3:PutLifecycleConfiguration", "s3:PutBucketOwnershipControls", "s3:PutBucketNotification",
                 "s3:PutBucketLogging")},
    # Which chat channel hears the topics, and which topics it hears, change only by make deploy, as e-mails do.
    **{("pipeline", f"chatbot:{verb}{kind}ChannelConfiguration"): "the env's chat channels change only by make deploy"
       for verb in ("Create", "Update", "Delete") for kind in ("Slack", "MicrosoftTeams")},
    **{("pipeline", f"chatbot:{p}"): "no custom actions: the chat channels only hear the topics"
       for p in ("AssociateToConfiguration", "DisassociateFromConfiguration")},
    ("pipeline", "sagemaker:DeleteModelPackageGroup"):
        "the model registry is retained: deleting it is an administrator's act, never a push's",
    ("deployment", "codepipeline:StartPipelineExecution"):
        "the handler starts a pipeline only for RestartExecutionOnUpdate, which the deployment pipeline does not set",
}


def handler_permissions(resource_type: str) -> set[str]:
    providers = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    schema = json.loads((SCHEMAS / "resources" / f"{providers[resource_type]}.json").read_text())
    return {p for h in HANDLERS for p in schema.get("handlers", {}).get(h, {}).get("permissions", [])}


def granted(deploy_roles: dict, role: str) -> set[str]:
    return {a for st in role_statements({"Resources": deploy_roles}, role) if st["Effect"] == "Allow" for a in as_list(st["Action"])}


# The stacks a deploy role deploys, and that role: the delivery pipeline's (DEPLOYMENTS) and the endpoint stacks,
# which the model-deployment pipeline deploys each with its own role.
DEPLOYED = {**{stack: role_export.removesuffix("Arn") for stack, (_, _, role_export, _) in DEPLOYMENTS.items()},
            **{stack: role_export.removesuffix("Arn") for stack, role_export in ENDPOINT_DEPLOY_ROLES.items()}}


def missing_permissions(env, stack: str) -> list[str]:
    """What the env's `stack` deploy role lacks (env: a tests.support.concrete_envs.EnvRender)."""
    role = DEPLOYED[stack]
    # Deploy roles live in the deploy-roles stack, and model deployment's in the serving-iam stack.
    held = granted(env.resources("deploy-roles", "serving-iam"), role)
    problems = []
    for resource_type in sorted({r["Type"] for r in env.template(stack)["Resources"].values()}):
        # A key's own policy names its deploy role with the administration actions (tests/iam/test_key_administration.py).
        key_side = {a.JSONrepr() for a in DEPLOY_ROLE_KEY_ACTIONS} if resource_type == "AWS::KMS::Key" else set()
        # Names the IAM action table does not know (s3:DeleteBucketLifecycle is authorised as
        # s3:PutLifecycleConfiguration, s3:REST.PUT.OBJECT is a log format) cannot be granted.
        wanted = {p for p in handler_permissions(resource_type) if resource_types(p) is not None}
        exempt = set(NOT_NEEDED) | {p for (s, p) in NOT_NEEDED_BY if s == stack}
        if env.project.env(env.env).source.type != "codeconnections":
            exempt |= PASS_CONNECTION  # a pipeline whose source is no connection passes none (test_source_connection.py)
        for permission in sorted(wanted - held - key_side - exempt):
            problems.append(f"{env.label}/{stack}.yaml {resource_type}: {role} lacks {permission}")
    return problems


@pytest.mark.parametrize("stack", list(DEPLOYED))
def test_each_deploy_role_holds_what_its_resources_handlers_call(envs, stack):
    problems = [p for env in envs if env.renders(stack) for p in missing_permissions(env, stack)]
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_missing_glue_database_permission(envs):
    """The KPI deploy role as a review found it: no Lake Formation Identity Center lookup."""
    action = "lakeformation:DescribeLakeFormationIdentityCenterConfiguration"
    env = envs[0]
    assert action in env.text("deploy-roles")
    broken = env.replaced("deploy-roles", env.text("deploy-roles").replace(action, "lakeformation:ListResources"))
    assert f"{env.label}/kpi.yaml AWS::Glue::Database: KpiDeployRole lacks {action}" in missing_permissions(broken, "kpi")
