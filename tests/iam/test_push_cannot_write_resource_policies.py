"""No deploy role of a stack whose template a push controls may write who can use a resource.

The delivery pipeline deploys the pipeline, notifications, KPI and deployment stacks from the push, and the
model-deployment pipeline deploys the endpoint stacks from the release that push made. The roles CloudFormation
acts as there hold no action that writes a resource policy (or hands a resource to someone else some other way:
a subscription, an ACL, a grant): otherwise a push could let another principal, even another account, publish,
subscribe, read or invoke. What has a policy lives in the administrator-only messaging stack, or in the pipeline
stack where only `make deploy` (an administrator) may change it.

An action below is acceptable only where its condition makes it unable to widen access; `None`: never.
"""
from __future__ import annotations

import re
from fnmatch import fnmatchcase

import pytest

from infra.config.names import ENDPOINT_STACKS
from infra.stacks.deployment import ENDPOINT_DEPLOY_ROLES
from infra.stacks.pipeline import DEPLOYMENTS
from tests.support.cfn import as_list, load, role_statements
from tests.support.iam_actions import resource_types


def _condition_values(statement: dict, operator: str, key: str) -> list | None:
    block = statement.get("Condition", {}).get(operator, {})
    return as_list(block[key]) if key in block else None


def _lambda_principal_is_a_service_the_templates_use(statement: dict, services: set[str]) -> bool:
    principals = _condition_values(statement, "StringEquals", "lambda:Principal")
    return bool(principals) and set(principals) <= services


def _grant_is_for_an_aws_resource(statement: dict, _services: set[str]) -> bool:
    return _condition_values(statement, "Bool", "kms:GrantIsForAWSResource") == ["true"]


# The reviewed table: per service, each action that writes a resource policy or otherwise lets another principal
# reach the resource, and the condition under which a push-deployed stack's deploy role may hold it.
# Not here, on purpose: lambda:RemovePermission (a function policy holds only Allow statements, so removing one
# narrows). A bucket's other settings (public access block, ownership, lifecycle, notifications, logging) are held
# by tests/iam/test_push_cannot_change_bucket_settings.py.
RESOURCE_POLICY_WRITES: dict[str, object] = {
    # SNS: the topic policy (also set through CreateTopic's and SetTopicAttributes' Policy attribute); a
    # subscription delivers every message, decrypted, to its endpoint, and a subscription's redrive policy sends
    # what it could not deliver to any queue.
    **dict.fromkeys(("sns:AddPermission", "sns:RemovePermission", "sns:SetTopicAttributes", "sns:CreateTopic",
                     "sns:Subscribe", "sns:SetSubscriptionAttributes")),
    # SQS: the queue policy (also CreateQueue's and SetQueueAttributes' Policy attribute).
    **dict.fromkeys(("sqs:AddPermission", "sqs:RemovePermission", "sqs:SetQueueAttributes", "sqs:CreateQueue")),
    # Lambda: a function's resource policy; function URLs (AuthType NONE opens a function to anyone); layers.
    "lambda:AddPermission": _lambda_principal_is_a_service_the_templates_use,
    **dict.fromkeys(("lambda:PutResourcePolicy", "lambda:DeleteResourcePolicy", "lambda:CreateFunctionUrlConfig",
                     "lambda:UpdateFunctionUrlConfig", "lambda:AddLayerVersionPermission")),
    # KMS: a key policy (CreateKey and ReplicateKey take one); grants only for AWS services acting for the caller.
    **dict.fromkeys(("kms:PutKeyPolicy", "kms:CreateKey", "kms:ReplicateKey")),
    "kms:CreateGrant": _grant_is_for_an_aws_resource,
    # S3: bucket policy (deleting one drops its Deny statements too), ACLs, access points.
    **dict.fromkeys(("s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketAcl", "s3:PutObjectAcl",
                     "s3:PutObjectVersionAcl", "s3:CreateAccessPoint", "s3:PutAccessPointPolicy")),
    # EventBridge: the event bus policy. CloudWatch Logs: resource and destination policies, and subscription
    # filters (they stream a log group to any destination, another account's included).
    **dict.fromkeys(("events:PutPermission", "events:RemovePermission", "events:PutResourcePolicy",
                     "events:DeleteResourcePolicy", "logs:PutResourcePolicy", "logs:PutSubscriptionFilter",
                     "logs:DeleteResourcePolicy", "logs:PutDestinationPolicy")),
    # SageMaker: the model package group's policy (shares models with other accounts), other resource policies.
    **dict.fromkeys(("sagemaker:PutModelPackageGroupPolicy", "sagemaker:DeleteModelPackageGroupPolicy",
                     "sagemaker:PutResourcePolicy", "sagemaker:DeleteResourcePolicy", "sagemaker:PutLineageGroupPolicy")),
    # Glue, CodeBuild, ECR, Secrets Manager resource policies; IAM trust policies.
    **dict.fromkeys(("glue:PutResourcePolicy", "glue:DeleteResourcePolicy", "codebuild:PutResourcePolicy",
                     "codebuild:DeleteResourcePolicy", "ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy",
                     "secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy", "iam:UpdateAssumeRolePolicy")),
    # QuickSight: who may use the data source (CreateDataSource takes the same permissions).
    **dict.fromkeys(("quicksight:UpdateDataSourcePermissions", "quicksight:CreateDataSource")),
}

