"""Every resource a template names falls inside what the role that deploys it may create, in every env.

A deploy role's statements are scoped to its env's names (`${ResourcePrefix}-*`…); a resource named outside them
(an alarm without the prefix) renders, lints and passes every other test, then fails its first deploy with
AccessDenied. The class: for every resource of every template, evaluated per env (tests/support/resolve.py), the
ARN its name gives is allowed, for the actions that create it, by each role a pipeline's CloudFormation action
deploys that stack with. The stacks no pipeline deploys are deployed by an administrator, who may do anything: there
the rule is the env's prefix, so one env's names never reach another's (a stack an env does not deploy at all, such as
the deployment stack of an env that serves no model, is held to the prefix too), and so are the resources whose
create action has no resource-level permission (a QuickSight data source, a Glue security configuration).
"""
from __future__ import annotations

import re

import pytest

from infra.config.names import Names
from infra.stacks import BUILDERS
from tests.support.cfn import as_list
from tests.support.iam_actions import resource_types
from tests.support.policy_eval import _glob
from tests.support.resolve import resolve_all

# type -> (the property holding its name, the actions that create or update it (a role needs one of them), its ARN
# from partition, region, account, name and Path). ARN forms: the Service Authorization Reference's resource types.
NAMED = {
    "AWS::Athena::WorkGroup": ("Name", ("athena:CreateWorkGroup",), "arn:{p}:athena:{r}:{a}:workgroup/{n}"),
    "AWS::CloudWatch::Alarm": ("AlarmName", ("cloudwatch:PutMetricAlarm",), "arn:{p}:cloudwatch:{r}:{a}:alarm:{n}"),
    "AWS::CloudWatch::Dashboard": ("DashboardName", ("cloudwatch:PutDashboard",), "arn:{p}:cloudwatch::{a}:dashboard/{n}"),
    "AWS::CodeBuild::Project": ("Name", ("codebuild:CreateProject",), "arn:{p}:codebuild:{r}:{a}:project/{n}"),
    "AWS::CodePipeline::Pipeline": ("Name", ("codepipeline:CreatePipeline",), "arn:{p}:codepipeline:{r}:{a}:{n}"),
    "AWS::Events::Rule": ("Name", ("events:PutRule",), "arn:{p}:events:{r}:{a}:rule/{n}"),
    # glue:CreateCrawler has no resource-level permission: its update is what the crawler's ARN scopes.
    "AWS::Glue::Crawler": ("Name", ("glue:UpdateCrawler",), "arn:{p}:glue:{r}:{a}:crawler/{n}"),
    "AWS::Glue::Database": ("DatabaseInput.Name", ("glue:CreateDatabase",), "arn:{p}:glue:{r}:{a}:database/{n}"),
    # An action with no resource-level permission (tests/support/iam_actions.py) cannot scope a name: the prefix rule applies.
    "AWS::Glue::SecurityConfiguration": ("Name", ("glue:CreateSecurityConfiguration",), ""),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName", ("iam:CreatePolicy",), "arn:{p}:iam::{a}:policy{path}{n}"),
    "AWS::IAM::Role": ("RoleName", ("iam:CreateRole",), "arn:{p}:iam::{a}:role{path}{n}"),
    "AWS::KMS::Alias": ("AliasName", ("kms:CreateAlias",), "arn:{p}:kms:{r}:{a}:{n}"),
    "AWS::Lambda::Function": ("FunctionName", ("lambda:CreateFunction",), "arn:{p}:lambda:{r}:{a}:function:{n}"),
    "AWS::Logs::LogGroup": ("LogGroupName", ("logs:CreateLogGroup",), "arn:{p}:logs:{r}:{a}:log-group:{n}:*"),
    "AWS::QuickSight::DataSource": ("DataSourceId", ("quicksight:CreateDataSource",), "arn:{p}:quicksight:{r}:{a}:datasource/{n}"),
    "AWS::S3::Bucket": ("BucketName", ("s3:CreateBucket",), "arn:{p}:s3:::{n}"),
    # The operations topic is made by the administrator's first deploy of the pipeline stack; a push only tags it.
    "AWS::SNS::Topic": ("TopicName", ("sns:CreateTopic", "sns:TagResource"), "arn:{p}:sns:{r}:{a}:{n}"),
    "AWS::SQS::Queue": ("QueueName", ("sqs:CreateQueue",), "arn:{p}:sqs:{r}:{a}:{n}"),
    # SageMaker ARNs hold the name in lower case.
    "AWS::SageMaker::Endpoint": ("EndpointName", ("sagemaker:CreateEndpoint",), "arn:{p}:sagemaker:{r}:{a}:endpoint/{lower}"),
    "AWS::SageMaker::EndpointConfig": ("EndpointConfigName", ("sagemaker:CreateEndpointConfig",), "arn:{p}:sagemaker:{r}:{a}:endpoint-config/{lower}"),
    "AWS::SageMaker::Model": ("ModelName", ("sagemaker:CreateModel",), "arn:{p}:sagemaker:{r}:{a}:model/{lower}"),
    "AWS::SageMaker::ModelPackageGroup": ("ModelPackageGroupName", ("sagemaker:CreateModelPackageGroup",),
                                          "arn:{p}:sagemaker:{r}:{a}:model-package-group/{lower}"),
}
# Types a push-deployed stack holds but its deploy role may not create: made by an administrator's `make deploy`
# (held by the prefix check alone). The artifact bucket: tests/iam/test_push_cannot_change_bucket_settings.py.
MADE_BY_AN_ADMINISTRATOR = {"AWS::S3::Bucket"}
# Name-like properties that name no new resource: another resource's name, an account, a label.
NOT_A_NEW_NAME = {"AwsAccountId", "CatalogId", "DatabaseName", "DisplayName", "EndpointConfigName", "FunctionName",
                  "KmsKeyId", "KmsMasterKeyId", "LogGroupName", "MetricName", "Name", "PolicyName", "TargetKeyId"}


