"""The CloudFormation Parameters our templates may declare, and where each env's value comes from.

A template is the same for every environment; what differs is in templates/<env>/<stack>.json
(a CodePipeline TemplateConfiguration). Stacks declare parameters with `declare()`, and the
generator fills the TemplateConfiguration with `values()`, so every declared parameter has a value
and no file holds a key its template does not declare.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

import awacs
from troposphere import AWSHelperFn, BaseAWSObject, Parameter, Template

from infra.config import serving
from infra.config import loader
from infra.config.model import Deployment
from infra.config.names import DATA_CAPTURE_PREFIX, RELEASE_KEY, Names


@dataclass(frozen=True)
class Spec:
    description: str
    value: Callable[[Names], object]
    type: str = "String"
    allowed_pattern: str | None = None
    run_time: bool = False  # decided when the stack is deployed (ParameterOverrides); value() is a placeholder


def deployment_settings(n: Names) -> Deployment:
    """The env's deployment settings; the defaults where it has none (its files are rendered, never deployed)."""
    return n.env.deployment or loader.deployment_settings("", {})


def _flag(value: bool) -> str:
    return "true" if value else "false"


ROLLOUT_TYPES = {"canary": "CANARY", "linear": "LINEAR", "all_at_once": "ALL_AT_ONCE"}


def _lower_hyphen(max_len: int) -> str:
    return rf"^[a-z][a-z0-9-]{{0,{max_len - 1}}}$"


