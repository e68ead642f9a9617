"""What a push-deployed stack retains, its deploy role cannot delete, whatever the stack policy says.

A stack policy stops an update from replacing or deleting a retained resource, and only `make deploy` sets one
(tests/iam/test_push_cannot_set_stack_policies.py). Whether CloudFormation also demands cloudformation:SetStackPolicy for
a policy passed in an UpdateStack call is not documented, so this does not lean on the policy alone: for each type
a stack the delivery pipeline deploys retains, its deploy role does not hold the action that destroys it. The one
accepted row says why.
"""
from __future__ import annotations

from fnmatch import fnmatchcase

from infra.stacks.pipeline import DEPLOYMENTS
from tests.support.cfn import as_list, role_statements
from tests.support.iam_actions import resource_types

# resource type -> (the action that destroys it, why a push-deployed stack's deploy role may hold it, or None)
DESTROYED_BY: dict[str, tuple[str, str | None]] = {
    "AWS::S3::Bucket": ("s3:DeleteBucket", None),
    "AWS::KMS::Key": ("kms:ScheduleKeyDeletion", None),
    "AWS::SageMaker::ModelPackageGroup": ("sagemaker:DeleteModelPackageGroup", None),
    "AWS::SQS::Queue": ("sqs:DeleteQueue", None),
    "AWS::Logs::LogGroup": ("logs:DeleteLogGroup",
                            "a function's or build's log group goes with it when a push removes it, and a push sets its "
                            "retention anyway; logs are not the data this project keeps"),
}


def _deploy_roles(env) -> dict:
    return {rid: r for stack in ("deploy-roles", "serving-iam") if env.renders(stack)
            for rid, r in env.template(stack)["Resources"].items()}


def destroyable(env) -> list[str]:
    roles, problems = _deploy_roles(env), []
    for stack, (_, _, role_export, _) in DEPLOYMENTS.items():
        if not env.renders(stack):
            continue
        role = role_export.removesuffix("Arn")
        held = [a for st in role_statements({"Resources": roles}, role) if st["Effect"] == "Allow" for a in as_list(st["Action"])]
        for logical_id, resource in env.template(stack)["Resources"].items():
            if resource.get("DeletionPolicy") not in ("Retain", "RetainExceptOnCreate"):
                continue
            if resource["Type"] not in DESTROYED_BY:
                problems.append(f"{stack} {logical_id}: {resource['Type']} is retained but has no DESTROYED_BY row")
                continue
            action, accepted = DESTROYED_BY[resource["Type"]]
            if accepted is None and any(fnmatchcase(action.lower(), granted.lower()) for granted in held):
                problems.append(f"{stack} {logical_id}: {role} may {action}")
    return problems


def test_no_push_deployed_stacks_deploy_role_may_destroy_what_it_retains(envs):
    problems = [f"{env.label}: {p}" for env in envs for p in destroyable(env)]
    assert not problems, "\n".join(problems)


def test_the_table_names_real_actions():
    assert [action for action, _ in DESTROYED_BY.values() if resource_types(action) is None] == []
