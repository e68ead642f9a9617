"""What the rendered templates say for one environment, evaluated with tests/support/resolve.py.

The demo takes every name, pattern, handler and environment variable from here, not from
infra/config/names.py, so a template that drifted from the code it wires together breaks the demo.
"""
from __future__ import annotations

from dataclasses import dataclass

from infra.config import Environment, Project
from infra.stacks import BUILDERS
from tests.support.resolve import Stack, resolve_all


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
class Deployment:
    """deployment.yaml (the model-deployment pipeline), and both endpoint stacks as evaluated for this env."""

    rule: Rule  # DeploymentRule: approvals and rejections start the pipeline
    pipeline_name: str
    resolve: Function
    smoke_test: Function
    stages: dict[str, dict]  # stage name -> its evaluated declaration (conditional stages absent when off)
    variables: dict[str, str]  # the pipeline's variables and their defaults (#{variables.<name>})
    outcome_rules: dict[str, dict]  # logical ID -> evaluated AWS::Events::Rule properties (pattern, targets)
    operations_topic_arn: str
    staging: Stack  # evaluated again with the Resolve action's parameter overrides
    production: Stack


@dataclass(frozen=True)
class Wiring:
    model_package_group: dict  # AWS::SageMaker::ModelPackageGroup properties
    artifact_bucket: str
    artifact_bucket_versioning: str  # its VersioningConfiguration Status (Resolve relies on object versions)
    upsert_environment: dict[str, str]  # the Upsert CodeBuild project's variables
    notifier_rule: Rule
    notifier: Function
    topic_name: str
    email_endpoints: tuple[str, ...]
    metrics_rule: Rule
    metrics: Function
    deployment: Deployment


def _one(stack, rtype: str, logical_id: str) -> dict:
    resources = stack.resources(rtype)
    if logical_id not in resources:
        raise KeyError(f"{stack.key}.yaml has no {rtype} {logical_id} in this environment")
    return resources[logical_id]["Properties"]


def _lambda_string(value):
    """A variable as the function sees it: CloudFormation passes a number or a boolean written in the template
    (a concrete template writes config values as YAML scalars) as its text; anything else is left to fail."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (int, float)) else value


def _function(stack, logical_id: str) -> Function:
    props = _one(stack, "AWS::Lambda::Function", logical_id)
    variables = {name: _lambda_string(value) for name, value in props["Environment"]["Variables"].items()}
    return Function(props["FunctionName"], props["Handler"], variables)


def _rule(stack, logical_id: str) -> Rule:
    props = _one(stack, "AWS::Events::Rule", logical_id)
    return Rule(props["Name"], props["EventPattern"])


def read(rendered: dict[str, str], project: Project, env: Environment) -> Wiring:
    stacks = resolve_all(rendered, project, env.name, list(BUILDERS))
    pipeline, notifications, kpi = stacks["pipeline"], stacks["notifications"], stacks["kpi"]
    messaging = stacks["messaging"]  # the approvals topic and its subscriptions
    upsert = _one(pipeline, "AWS::CodeBuild::Project", "UpsertProject")["Environment"]["EnvironmentVariables"]
    return Wiring(
        model_package_group=_one(pipeline, "AWS::SageMaker::ModelPackageGroup", "ModelPackageGroup"),
        artifact_bucket=_one(pipeline, "AWS::S3::Bucket", "ArtifactBucket")["BucketName"],
        artifact_bucket_versioning=_one(pipeline, "AWS::S3::Bucket", "ArtifactBucket")["VersioningConfiguration"]["Status"],
        upsert_environment={v["Name"]: v["Value"] for v in upsert},
        notifier_rule=_rule(notifications, "ModelPackageStateRule"),
        notifier=_function(notifications, "NotifierFunction"),
        topic_name=_one(messaging, "AWS::SNS::Topic", "ApprovalsTopic")["TopicName"],
        email_endpoints=tuple(sorted(r["Properties"]["Endpoint"] for r in messaging.resources("AWS::SNS::Subscription").values()
                                     if r["Properties"].get("Protocol") == "email")),
        metrics_rule=_rule(kpi, "MetricsRule"),
        metrics=_function(kpi, "MetricsFunction"),
        deployment=_deployment(stacks),
    )


OUTCOME_RULES = ("DeploymentStagedRule", "DeploymentPromotedRule", "DeploymentFailedRule")


def _deployment(stacks) -> Deployment:
    deployment = stacks["deployment"]
    pipeline = _one(deployment, "AWS::CodePipeline::Pipeline", "DeploymentPipeline")
    outcomes = {lid: _one(deployment, "AWS::Events::Rule", lid) for lid in OUTCOME_RULES}
    return Deployment(
        rule=_rule(deployment, "DeploymentRule"),
        pipeline_name=pipeline["Name"],
        resolve=_function(deployment, "ResolveFunction"),
        smoke_test=_function(deployment, "SmokeTestFunction"),
        stages={stage["Name"]: stage for stage in pipeline["Stages"]},
        variables={v["Name"]: v.get("DefaultValue", "") for v in pipeline.get("Variables", [])},
        outcome_rules=outcomes,
        operations_topic_arn=outcomes["DeploymentFailedRule"]["Targets"][0]["Arn"],
        staging=stacks["staging-endpoint"],
        production=stacks["production-endpoint"],
    )
