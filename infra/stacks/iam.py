"""IAM stack: every runtime role of the project — the delivery pipeline's, its builds', the SageMaker
jobs', the functions' and the crawler's.

Administrator-only, like the deploy roles: `make deploy` creates and changes it, the pipeline never
deploys it, and no role the pipeline may pass can write to IAM. So a push to the repository can change
what the stacks contain, but no role's permissions and no trust policy: role changes are reviewed and
applied by an administrator. Roles are named from parameters so other stacks and the KMS key policies
can name them before they import anything. Each role's ARN is exported as "<iam stack>-<RoleLogicalId>Arn".
"""
from __future__ import annotations

from troposphere import Ref, Template, iam

from infra.cfn.mappings import add_image_registries
from infra.cfn.templates_common import new_template
from infra.config.names import Names
from infra.iam.boundary import BUILDS, DELIVERY, FUNCTIONS, JOBS
from infra.iam.policies import document
from infra.iam.roles import exported_service_role
from infra.iam.runtime import builds, delivery, functions, jobs


# Each source type's policy has its own logical ID: an env that changes its source type replaces the policy.
SOURCE_POLICIES = {"codeconnections": "CodeConnectionsSourcePolicy", "codecommit": "CodeCommitSourcePolicy",
                   "s3": "S3SourcePolicy"}


def _source_policy(template: Template, role: iam.Role, source_type: str) -> None:
    """What the pipeline's role needs to read the env's source."""
    template.add_resource(
        iam.PolicyType(
            SOURCE_POLICIES[source_type],
            PolicyName=f"{source_type}-source",
            PolicyDocument=document(delivery.source_statements(source_type)),
            Roles=[Ref(role)],
        )
    )


def build(n: Names) -> Template:
    t = new_template("IAM roles of the SageMaker MLOps project: least privilege, scoped to this environment's names")

    exported_service_role(t, "SageMakerExecutionRole", "SageMakerExecutionRoleName", "sagemaker.amazonaws.com",
          "the SageMaker pipeline's execution role", jobs.sagemaker_execution_statements(), JOBS)
    pipeline_role = exported_service_role(t, "CodePipelineRole", "CodePipelineRoleName", "codepipeline.amazonaws.com",
          "the delivery pipeline's service role", delivery.codepipeline_statements(n.env.deployment is not None), DELIVERY)
    _source_policy(t, pipeline_role, n.env.source.type)
    exported_service_role(t, "SynthBuildRole", "SynthBuildRoleName", "codebuild.amazonaws.com",
          "the synth build's role", builds.synth_build_statements(), BUILDS)
    exported_service_role(t, "UpsertBuildRole", "UpsertBuildRoleName", "codebuild.amazonaws.com",
          "the SageMaker-pipeline upsert build's role", builds.upsert_build_statements(n.env.sample_data), BUILDS)
    exported_service_role(t, "SourceEventsRole", "SourceEventsRoleName", "events.amazonaws.com",
          "the role EventBridge uses to start the pipeline on a source change", delivery.source_events_statements(), DELIVERY)
    exported_service_role(t, "NotifierRole", "NotifierRoleName", "lambda.amazonaws.com",
          "the approval-notifier Lambda's role", functions.notifier_statements(), FUNCTIONS)
    exported_service_role(t, "MetricsFunctionRole", "MetricsFunctionRoleName", "lambda.amazonaws.com",
          "the registry-metrics Lambda's role", functions.metrics_function_statements(), FUNCTIONS)
    exported_service_role(t, "PartitionsFunctionRole", "PartitionsFunctionRoleName", "lambda.amazonaws.com",
          "the report-partitions Lambda's role", functions.partitions_function_statements(), FUNCTIONS)
    exported_service_role(t, "SubscriberCheckFunctionRole", "SubscriberCheckFunctionRoleName", "lambda.amazonaws.com",
          "the subscriber-check Lambda's role", functions.subscriber_check_statements(), FUNCTIONS)
    exported_service_role(t, "SubscriberScheduleRole", "SubscriberScheduleRoleName", "scheduler.amazonaws.com",
          "the role EventBridge Scheduler runs the subscriber check as", functions.subscriber_schedule_statements(), FUNCTIONS)
    if n.env.chat:
        exported_service_role(t, "ChatChannelRole", "ChatChannelRoleName", "chatbot.amazonaws.com",
              "the role of the env's AWS Chatbot channel configurations", functions.chat_channel_statements(), FUNCTIONS)
    exported_service_role(t, "CrawlerRole", "CrawlerRoleName", "glue.amazonaws.com",
          "the KPI crawler's role", functions.crawler_statements(), FUNCTIONS)
    if n.models_taker:  # another account serves this env's versions (docs/promotion.md)
        exported_service_role(t, "ArchivePinFunctionRole", "ArchivePinFunctionRoleName", "lambda.amazonaws.com",
              "the archive-pin Lambda's role", functions.archive_pin_statements(), FUNCTIONS)
        exported_service_role(t, "PromotionRole", "PromotionRoleName", "events.amazonaws.com",
              "the role EventBridge forwards the group's decisions to the serving env's bus with",
              functions.promotion_statements(n.models_taker), FUNCTIONS)
    add_image_registries(t, n.env.region)  # the registry account the image pulls name
    return t