def _name_like(props: dict) -> set[str]:
    return {k for k in props if k == "Name" or k.endswith(("Name", "Id"))}


def _get(props: dict, path: str):
    for part in path.split("."):
        props = props.get(part) if isinstance(props, dict) else None
    return props


def _deploying_roles(stacks) -> dict[str, set[str]]:
    """stack key -> the role ARNs the pipelines' CloudFormation actions deploy it with."""
    out: dict[str, set[str]] = {}
    for stack in stacks.values():
        for pipeline in stack.resources("AWS::CodePipeline::Pipeline").values():
            for stage in pipeline["Properties"]["Stages"]:
                for action in stage["Actions"]:
                    config = action.get("Configuration", {})
                    if action["ActionTypeId"]["Provider"] == "CloudFormation" and "TemplatePath" in config:
                        key = config["TemplatePath"].rsplit("/", 1)[-1].removesuffix(".yaml")
                        out.setdefault(key, set()).add(config["RoleArn"])
    return out


def _allow_statements(stacks, role_arn: str) -> list[dict]:
    """The Allow statements of the role with that ARN, wherever a stack makes it (inline and attached policies)."""
    for stack in stacks.values():
        for logical_id, role in stack.resources("AWS::IAM::Role").items():
            props = role["Properties"]
            if role_arn.endswith(f":role{props.get('Path', '/')}{props.get('RoleName')}"):
                out = [st for p in props.get("Policies", []) for st in as_list(p["PolicyDocument"]["Statement"])]
                for policy in [*stack.resources("AWS::IAM::Policy").values(), *stack.resources("AWS::IAM::ManagedPolicy").values()]:
                    if props["RoleName"] in as_list(policy["Properties"].get("Roles", [])):
                        out += as_list(policy["Properties"]["PolicyDocument"]["Statement"])
                return [st for st in out if st.get("Effect") == "Allow"]
    raise AssertionError(f"no stack makes the deploy role {role_arn}")


def _allows(statements: list[dict], action: str, resource: str) -> bool:
    return any(any(_glob(a, action, case=False) for a in as_list(st["Action"]))
               and any(_glob(str(r), resource) for r in as_list(st["Resource"])) for st in statements)


def _inside_prefix(name: str, n: Names) -> bool:
    """The name holds the env's prefix (or its stack-name stem) as a whole part: `x-dev` is not inside `x-dev2`."""
    stems = {n.prefix, n.stack("pipeline").removesuffix("-pipeline")}
    stems |= {s.replace("-", "_") for s in stems}
    return any(re.search(rf"(?:^|[^A-Za-z0-9]){re.escape(s)}(?:[^A-Za-z0-9]|$)", name) for s in stems)