SPECS: dict[str, Spec] = {
    "Environment": Spec("Environment name (dev, prod…)", lambda n: n.env_name, allowed_pattern=_lower_hyphen(10)),
    "ProjectName": Spec("Project name", lambda n: n.project.name, allowed_pattern=_lower_hyphen(40)),
    "ResourcePrefix": Spec("Prefix of this environment's resource names", lambda n: n.prefix, allowed_pattern=_lower_hyphen(23)),
    "RolePath": Spec("IAM path of the project's roles", lambda n: n.role_path, allowed_pattern=r"^/[a-z0-9-]+/$"),
    "DeliveryBoundaryName": Spec("Managed policy that bounds the pipeline's and the source events' roles", lambda n: n.boundary("delivery")),
    "BuildsBoundaryName": Spec("Managed policy that bounds the CodeBuild projects' roles", lambda n: n.boundary("builds")),
    "JobsBoundaryName": Spec("Managed policy that bounds the SageMaker jobs' and the endpoints' model roles", lambda n: n.boundary("jobs")),
    "FunctionsBoundaryName": Spec("Managed policy that bounds the functions' and the crawler's roles", lambda n: n.boundary("functions")),
    "ServingFunctionsBoundaryName": Spec("Managed policy that bounds the deployment pipeline's functions' roles",
                                         lambda n: n.boundary("serving")),
    "ArtifactBucketPrefix": Spec(
        "Artifact bucket name without its -<account>-<region> suffix", lambda n: n.artifact_bucket_prefix, allowed_pattern=_lower_hyphen(33)
    ),
    "ArtifactKeyAlias": Spec("KMS alias of the artifact key", lambda n: n.artifact_key_alias, allowed_pattern=r"^alias/[a-z0-9-]+$"),
    "SageMakerPipelineName": Spec("SageMaker pipeline name", lambda n: n.sagemaker_pipeline),
    "SageMakerPrefix": Spec("Key prefix of the SageMaker pipeline's data in the artifact bucket", lambda n: n.sagemaker_prefix),
    "SageMakerInputPrefix": Spec("Key prefix of the SageMaker pipeline's input data", lambda n: n.input_prefix),
    "DataUploaderArns": Spec(
        "IAM principals that may upload to the input prefix (empty: none)", lambda n: list(n.env.data_uploaders), type="CommaDelimitedList"
    ),
    "EvaluationReportsPrefix": Spec("Key prefix of the evaluation reports", lambda n: n.evaluation_prefix),
    "ModelPackageGroupName": Spec(
        "Model package group the pipeline registers into and the notifications watch",
        lambda n: n.model_package_group,
        allowed_pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
    ),
    "CodePipelineName": Spec("CodePipeline name", lambda n: n.codepipeline),
    "PipelineArtifactsPrefix": Spec(
        "Key prefix CodePipeline stores run artifacts under (its pipeline name, cut to 20 characters)",
        lambda n: n.pipeline_artifacts_prefix,
    ),
    "SynthProjectName": Spec("CodeBuild project that renders the templates", lambda n: n.synth_project),
    "UpsertProjectName": Spec("CodeBuild project that upserts the SageMaker pipeline", lambda n: n.upsert_project),
    "SageMakerExecutionRoleName": Spec("Role the SageMaker pipeline runs as", lambda n: n.sagemaker_execution_role),
    "CodePipelineRoleName": Spec("Role of the CodePipeline", lambda n: n.codepipeline_role),
    "SynthBuildRoleName": Spec("Role of the synth CodeBuild project", lambda n: n.synth_build_role),
    "UpsertBuildRoleName": Spec("Role of the upsert CodeBuild project", lambda n: n.upsert_build_role),
    "SourceEventsRoleName": Spec("Role EventBridge uses to start the pipeline", lambda n: n.source_events_role),
    "PipelineDeployRoleName": Spec("Role CloudFormation uses for the pipeline stack", lambda n: n.deploy_role("pipeline")),
    "NotificationsDeployRoleName": Spec("Role CloudFormation uses for the notifications stack", lambda n: n.deploy_role("notifications")),
    "KpiDeployRoleName": Spec("Role CloudFormation uses for the KPI stack", lambda n: n.deploy_role("kpi")),
    "NotifierRoleName": Spec("Role of the approval-notifier Lambda", lambda n: n.notifier_role),
    "CrawlerRoleName": Spec("Role of the KPI Glue crawler", lambda n: n.crawler_role),
    "DeployRolesStackName": Spec("Name of this environment's deploy-roles stack (for imports)", lambda n: n.stack("deploy-roles")),
    "IamStackName": Spec("Name of this environment's IAM stack (for imports)", lambda n: n.stack("iam")),
    "MessagingStackName": Spec("Name of this environment's messaging stack (for imports)", lambda n: n.stack("messaging")),
    "PipelineStackName": Spec("Name of this environment's pipeline stack (for imports)", lambda n: n.stack("pipeline")),
    "NotificationsStackName": Spec("Name of this environment's notifications stack (for imports)", lambda n: n.stack("notifications")),
    "KpiStackName": Spec("Name of this environment's KPI stack", lambda n: n.stack("kpi")),
    "TopicName": Spec("SNS topic for model approval notifications", lambda n: n.topic),
    "OperationsTopicName": Spec("SNS topic for alarms and releases waiting for approval", lambda n: n.operations_topic),
    "ReleaseApproval": Spec("Whether a person approves each release before any stack changes", 
                            lambda n: "true" if n.env.release_approval else "false", allowed_pattern=r"^(true|false)$"),
    "NotifierFunctionName": Spec("Lambda that turns model package events into messages", lambda n: n.notifier_function),
    "NotifierDeadLetterQueueName": Spec("SQS dead-letter queue of the notifier", lambda n: n.notifier_dlq),
    "NotificationsKeyAlias": Spec("KMS alias of the notifications key", lambda n: n.notifications_key_alias, allowed_pattern=r"^alias/[a-z0-9-]+$"),
    "MetricsNamespace": Spec("CloudWatch namespace of the model registry KPIs", lambda n: n.metrics_namespace),
    "NotifyOnStatuses": Spec("Model approval statuses that send a notification", lambda n: list(n.env.statuses), type="CommaDelimitedList"),
    "LogRetentionDays": Spec("Retention of the project's log groups", lambda n: n.env.log_retention_days, type="Number"),
    "GlueDatabaseName": Spec("Glue database of the KPI tables", lambda n: n.glue_database),
    "CrawlerName": Spec("Glue crawler over the evaluation reports", lambda n: n.crawler),
    "CrawlerSchedule": Spec("When the crawler runs", lambda n: n.env.crawler_schedule),
    "AthenaWorkGroupName": Spec("Athena workgroup for KPI queries", lambda n: n.athena_workgroup),
    "AthenaBytesScannedCutoff": Spec("Per-query scan limit in bytes", lambda n: n.env.athena_bytes_scanned_cutoff, type="Number"),
    "QuickSightPrincipals": Spec(
        "QuickSight users or groups given the data source (empty: no data source)",
        lambda n: list(n.env.quicksight_principals),
        type="CommaDelimitedList",
    ),
    "AnalystPrincipals": Spec(
        "IAM roles (ARNs, an Identity Center role may end in _*) that may read the KPI data (empty: nobody)",
        lambda n: list(n.env.analyst_principals),
        type="CommaDelimitedList",
    ),
    "SourceType": Spec(
        "Where the pipeline's source comes from", lambda n: n.env.source.type, allowed_pattern=r"^(codeconnections|codecommit|s3)$"
    ),
    "SourceConnectionArn": Spec("CodeConnections connection (codeconnections sources)", lambda n: n.env.source.connection_arn),
    "SourceRepository": Spec("Repository: owner/name (codeconnections) or name (codecommit)", lambda n: n.env.source.repository),
    "SourceBranch": Spec("Branch the pipeline follows (codeconnections, codecommit)", lambda n: n.env.source.branch),
    "SourceBucket": Spec("Bucket of the source zip (s3 sources)", lambda n: n.env.source.bucket),
    "SourceObjectKey": Spec("Key of the source zip (s3 sources)", lambda n: n.env.source.key),
    "DashboardName": Spec("CloudWatch dashboard name", lambda n: n.dashboard),
    "MetricsFunctionName": Spec("Lambda that publishes the model registry KPIs", lambda n: n.metrics_function),
    "MetricsFunctionRoleName": Spec("Role of the registry-metrics Lambda", lambda n: n.metrics_function_role),
    "MetricsRuleName": Spec("EventBridge rule that feeds the registry-metrics Lambda", lambda n: n.metrics_rule),
    "EvaluationTableName": Spec("Glue table the crawler makes of the evaluation reports", lambda n: n.evaluation_table),
    "PartitionsFunctionName": Spec("Lambda that catalogues a finished execution's report", lambda n: n.partitions_function),
    "PartitionsFunctionRoleName": Spec("Role of the report-partitions Lambda", lambda n: n.partitions_function_role),
    "PartitionsRuleName": Spec("EventBridge rule that feeds the report-partitions Lambda", lambda n: n.partitions_rule),
    "PartitionsDeadLetterQueueName": Spec("SQS dead-letter queue of the report-partitions Lambda", lambda n: n.partitions_dlq),
    "RegistryLedgerPrefix": Spec("Key prefix of the registry-metrics function's count markers", lambda n: n.registry_ledger_prefix),
    "MetricsDeadLetterQueueName": Spec("SQS dead-letter queue of the registry-metrics Lambda", lambda n: n.metrics_dlq),
    # -- model deployment --------------------------------------------------------------------------
    "DeploymentEnabled": Spec("Whether this env serves approved models (config deployment)", lambda n: _flag(n.env.deployment is not None),
                              allowed_pattern=r"^(true|false)$"),
    "ServingIamStackName": Spec("Name of this environment's serving IAM stack (for imports)", lambda n: n.stack("serving-iam")),
    "DeploymentStackName": Spec("Name of this environment's deployment stack", lambda n: n.stack("deployment")),
    "StagingEndpointStackName": Spec("Name of this environment's staging endpoint stack", lambda n: n.stack("staging-endpoint")),
    "ProductionEndpointStackName": Spec("Name of this environment's production endpoint stack", lambda n: n.stack("production-endpoint")),
    "DeploymentDeployRoleName": Spec("Role CloudFormation uses for the deployment stack", lambda n: n.deploy_role("deployment")),
    "StagingEndpointDeployRoleName": Spec("Role CloudFormation uses for the staging endpoint stack",
                                          lambda n: n.deploy_role("staging-endpoint")),
    "ProductionEndpointDeployRoleName": Spec("Role CloudFormation uses for the production endpoint stack",
                                             lambda n: n.deploy_role("production-endpoint")),
    "DeploymentPipelineName": Spec("CodePipeline that serves approved model versions", lambda n: n.deployment_pipeline),
    "DeploymentArtifactsPrefix": Spec("Key prefix the deployment pipeline stores run artifacts under", lambda n: n.deployment_artifacts_prefix),
    "DeploymentPipelineRoleName": Spec("Role of the deployment pipeline", lambda n: n.deployment_pipeline_role),
    "DeploymentEventsRoleName": Spec("Role EventBridge uses to start the deployment pipeline", lambda n: n.deployment_events_role),
    "DeploymentRuleName": Spec("EventBridge rule that starts the deployment pipeline", lambda n: n.deployment_rule),
    "ResolveFunctionName": Spec("Lambda that picks the newest approved version", lambda n: n.resolve_function),
    "ResolveFunctionRoleName": Spec("Role of the resolve Lambda", lambda n: n.resolve_function_role),
    "SmokeTestFunctionName": Spec("Lambda that smoke-tests the staging endpoint", lambda n: n.smoke_test_function),
    "SmokeTestFunctionRoleName": Spec("Role of the smoke-test Lambda", lambda n: n.smoke_test_function_role),
    "DeploymentDeadLetterQueueName": Spec("SQS dead-letter queue of the deployment Lambdas", lambda n: n.deployment_dlq),
    "ModelRoleName": Spec("Role SageMaker serves the endpoints' models with", lambda n: n.model_role),
    "StagingEndpointName": Spec("SageMaker endpoint a version is smoke-tested on", lambda n: n.staging_endpoint),
    "ProductionEndpointName": Spec("SageMaker endpoint that serves production traffic", lambda n: n.production_endpoint),
    "ReleaseObjectKey": Spec("Key of the release the delivery pipeline last deployed (the deployment pipeline's source)",
                             lambda n: RELEASE_KEY),
    "DataCapturePrefix": Spec("Key prefix of the production endpoint's captured requests", lambda n: DATA_CAPTURE_PREFIX),
    "EndpointInstanceType": Spec("Production endpoint instance type", lambda n: deployment_settings(n).instance_type),
    "StagingInstanceType": Spec("Staging endpoint instance type", lambda n: deployment_settings(n).staging_instance_type),
    "MinInstances": Spec("Production endpoint instances: the least (and the first)", lambda n: deployment_settings(n).min_instances, type="Number"),
    "MaxInstances": Spec("Production endpoint instances: the most autoscaling adds", lambda n: deployment_settings(n).max_instances, type="Number"),
    "InvocationsPerInstance": Spec("Autoscaling target: invocations per instance per minute",
                                   lambda n: deployment_settings(n).invocations_per_instance, type="Number"),
    "RolloutType": Spec("How production traffic moves to a new version", lambda n: ROLLOUT_TYPES[deployment_settings(n).rollout_type],
                        allowed_pattern=r"^(CANARY|LINEAR|ALL_AT_ONCE)$"),
    "RolloutTrafficPercent": Spec("Canary size, or each linear step, in percent of capacity", lambda n: deployment_settings(n).traffic_percent,
                                  type="Number"),
    "RolloutWaitSeconds": Spec("How long each rollout step is watched", lambda n: deployment_settings(n).wait_seconds, type="Number"),
    "LatencyThresholdMicroseconds": Spec("Model latency that rolls a rollout back (CloudWatch reports microseconds)",
                                         lambda n: deployment_settings(n).latency_threshold_ms * 1000, type="Number"),
    "RolloutTimeoutSeconds": Spec("How long SageMaker lets a production rollout run (provisioning and every wait)",
                                  lambda n: serving.rollout_timeout_seconds(deployment_settings(n)), type="Number"),
    "EndpointInstanceStorage": Spec("Whether the production instance type has local NVMe storage (then no volume KMS key)",
                                    lambda n: _flag(serving.has_instance_storage(deployment_settings(n).instance_type)),
                                    allowed_pattern=r"^(true|false)$"),
    "StagingInstanceStorage": Spec("Whether the staging instance type has local NVMe storage (then no volume KMS key)",
                                   lambda n: _flag(serving.has_instance_storage(deployment_settings(n).staging_instance_type)),
                                   allowed_pattern=r"^(true|false)$"),
    "DataCapturePercent": Spec("Share of production requests captured (0: none)", lambda n: deployment_settings(n).data_capture_percent,
                               type="Number"),
    "SmokeTestLatencyMs": Spec("Latency budget of the smoke test", lambda n: deployment_settings(n).smoke_test_latency_ms, type="Number"),
    "ProductionApproval": Spec("Whether a person approves each version before production", lambda n: _flag(deployment_settings(n).approval),
                               allowed_pattern=r"^(true|false)$"),
    "EndpointInstancesNeeded": Spec("Production's instance type and counts and staging's (JSON), for the quota check "
                                    "before staging",
                                    lambda n: json.dumps(serving.instances_needed(deployment_settings(n)), sort_keys=True)),
    "KeepStaging": Spec("Whether the staging endpoint stays after the smoke test (false: its stage deletes it)",
                        lambda n: _flag(deployment_settings(n).keep_staging), allowed_pattern=r"^(true|false)$"),
    # What the deployment pipeline's Resolve action hands the endpoint stacks (ParameterOverrides); the files hold
    # placeholders, which no deploy uses.
    "ModelPackageArn": Spec("Model package version the endpoint serves (set by the deployment pipeline)", lambda n: "none",
                            run_time=True),
    "ModelPackageVersion": Spec("Its version number (set by the deployment pipeline)", lambda n: "0", run_time=True),
}


