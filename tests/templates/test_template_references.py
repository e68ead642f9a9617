"""Every reference in every template resolves when CloudFormation creates the stacks in deployment order.

The notifications key policy once imported `${IamStackName}-NotificationsDeployRoleArn` after the deploy
roles had moved to their own stack: CreateStack would fail with "No export named …". These checks walk
each env's templates whole (policies, environment variables), not only Outputs.
"""
from __future__ import annotations

import pytest

from infra.config import names as names_mod
from infra.stacks import BUILDERS
from tests.support.template_references import import_problems, reference_problems

ORDER = list(BUILDERS)


def test_every_import_anywhere_resolves_to_an_export_of_a_stack_deployed_earlier(rendered, project):
    problems = [p for env in project.environments for p in import_problems(rendered, project, env, ORDER)]
    assert not problems, "\n".join(problems)


@pytest.mark.every_env_stack
def test_every_ref_sub_getatt_and_condition_names_something_the_template_declares(rendered, env, stack):
    problems = reference_problems(rendered[f"{env}/{stack}.yaml"], f"{env}/{stack}.yaml")
    assert not problems, "\n".join(problems)


@pytest.mark.every_env
def test_an_import_nested_in_a_key_policy_from_the_wrong_stack_is_named_with_the_export_it_meant(rendered, project, env):
    """The defect as it shipped: the deploy role's ARN imported from a stack (iam) that does not export it."""
    n = names_mod.for_env(project, env)
    good = f"{n.stack('deploy-roles')}-NotificationsDeployRoleArn"
    path = f"{env}/messaging.yaml"
    assert good in rendered[path], "the notifications key policy no longer imports the deploy role"
    broken = {**rendered, path: rendered[path].replace(good, f"{n.stack('iam')}-NotificationsDeployRoleArn")}
    problems = import_problems(broken, project, env, ORDER)
    assert problems  # one per key-policy statement that names the deploy role
    for problem in problems:
        assert problem.startswith(f"env {env}: messaging.yaml Resources.NotificationsKey.Properties.KeyPolicy.Statement")
        assert "no stack exports it" in problem and "deploy-roles.yaml exports" in problem


@pytest.mark.every_env
def test_an_import_of_an_export_made_by_a_later_stack_is_refused(rendered, project, env):
    later = f"{names_mod.for_env(project, env).stack('pipeline')}-ArtifactBucketName"
    assert later in rendered[f"{env}/notifications.yaml"]
    order = [key for key in ORDER if key != "notifications"]
    order.insert(order.index("pipeline"), "notifications")  # notifications before its exporter
    problems = import_problems(rendered, project, env, order)
    assert problems and all("only pipeline.yaml makes it, and it deploys later" in p for p in problems)


@pytest.mark.parametrize("bad,what", [
    ("!Ref NoSuchParameter", "Ref to 'NoSuchParameter'"),
    ("!Sub '${NoSuchParameter}-x'", "Fn::Sub variable 'NoSuchParameter'"),
    ("!GetAtt NoSuchResource.Arn", "Fn::GetAtt of 'NoSuchResource'"),
])
def test_an_undeclared_name_is_reported_with_where_it_is_used(bad, what):
    text = (
        "Parameters:\n  Known:\n    Type: String\n"
        "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
        f"    Properties:\n      TopicName: {bad}\n"
    )
    assert reference_problems(text, "t.yaml") == [f"t.yaml Resources.Topic.Properties.TopicName: {what} is not declared"]


def test_declared_names_literals_and_sub_locals_are_not_reported():
    text = (
        "Parameters:\n  Known:\n    Type: String\n"
        "Conditions:\n  IsDev: !Equals [!Ref Known, dev]\n"
        "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Condition: IsDev\n"
        "    Properties:\n      TopicName: !Sub ['${Known}-${Local}-${!Literal}-${AWS::Region}-${Topic.TopicName}', {Local: x}]\n"
        "      DisplayName: !If [IsDev, !Ref 'AWS::NoValue', !GetAtt Topic.TopicName]\n"
    )
    assert reference_problems(text, "t.yaml") == []
