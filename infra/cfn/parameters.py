"""The config values stacks name the way CloudFormation names a parameter, and the parameters decided at run time.

A stack names a config value as `Ref("TopicName")`, or as `${ResourcePrefix}` in a Sub, so a statement reads as
the ARN it grants; VALUES says which value each name takes in an env, and the render writes it into that env's
template (infra/output/concrete.py). What is decided only when a stack is deployed (the model package version a
deployment serves) stays a CloudFormation Parameter: RUN_TIME, declared by the stacks that take it.
"""
from __future__ import annotations

import json
from typing import Callable

from troposphere import Parameter, Template

from infra.config import loader, serving
from infra.config.model import Deployment
from infra.config.names import ARTIFACT_BUCKET_SUB, DATA_CAPTURE_PREFIX, DECISIONS_TABLE, RELEASE_KEY, Names


def deployment_settings(n: Names) -> Deployment:
    """The env's deployment settings; the defaults where it has none (its files are rendered, never deployed)."""
    return n.env.deployment or loader.deployment_settings("", {})


ROLLOUT_TYPES = {"canary": "CANARY", "linear": "LINEAR", "all_at_once": "ALL_AT_ONCE"}

VALUES: dict[str, Callable[[Names], object]] = {
    "Environment": lambda n: n.env_name,
    "ProjectName": lambda n: n.project.name,
    "ResourcePrefix": lambda n: n.prefix,
    "RolePath": lambda n: n.role_path,
    "DeliveryBoundaryName": lambda n: n.boundary("delivery"),
    "BuildsBoundaryName": lambda n: n.boundary("builds"),
    "JobsBoundaryName": lambda n: n.boundary("jobs"),
    "FunctionsBoundaryName": lambda n: n.boundary("functions"),
    "ServingFunctionsBoundaryName": lambda n: n.boundary("serving"),
    "SmokeTestBoundaryName": lambda n: n.boundary("smoke"),
    "ArtifactBucketPrefix": lambda n: n.artifact_bucket_prefix,
    "ArtifactKeyAlias": lambda n: n.artifact_key_alias,
    "SageMakerPipelineName": lambda n: n.sagemaker_pipeline,
    "SageMakerPrefix": lambda n: n.sagemaker_prefix,
    "SageMakerInputPrefix": lambda n: n.input_prefix,
    "DataUploaderArns": lambda n: list(n.env.data_uploaders),
    "EvaluationReportsPrefix": lambda n: n.evaluation_prefix,
    "ModelPackageGroupName": lambda n: n.model_package_group,
    "CodePipelineName": lambda n: n.codepipeline,
    "PipelineArtifactsPrefix": lambda n: n.pipeline_artifacts_prefix,
    "SynthProjectName": lambda n: n.synth_project,
    "UpsertProjectName": lambda n: n.upsert_project,
    "SageMakerExecutionRoleName": lambda n: n.sagemaker_execution_role,
    "CodePipelineRoleName": lambda n: n.codepipeline_role,
    "SynthBuildRoleName": lambda n: n.synth_build_role,
    "UpsertBuildRoleName": lambda n: n.upsert_build_role,
    "SourceEventsRoleName": lambda n: n.source_events_role,
    "PipelineDeployRoleName": lambda n: n.deploy_role("pipeline"),
    "NotificationsDeployRoleName": lambda n: n.deploy_role("notifications"),
    "KpiDeployRoleName": lambda n: n.deploy_role("kpi"),
    "NotifierRoleName": lambda n: n.notifier_role,
    "CrawlerRoleName": lambda n: n.crawler_role,
    "DeployRolesStackName": lambda n: n.stack("deploy-roles"),
    "IamStackName": lambda n: n.stack("iam"),
    "MessagingStackName": lambda n: n.stack("messaging"),
    "PipelineStackName": lambda n: n.stack("pipeline"),
    "NotificationsStackName": lambda n: n.stack("notifications"),
    "KpiStackName": lambda n: n.stack("kpi"),
    "TopicName": lambda n: n.topic,
    "OperationsTopicName": lambda n: n.operations_topic,
    "NotifierFunctionName": lambda n: n.notifier_function,
    "NotifierDeadLetterQueueName": lambda n: n.notifier_dlq,
    "NotificationsKeyAlias": lambda n: n.notifications_key_alias,
    "MetricsNamespace": lambda n: n.metrics_namespace,
    "NotifyOnStatuses": lambda n: list(n.env.statuses),
    "LogRetentionDays": lambda n: n.env.log_retention_days,
    "GlueDatabaseName": lambda n: n.glue_database,
    "CrawlerName": lambda n: n.crawler,
    "CrawlerSchedule": lambda n: n.env.crawler_schedule,
    "AthenaWorkGroupName": lambda n: n.athena_workgroup,
    "AthenaBytesScannedCutoff": lambda n: n.env.athena_bytes_scanned_cutoff,
    "AnalystPrincipals": lambda n: list(n.env.analyst_principals),
    "Approvers": lambda n: list(n.env.approvers),
    "DeadLetterReaders": lambda n: list(n.env.dead_letter_readers),
    "SourceConnectionArn": lambda n: n.env.source.connection_arn,
    "SourceRepository": lambda n: n.env.source.repository,
    "SourceBranch": lambda n: n.env.source.branch,
    "SourceBucket": lambda n: n.env.source.bucket,
    "SourceObjectKey": lambda n: n.env.source.key,
    "DashboardName": lambda n: n.dashboard,
    "MetricsFunctionName": lambda n: n.metrics_function,
    "MetricsFunctionRoleName": lambda n: n.metrics_function_role,
    "MetricsRuleName": lambda n: n.metrics_rule,
    "EvaluationTableName": lambda n: n.evaluation_table,
    "PartitionsFunctionName": lambda n: n.partitions_function,
    "PartitionsFunctionRoleName": lambda n: n.partitions_function_role,
    "PartitionsRuleName": lambda n: n.partitions_rule,
    "SubscriberCheckFunctionName": lambda n: n.subscriber_check,
    "SubscriberCheckFunctionRoleName": lambda n: n.subscriber_check_role,
    "SubscriberCheckScheduleName": lambda n: n.subscriber_check,
    "SubscriberScheduleRoleName": lambda n: n.subscriber_schedule_role,
    "ChatChannelRoleName": lambda n: n.chat_channel_role,
    "PartitionsDeadLetterQueueName": lambda n: n.partitions_dlq,
    "RegistryLedgerPrefix": lambda n: n.registry_ledger_prefix,
    "DecisionsPrefix": lambda n: n.decisions_prefix,
    "DecisionsTableName": lambda n: DECISIONS_TABLE,
    "MetricsDeadLetterQueueName": lambda n: n.metrics_dlq,
    # A source env's promotion (docs/promotion.md): its rule forwarding decisions, the role it forwards with, and the
    # archive pin (function, role, dead-letter queue; its rule takes the function's name).
    "PromotionRuleName": lambda n: n.promotion_rule,
    "PromotionRoleName": lambda n: n.promotion_role,
    "ArchivePinFunctionName": lambda n: n.archive_pin_function,
    "ArchivePinRuleName": lambda n: n.archive_pin_function,
    "ArchivePinFunctionRoleName": lambda n: n.archive_pin_role,
    "ArchivePinDeadLetterQueueName": lambda n: n.archive_pin_dlq,
    "ServingIamStackName": lambda n: n.stack("serving-iam"),
    "DeploymentStackName": lambda n: n.stack("deployment"),
    "StagingEndpointStackName": lambda n: n.stack("staging-endpoint"),
    "ProductionEndpointStackName": lambda n: n.stack("production-endpoint"),
    "DeploymentDeployRoleName": lambda n: n.deploy_role("deployment"),
    "StagingEndpointDeployRoleName": lambda n: n.deploy_role("staging-endpoint"),
    "ProductionEndpointDeployRoleName": lambda n: n.deploy_role("production-endpoint"),
    "DeploymentPipelineName": lambda n: n.deployment_pipeline,
    "DeploymentArtifactsPrefix": lambda n: n.deployment_artifacts_prefix,
    "DeploymentPipelineRoleName": lambda n: n.deployment_pipeline_role,
    "DeploymentEventsRoleName": lambda n: n.deployment_events_role,
    "DeploymentRuleName": lambda n: n.deployment_rule,
    "ResolveFunctionName": lambda n: n.resolve_function,
    "ResolveFunctionRoleName": lambda n: n.resolve_function_role,
    "SmokeTestFunctionName": lambda n: n.smoke_test_function,
    "SmokeTestFunctionRoleName": lambda n: n.smoke_test_function_role,
    "DeploymentDeadLetterQueueName": lambda n: n.deployment_dlq,
    "ModelRoleName": lambda n: n.model_role,
    "StagingEndpointName": lambda n: n.staging_endpoint,
    "ProductionEndpointName": lambda n: n.production_endpoint,
    "ReleaseObjectKey": lambda n: RELEASE_KEY,
    "DataCapturePrefix": lambda n: DATA_CAPTURE_PREFIX,
    "MinInstances": lambda n: deployment_settings(n).min_instances,
    "MaxInstances": lambda n: deployment_settings(n).max_instances,
    "InvocationsPerInstance": lambda n: deployment_settings(n).invocations_per_instance,
    "RolloutType": lambda n: ROLLOUT_TYPES[deployment_settings(n).rollout_type],
    "RolloutTrafficPercent": lambda n: deployment_settings(n).traffic_percent,
    "RolloutWaitSeconds": lambda n: deployment_settings(n).wait_seconds,
    "LatencyThresholdMicroseconds": lambda n: deployment_settings(n).latency_threshold_ms * 1000,
    "RolloutTimeoutSeconds": lambda n: serving.rollout_timeout_seconds(deployment_settings(n)),
    "DataCapturePercent": lambda n: deployment_settings(n).data_capture_percent,
    "SmokeTestLatencyMs": lambda n: deployment_settings(n).smoke_test_latency_ms,
    # The instance types IAM lets each kind of job or endpoint config ask for (sagemaker:InstanceTypes).
    "JobInstanceTypes": lambda n: sorted({n.env.processing_instance_type, n.env.training_instance_type}),
    "StagingInstanceTypes": lambda n: [deployment_settings(n).staging_instance_type],
    "ProductionInstanceTypes": lambda n: [deployment_settings(n).instance_type],
    "EndpointInstancesNeeded": lambda n: json.dumps(serving.instances_needed(deployment_settings(n)), sort_keys=True),
    # Where the versions an env serves come from (infra/iam/policies.py models_arn): its models_from env's account,
    # group, bucket, models/ folder and key; in an env serving its own models, its own (the account and region as
    # pseudo parameters, left for the Sub), so its statements read as they always did.
    "ModelsAccountId": lambda n: n.models_source.env.account_id if n.models_source else "${AWS::AccountId}",
    "ModelsGroupName": lambda n: (n.models_source or n).model_package_group,
    "ModelsBucketName": lambda n: n.models_source.artifact_bucket if n.models_source else ARTIFACT_BUCKET_SUB.replace(
        "${ArtifactBucketPrefix}", n.artifact_bucket_prefix),
    "ModelsArchivePrefix": lambda n: (n.models_source or n).model_archives_prefix,
    "ModelsKeyAlias": lambda n: (n.models_source or n).artifact_key_alias,
    # An env serving another env's models: its promotion bus, and the source's role that forwards onto it (path + name).
    "PromotionBusName": lambda n: n.promotion_bus,
    "ModelsPromotionRole": lambda n: f"{n.models_source.role_path}{n.models_source.promotion_role}" if n.models_source else "",
    "ModelsEnvironment": lambda n: n.models_source.env_name if n.models_source else "",  # named when its pin is late
    "ModelsPinFunctionName": lambda n: n.models_source.archive_pin_function if n.models_source else "",
}

# name -> (description, the placeholder the env's TemplateConfiguration holds: the deploying action overrides it).
RUN_TIME = {
    "ModelPackageArn": ("Model package version the endpoint serves (set by the deployment pipeline)", "none"),
    "ModelPackageVersion": ("Its version number (set by the deployment pipeline)", "0"),
}


def declare_run_time(template: Template) -> None:
    """Add the RUN_TIME parameters (the endpoint stacks take them from the deployment pipeline's Resolve)."""
    for key, (description, _) in RUN_TIME.items():
        template.add_parameter(Parameter(key, Type="String", Description=description))


def config_values(names: Names) -> dict[str, object]:
    """Every VALUES name with its value in the env `names` describes."""
    return {key: value(names) for key, value in VALUES.items()}


def run_time_placeholders(template: dict) -> dict[str, str]:
    """The TemplateConfiguration Parameters of a concrete template: a placeholder for each run-time parameter."""
    return {key: RUN_TIME[key][1] for key in sorted(template.get("Parameters", {}))}