# (stack, action) -> the open risk in docs/security.md that says why it is still held. Keep this short.
OPEN: dict[tuple[str, str], str] = {
    **{("kpi", action): "QuickSight data source permissions follow kpi.quicksight_principals, which a push controls"
       for action in ("quicksight:UpdateDataSourcePermissions", "quicksight:CreateDataSource")},
}

# The deploy role of every stack a push controls: the delivery pipeline's, and the endpoint stacks' (their
# templates are the release a push made).
PUSH_DEPLOYED = {**{stack: role_export.removesuffix("Arn") for stack, (_, _, role_export, _) in DEPLOYMENTS.items()},
                 **{stack: ENDPOINT_DEPLOY_ROLES[stack].removesuffix("Arn") for stack in ENDPOINT_STACKS}}


def lambda_permission_services(templates: dict[str, str]) -> set[str]:
    """The service principals the templates' own AWS::Lambda::Permission resources let in (stack -> text)."""
    services = set()
    for name, text in templates.items():
        for resource in load(text)["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Permission":
                services.update(as_list(resource["Properties"]["Principal"]))
    return services


def policy_writes(resources: dict, stack: str, role: str, services: set[str]) -> list[str]:
    problems = []
    for statement in role_statements({"Resources": resources}, role):
        if statement["Effect"] != "Allow":
            continue
        for granted in as_list(statement["Action"]):
            for action, acceptable in sorted(RESOURCE_POLICY_WRITES.items()):
                if not fnmatchcase(action.lower(), granted.lower()) or (stack, action) in OPEN:
                    continue
                if acceptable is None or not acceptable(statement, services):
                    problems.append(f"{stack}: {role} {statement.get('Sid')} holds {action}"
                                    + ("" if acceptable is None else " without the condition that makes it safe"))
    return problems


def _roles(env) -> dict:
    """Deploy roles live in the deploy-roles stack, and model deployment's in the serving-iam stack (only where the env
    serves models)."""
    return env.resources("deploy-roles", "serving-iam")


def with_role(envs, role: str) -> list:
    """The envs that have `role` (an env that serves no models has no serving roles); some always do."""
    having = [env for env in envs if role in _roles(env)]
    assert having, f"no env or variant has {role}"
    return having


@pytest.mark.parametrize("stack", list(PUSH_DEPLOYED))
def test_no_push_deployed_stack_may_write_a_resource_policy(envs, stack):
    problems = [f"{env.label}: {p}" for env in with_role(envs, PUSH_DEPLOYED[stack])
                for p in policy_writes(_roles(env), stack, PUSH_DEPLOYED[stack], lambda_permission_services(env.texts()))]
    assert not problems, "\n".join(problems)


# Held actions whose names speak of a policy, permission, ACL or grant, reviewed as not letting anyone in.
NOT_ACCESS: dict[str, str] = {
    "logs:PutRetentionPolicy": "how long logs are kept",
    "logs:DeleteRetentionPolicy": "how long logs are kept",
    "application-autoscaling:PutScalingPolicy": "how the production variant scales",
    "application-autoscaling:DeleteScalingPolicy": "how the production variant scales",
    "lambda:RemovePermission": "a function policy holds only Allow statements: removing one narrows",
    "quicksight:PassDataSource": "uses the data source; its permissions are UpdateDataSourcePermissions",
}
_ACCESS_WORDS = re.compile(r"Polic|Permission|Acl|Grant|Subscri|Url|Share", re.IGNORECASE)
_READS = ("Get", "List", "Describe")


def unreviewed(resources: dict, role: str) -> list[str]:
    held = {a for st in role_statements({"Resources": resources}, role) if st["Effect"] == "Allow" for a in as_list(st["Action"])}
    return sorted(a for a in held if _ACCESS_WORDS.search(a.split(":", 1)[1]) and not a.split(":", 1)[1].startswith(_READS)
                  and a not in RESOURCE_POLICY_WRITES and a not in NOT_ACCESS)


@pytest.mark.parametrize("stack", list(PUSH_DEPLOYED))
def test_every_held_action_that_names_a_policy_or_permission_is_reviewed(envs, stack):
    """A new action of that kind added to a deploy role fails here until it joins one of the two tables."""
    for env in with_role(envs, PUSH_DEPLOYED[stack]):
        problems = unreviewed(_roles(env), PUSH_DEPLOYED[stack])
        assert not problems, f"{env.label}: {stack}: review {problems}: RESOURCE_POLICY_WRITES or NOT_ACCESS"


def test_the_table_names_real_actions():
    unknown = [action for action in [*RESOURCE_POLICY_WRITES, *NOT_ACCESS] if resource_types(action) is None]
    assert not unknown, f"not IAM actions: {unknown}"


def test_lambda_permissions_let_in_only_services(envs):
    for env in envs:
        services = lambda_permission_services(env.texts())
        assert services and all(s.endswith(".amazonaws.com") for s in services), (env.label, services)


def test_the_check_catches_a_topic_policy_write_and_an_open_add_permission(envs):
    """Deploy-role statements as a review found them: a topic's attributes, a queue made with any policy, and
    lambda:AddPermission for any principal; beside them what stays acceptable."""
    services = lambda_permission_services(envs[0].texts())
    held = [
        {"Sid": "Topic", "Effect": "Allow", "Action": ["sns:GetTopicAttributes", "sns:SetTopicAttributes"], "Resource": "*"},
        {"Sid": "Queues", "Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
        {"Sid": "Invoke", "Effect": "Allow", "Action": "lambda:AddPermission", "Resource": "*",
         "Condition": {"StringEquals": {"lambda:Principal": "*"}}},
        {"Sid": "Events", "Effect": "Allow", "Action": "lambda:AddPermission", "Resource": "*",
         "Condition": {"StringEquals": {"lambda:Principal": sorted(services)}}},
        {"Sid": "Grants", "Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*",
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
    ]
    role = {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": held}}]}}
    assert policy_writes({"Role": role}, "notifications", "Role", services) == [
        "notifications: Role Topic holds sns:SetTopicAttributes",
        "notifications: Role Queues holds sqs:AddPermission",
        "notifications: Role Queues holds sqs:CreateQueue",
        "notifications: Role Queues holds sqs:RemovePermission",
        "notifications: Role Queues holds sqs:SetQueueAttributes",
        "notifications: Role Invoke holds lambda:AddPermission without the condition that makes it safe",
    ]


def test_the_review_guard_catches_an_unreviewed_policy_action():
    role = {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": ["sns:PutDataProtectionPolicy", "sns:GetDataProtectionPolicy", "logs:PutRetentionPolicy"],
         "Resource": "*"}]}}]}}
    assert unreviewed({"Role": role}, "Role") == ["sns:PutDataProtectionPolicy"]