def declare(template: Template, *keys: str) -> dict[str, Parameter]:
    """Add the named parameters to `template` (once each) and return them by name."""
    out = {}
    for key in keys:
        spec = SPECS[key]
        if key not in template.parameters:
            kwargs = {"Type": spec.type, "Description": spec.description}
            if spec.allowed_pattern:
                kwargs["AllowedPattern"] = spec.allowed_pattern
            template.add_parameter(Parameter(key, **kwargs))
        out[key] = template.parameters[key]
    return out


def config_values(names: Names) -> dict[str, object]:
    """Every parameter the env's config decides, by name: written into the env's templates (infra/output/concrete.py)."""
    return {key: spec.value(names) for key, spec in SPECS.items() if not spec.run_time}


def run_time_placeholders(template: dict) -> dict[str, str]:
    """The TemplateConfiguration Parameters of a concrete template: a placeholder for each run-time parameter,
    which the action that deploys the stack overrides."""
    return {key: str(SPECS[key].value(None)) for key in sorted(template.get("Parameters", {}))}


_SUB_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def _used_names(node, found: set[str]) -> set[str]:
    """Add the Ref targets and ${Name}s of Sub strings in `node`: plain data, or troposphere/awacs objects."""
    if isinstance(node, dict):
        if "Ref" in node and isinstance(node["Ref"], str):
            found.add(node["Ref"])
        if "Fn::Sub" in node:
            sub = node["Fn::Sub"]
            text = sub if isinstance(sub, str) else sub[0]
            found.update(_SUB_VARIABLE.findall(text))
        for value in node.values():
            _used_names(value, found)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _used_names(value, found)
    elif not isinstance(node, (str, int, float, type(None))):
        _used_names(_contents(node), found)
    return found