def name_problems(stacks, n: Names) -> list[str]:
    roles = _deploying_roles(stacks)
    problems = []
    for key, stack in stacks.items():
        p, r, a = stack.pseudo["AWS::Partition"], stack.pseudo["AWS::Region"], stack.pseudo["AWS::AccountId"]
        for logical_id, res in stack.resources().items():
            props, where = res.get("Properties", {}), f"{key}.yaml {logical_id}"
            spec = NAMED.get(res["Type"])
            unknown = _name_like(props) - NOT_A_NEW_NAME - ({spec[0].split(".")[0]} if spec else set())
            if unknown:
                problems.append(f"{where}: {res['Type']} {sorted(unknown)} is not in NAMED or NOT_A_NEW_NAME")
            if not spec or _get(props, spec[0]) is None:
                continue
            name = str(_get(props, spec[0]))
            scoped = [action for action in spec[1] if resource_types(action)]  # "*" only: no role can scope the name
            if key not in roles or not scoped or res["Type"] in MADE_BY_AN_ADMINISTRATOR:
                # an administrator deploys it, or only the name can keep it apart
                if not _inside_prefix(name, n):
                    problems.append(f"{where}: {spec[0]} {name} is outside the env's prefix {n.prefix}")
                continue
            resource = spec[2].format(p=p, r=r, a=a, n=name, lower=name.lower(), path=props.get("Path", "/"))
            for role_arn in sorted(roles[key]):
                statements = _allow_statements(stacks, role_arn)
                if not any(_allows(statements, action, resource) for action in scoped):
                    problems.append(f"{where}: {role_arn.rsplit('/', 1)[-1]} may not {' or '.join(scoped)} on {resource}")
    return problems


def _stacks(rendered, project, env):
    return resolve_all(rendered, project, env, list(BUILDERS))


@pytest.mark.every_env
def test_every_named_resource_is_inside_its_deploy_role_scopes(rendered, project, env):
    assert name_problems(_stacks(rendered, project, env), Names(project, project.env(env))) == []


def test_the_check_catches_an_alarm_named_outside_the_prefix(fixture_rendered, fixture_project):
    """A planted alarm in a pipeline-deployed stack, named without the env's prefix: its deploy role may not make it."""
    env = next(iter(fixture_project.environments))
    stacks = _stacks(fixture_rendered, fixture_project, env)
    template = stacks["notifications"].template
    alarm = next(lid for lid, res in template["Resources"].items() if res["Type"] == "AWS::CloudWatch::Alarm")
    template["Resources"][alarm]["Properties"]["AlarmName"] = "misnamed-alarm"
    problems = name_problems(stacks, Names(fixture_project, fixture_project.env(env)))
    assert any(p.startswith(f"notifications.yaml {alarm}: ") and "may not cloudwatch:PutMetricAlarm" in p
               and p.endswith(":alarm:misnamed-alarm") for p in problems), problems


def test_the_check_catches_an_administrator_stack_named_outside_the_prefix(fixture_rendered, fixture_project):
    env = next(iter(fixture_project.environments))
    n = Names(fixture_project, fixture_project.env(env))
    stacks = _stacks(fixture_rendered, fixture_project, env)
    template = stacks["messaging"].template
    queue = next(lid for lid, res in template["Resources"].items() if res["Type"] == "AWS::SQS::Queue")
    template["Resources"][queue]["Properties"]["QueueName"] = "other-team-queue"
    assert f"messaging.yaml {queue}: QueueName other-team-queue is outside the env's prefix {n.prefix}" in name_problems(stacks, n)


def test_the_check_refuses_a_name_like_property_it_does_not_know(fixture_rendered, fixture_project):
    env = next(iter(fixture_project.environments))
    stacks = _stacks(fixture_rendered, fixture_project, env)
    stacks["kpi"].template["Resources"]["Planted"] = {"Type": "AWS::Scheduler::Schedule", "Properties": {"Name": "x", "GroupName": "g"}}
    problems = name_problems(stacks, Names(fixture_project, fixture_project.env(env)))
    assert "kpi.yaml Planted: AWS::Scheduler::Schedule ['GroupName'] is not in NAMED or NOT_A_NEW_NAME" in problems
