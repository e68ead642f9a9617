"""No resource policy names, as its Principal, a role created in the same template.

KMS (and SNS, SQS, S3) refuse a policy whose principal does not exist or is not yet visible to them,
and a role created seconds earlier in the same stack may not be: CreateKey fails with
MalformedPolicyDocumentException, which CloudFormation does not retry, and a first create lands in
ROLLBACK_COMPLETE. Roles made in the same stack are named in conditions (aws:PrincipalArn) instead.
"""
from __future__ import annotations

import pytest

from infra.stacks import BUILDERS
from tests.support.cfn import as_list, load, policies, statements
from tests.support.resolve import walk

RESOURCE_POLICIES = {"AWS::KMS::Key", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy"}


def same_stack_principal_problems(template_text: str, label: str) -> list[str]:
    template = load(template_text)
    roles = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    # Concrete templates write role names in: an ARN text ending in a same-stack role's path and name names it too.
    arn_ends = {f":role{r['Properties'].get('Path', '/')}{r['Properties']['RoleName']}": k for k, r in template["Resources"].items()
                if k in roles and isinstance(r["Properties"].get("RoleName"), str) and isinstance(r["Properties"].get("Path", "/"), str)}
    problems = []
    for logical_id, rtype, _prop, document in policies(template):
        if rtype not in RESOURCE_POLICIES:
            continue
        for statement in statements(document):
            principal = statement.get("Principal")
            if not isinstance(principal, dict):
                continue
            for value in as_list(principal.get("AWS", [])):
                for _, node in walk(value):
                    named = None
                    if isinstance(node, dict) and "Fn::GetAtt" in node:
                        target = node["Fn::GetAtt"]
                        named = target[0] if isinstance(target, list) else target.split(".")[0]
                    elif isinstance(node, dict) and isinstance(node.get("Ref"), str):
                        named = node["Ref"]
                    elif isinstance(node, str):  # plain, or the text of a Sub
                        named = next((k for end, k in arn_ends.items() if node.endswith(end)), None)
                    if named in roles:
                        problems.append(f"{label} {logical_id} {statement.get('Sid')}: names {named}, a role this stack "
                                        "creates, as a principal")
    return problems


@pytest.mark.parametrize("stack", list(BUILDERS))
def test_resource_policies_name_no_role_of_their_own_stack_as_principal(envs, stack):
    problems = [p for env in envs if env.renders(stack) for p in same_stack_principal_problems(env.text(stack), f"{env.label}/{stack}.yaml")]
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_key_policy_naming_a_new_role():
    text = (
        "Resources:\n  NotifierRole:\n    Type: AWS::IAM::Role\n    Properties: {AssumeRolePolicyDocument: {}}\n"
        "  Key:\n    Type: AWS::KMS::Key\n    Properties:\n      KeyPolicy:\n        Statement:\n"
        "        - {Sid: NotifierUses, Effect: Allow, Principal: {AWS: [!GetAtt NotifierRole.Arn]}, Action: ['kms:Decrypt'], Resource: '*'}\n"
    )
    assert same_stack_principal_problems(text, "t.yaml") == [
        "t.yaml Key NotifierUses: names NotifierRole, a role this stack creates, as a principal"]


def test_the_check_catches_a_key_policy_naming_a_new_role_by_its_written_in_arn():
    text = (
        "Resources:\n  NotifierRole:\n    Type: AWS::IAM::Role\n"
        "    Properties: {AssumeRolePolicyDocument: {}, Path: /p/, RoleName: p-dev-notifier}\n"
        "  Key:\n    Type: AWS::KMS::Key\n    Properties:\n      KeyPolicy:\n        Statement:\n"
        "        - {Sid: NotifierUses, Effect: Allow, Principal: {AWS: [!Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/p/p-dev-notifier']},"
        " Action: ['kms:Decrypt'], Resource: '*'}\n"
    )
    assert same_stack_principal_problems(text, "t.yaml") == [
        "t.yaml Key NotifierUses: names NotifierRole, a role this stack creates, as a principal"]