def _contents(obj):
    """What `obj` encodes to, one level down: its own data where troposphere/awacs encode exactly that.

    Walking these instead of calling template.to_dict() (which validates and encodes every object, and
    which render does once anyway) halves the encoding work of a render.
    """
    kind = type(obj)
    if isinstance(obj, BaseAWSObject) and kind.to_dict is BaseAWSObject.to_dict:
        return obj.resource
    if isinstance(obj, AWSHelperFn) and kind.to_dict is AWSHelperFn.to_dict:
        return obj.data
    if isinstance(obj, awacs.AWSObject) and kind.JSONrepr is awacs.AWSObject.JSONrepr:
        return obj.resource
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "JSONrepr"):
        return obj.JSONrepr()
    return None


def _sections(template: Template) -> list:
    """The parts of a template that Template.to_dict() encodes."""
    return [template.description, template.metadata, template.conditions, template.mappings, template.outputs,
            template.parameters, template.version, template.transform, template.rules, template.globals, template.resources]


def declare_used(template: Template) -> None:
    """Declare every SPECS parameter the template refers to (Ref or ${Name} in a Sub).

    Stacks may still declare parameters explicitly; this only adds the ones they use and forgot,
    so a template can neither miss a parameter nor carry an unused one from a hand-kept list.
    """
    used = _used_names(_sections(template), set())
    declare(template, *sorted(name for name in used if name in SPECS and name not in template.parameters))
