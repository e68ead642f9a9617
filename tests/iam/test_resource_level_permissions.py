"""Every action is granted on resources IAM can scope it to; one without resource types only on "*".

An action whose Service Authorization Reference entry lists no resource type is authorised against "*":
granting it on an ARN grants nothing, and the call is denied at deploy time (the KPI deploy role once held
glue:CreateCrawler on its crawler's ARN). The action data is the table cfn-lint ships, offline.
"""
from __future__ import annotations

import pytest

from infra.stacks import BUILDERS
from tests.support.cfn import as_list, load, policies, statements, text_of
from tests.support.iam_actions import resource_types


def scoping_problems(template_text: str, label: str) -> list[str]:
    problems = []
    for logical_id, _rtype, prop, document in policies(load(template_text)):
        if prop == "AssumeRolePolicyDocument":
            continue
        for statement in statements(document):
            if statement.get("Effect") != "Allow" or "Principal" in statement:
                continue  # resource policies name their own resource
            resources = [text_of(r) for r in as_list(statement.get("Resource", []))]
            if "*" in resources:
                continue
            for action in as_list(statement.get("Action", [])):
                types = resource_types(action)
                if types is None:
                    problems.append(f"{label} {logical_id} {statement.get('Sid')}: {action} is not an IAM action")
                elif not types:
                    problems.append(f"{label} {logical_id} {statement.get('Sid')}: {action} has no resource-level "
                                    f"permission, so it needs Resource \"*\" (granted on {resources[0]})")
    return problems


@pytest.mark.parametrize("stack", list(BUILDERS))
def test_actions_without_resource_level_permissions_are_granted_on_star(envs, stack):
    problems = [p for env in envs if env.renders(stack) for p in scoping_problems(env.text(stack), f"{env.label}/{stack}.yaml")]
    assert not problems, "\n".join(problems)


def test_the_check_catches_create_crawler_scoped_to_a_crawler():
    text = (
        "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {}\n"
        "      Policies:\n      - PolicyName: p\n        PolicyDocument:\n          Statement:\n"
        "          - {Sid: GlueCrawler, Effect: Allow, Action: ['glue:CreateCrawler', 'glue:GetCrawler'],"
        " Resource: ['arn:aws:glue:eu-west-1:123456789012:crawler/c']}\n"
    )
    assert scoping_problems(text, "t.yaml") == [
        't.yaml R GlueCrawler: glue:CreateCrawler has no resource-level permission, so it needs Resource "*" '
        "(granted on arn:aws:glue:eu-west-1:123456789012:crawler/c)"]
