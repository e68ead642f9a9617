"""What the rendered templates say for one environment, evaluated with tests/support/resolve.py.

The demo takes every name, pattern, handler and environment variable from here, not from
infra/config/names.py, so a template that drifted from the code it wires together breaks the demo.
"""
from __future__ import annotations

from dataclasses import dataclass

from infra.config import Environment, Project
from infra.stacks import BUILDERS
from tests.support.resolve import resolve_all


@dataclass(frozen=True)
class Function:
    name: str
    handler: str
    environment: dict[str, str]


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: dict


@dataclass(frozen=True)
class Wiring:
    model_package_group: dict  # AWS::SageMaker::ModelPackageGroup properties
    artifact_bucket: str
    upsert_environment: dict[str, str]  # the Upsert CodeBuild project's variables
    notifier_rule: Rule
    notifier: Function
    topic_name: str
    email_endpoints: tuple[str, ...]
    metrics_rule: Rule
    metrics: Function


def _one(stack, rtype: str, logical_id: str) -> dict:
    resources = stack.resources(rtype)
    if logical_id not in resources:
        raise KeyError(f"{stack.key}.yaml has no {rtype} {logical_id} in this environment")
    return resources[logical_id]["Properties"]


def _function(stack, logical_id: str) -> Function:
    props = _one(stack, "AWS::Lambda::Function", logical_id)
    return Function(props["FunctionName"], props["Handler"], dict(props["Environment"]["Variables"]))


def _rule(stack, logical_id: str) -> Rule:
    props = _one(stack, "AWS::Events::Rule", logical_id)
    return Rule(props["Name"], props["EventPattern"])


def read(rendered: dict[str, str], project: Project, env: Environment) -> Wiring:
    stacks = resolve_all(rendered, project, env.name, list(BUILDERS))
    pipeline, notifications, kpi = stacks["pipeline"], stacks["notifications"], stacks["kpi"]
    upsert = _one(pipeline, "AWS::CodeBuild::Project", "UpsertProject")["Environment"]["EnvironmentVariables"]
    return Wiring(
        model_package_group=_one(pipeline, "AWS::SageMaker::ModelPackageGroup", "ModelPackageGroup"),
        artifact_bucket=_one(pipeline, "AWS::S3::Bucket", "ArtifactBucket")["BucketName"],
        upsert_environment={v["Name"]: v["Value"] for v in upsert},
        notifier_rule=_rule(notifications, "ModelPackageStateRule"),
        notifier=_function(notifications, "NotifierFunction"),
        topic_name=_one(notifications, "AWS::SNS::Topic", "Topic")["TopicName"],
        email_endpoints=tuple(sorted(r["Properties"]["Endpoint"] for r in notifications.resources("AWS::SNS::Subscription").values()
                                     if r["Properties"].get("Protocol") == "email")),
        metrics_rule=_rule(kpi, "MetricsRule"),
        metrics=_function(kpi, "MetricsFunction"),
    )
