"""IAM stack: every runtime role of the project — the delivery pipeline's, its builds', the SageMaker
jobs', the functions' and the crawler's.

Administrator-only, like the deploy roles: `make deploy` creates and changes it, the pipeline never
deploys it, and no role the pipeline may pass can write to IAM. So a push to the repository can change
what the stacks contain, but no role's permissions and no trust policy: role changes are reviewed and
applied by an administrator. Roles are named from parameters so other stacks and the KMS key policies
can name them before they import anything. Each role's ARN is exported as "<iam stack>-<RoleLogicalId>Arn".
"""
from __future__ import annotations

import awacs.cloudformation
import awacs.codebuild
import awacs.codecommit
import awacs.codepipeline
import awacs.codeconnections
import awacs.codestar_connections
import awacs.glue
import awacs.sagemaker
from awacs.aws import Allow, Condition, Statement, StringEquals
import awacs.s3
from troposphere import GetAtt, Ref, Sub, Template, iam

from infra import kpi, notifications, parameters
from infra.deploy_policies import actions
from infra.boundary import BUILDS, DELIVERY, FUNCTIONS, JOBS
from infra.roles import exported_service_role
from infra.names import BUILD_CACHE_PREFIX, LAMBDA_PREFIX, SAGEMAKER_OUTPUT_FOLDERS
from infra.source import SOURCE_CONDITIONS, add_source_conditions
from infra.policies import (
    arn,
    bucket_info,
    document,
    list_prefix,
    pass_role,
    publish_to_topic,
    pull_images,
    put_metrics,
    read_prefix,
    use_key_by_alias,
    read_write_prefix,
    trust,
    write_logs,
    write_prefix,
)
from infra.templates_common import new_template


# The stacks the pipeline's CloudFormation actions deploy, by their name parameters (infra/pipeline.py DEPLOYMENTS).
PIPELINE_STACK_NAME_PARAMETERS = ("PipelineStackName", "NotificationsStackName", "KpiStackName")

# CodePipeline chooses the artifact folder itself (the pipeline name, cut to 20 characters).
PIPELINE_ARTIFACTS = "${PipelineArtifactsPrefix}"

# SageMaker built-in images the model-build pipeline pulls (scikit-learn processing, XGBoost training).
BUILT_IN_IMAGE_REPOSITORIES = ["sagemaker-scikit-learn", "sagemaker-xgboost"]


def sagemaker_execution_statements() -> list[Statement]:
    """Run the pipeline's processing and training jobs and register models into the group."""
    return [
        use_key_by_alias("ArtifactKey", "${ArtifactKeyAlias}"),
        # Read everything the pipeline keeps (input data, code, outputs); write only where jobs put outputs:
        # never the input data or the step code, which a job could otherwise overwrite.
        *read_prefix("PipelineData", "${SageMakerPrefix}"),
        *(statement for folder in SAGEMAKER_OUTPUT_FOLDERS
          for statement in write_prefix(f"{folder.title()}Outputs", f"${{SageMakerPrefix}}{folder}/")),
        write_logs("JobLogs", "/aws/sagemaker/*"),
        put_metrics("JobMetrics", "/aws/sagemaker/*"),
        *pull_images("BuiltInImages", BUILT_IN_IMAGE_REPOSITORIES),
        Statement(
            Sid="PipelineJobs",
            Effect=Allow,
            Action=actions(
                awacs.sagemaker, "CreateProcessingJob", "DescribeProcessingJob", "StopProcessingJob",
                "CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob", "AddTags",
            ),
            # SageMaker Pipelines names its jobs "pipelines-<execution>-<step>-…".
            Resource=[arn("sagemaker", "processing-job/pipelines-*"), arn("sagemaker", "training-job/pipelines-*")],
        ),
        # Registration only ever creates versions waiting for a person: approving is not a role's act.
        Statement(
            Sid="RegisterModelsPendingApproval",
            Effect=Allow,
            Action=[awacs.sagemaker.CreateModelPackage],
            Resource=[
                arn("sagemaker", "model-package-group/${ModelPackageGroupName}"),
                arn("sagemaker", "model-package/${ModelPackageGroupName}/*"),
            ],
            Condition=Condition(StringEquals({"sagemaker:ModelApprovalStatus": "PendingManualApproval"})),
        ),
        Statement(
            Sid="ReadModels",
            Effect=Allow,
            Action=actions(awacs.sagemaker, "DescribeModelPackage", "DescribeModelPackageGroup", "ListModelPackages", "AddTags"),
            Resource=[
                arn("sagemaker", "model-package-group/${ModelPackageGroupName}"),
                arn("sagemaker", "model-package/${ModelPackageGroupName}/*"),
            ],
        ),
        pass_role("PassSelfToJobs", ["${SageMakerExecutionRoleName}"], "sagemaker.amazonaws.com"),
    ]


def codepipeline_statements() -> list[Statement]:
    """Move artifacts, fetch the source, run the two builds, ask for release approval, drive the stack deployments."""
    return [
        use_key_by_alias("ArtifactKey", "${ArtifactKeyAlias}"),
        *read_write_prefix("Artifacts", PIPELINE_ARTIFACTS),
        bucket_info("ArtifactBucket"),
        publish_to_topic("AskForReleaseApproval", arn("sns", "${OperationsTopicName}")),
        Statement(
            Sid="RunBuilds",
            Effect=Allow,
            Action=actions(awacs.codebuild, "StartBuild", "BatchGetBuilds", "StopBuild"),
            Resource=[arn("codebuild", "project/${SynthProjectName}"), arn("codebuild", "project/${UpsertProjectName}")],
        ),
        Statement(
            Sid="DeployProjectStacks",
            Effect=Allow,
            # What a CREATE_UPDATE action calls (no change sets, no deletes, no termination protection).
            Action=actions(
                awacs.cloudformation, "CreateStack", "UpdateStack", "DescribeStacks", "DescribeStackEvents",
                "DescribeStackResource", "DescribeStackResources", "GetTemplate", "GetTemplateSummary",
                "GetStackPolicy", "SetStackPolicy",
            ),
            # Only the stacks the pipeline deploys: never the IAM or the deploy-roles stack.
            Resource=[arn("cloudformation", f"stack/${{{param}}}/*") for param in PIPELINE_STACK_NAME_PARAMETERS],
        ),
        Statement(
            Sid="ValidateTemplatesNoResourceLevelPermission",
            Effect=Allow,
            Action=[awacs.cloudformation.ValidateTemplate],
            Resource=["*"],
        ),
        pass_role(
            "PassDeployRoles",
            ["${PipelineDeployRoleName}", "${NotificationsDeployRoleName}", "${KpiDeployRoleName}"],
            "cloudformation.amazonaws.com",
        ),
    ]


def source_statements(source_type: str) -> list[Statement]:
    """What the pipeline role needs to read its source, for one source type."""
    if source_type == "codeconnections":
        return [
            Statement(
                Sid="UseSourceConnection",
                Effect=Allow,
                Action=[awacs.codeconnections.UseConnection, awacs.codestar_connections.UseConnection],
                Resource=[Ref("SourceConnectionArn")],
            )
        ]
    if source_type == "codecommit":
        return [
            Statement(
                Sid="ReadCodeCommitSource",
                Effect=Allow,
                Action=actions(awacs.codecommit, "GetBranch", "GetCommit", "GetRepository", "UploadArchive",
                               "GetUploadArchiveStatus", "CancelUploadArchive"),
                Resource=[arn("codecommit", "${SourceRepository}")],
            )
        ]
    if source_type == "s3":
        return [
            Statement(
                Sid="ReadS3Source",
                Effect=Allow,
                Action=[awacs.s3.GetObject, awacs.s3.GetObjectVersion],
                Resource=[Sub("arn:${AWS::Partition}:s3:::${SourceBucket}/${SourceObjectKey}")],
            ),
            Statement(
                Sid="S3SourceBucket",
                Effect=Allow,
                Action=[awacs.s3.GetBucketVersioning, awacs.s3.GetBucketLocation],
                Resource=[Sub("arn:${AWS::Partition}:s3:::${SourceBucket}")],
            ),
        ]
    raise ValueError(source_type)


def _source_policies(template: Template, role: iam.Role) -> None:
    """One policy per source type, each present only when the env's source is of that type."""
    for logical_id, source_type in (
        ("CodeConnectionsSourcePolicy", "codeconnections"),
        ("CodeCommitSourcePolicy", "codecommit"),
        ("S3SourcePolicy", "s3"),
    ):
        template.add_resource(
            iam.PolicyType(
                logical_id,
                Condition=SOURCE_CONDITIONS[source_type],
                PolicyName=f"{source_type}-source",
                PolicyDocument=document(source_statements(source_type)),
                Roles=[Ref(role)],
            )
        )


def synth_build_statements() -> list[Statement]:
    """Read the source artifact, write the rendered templates and the Lambda zip, and log."""
    return [
        use_key_by_alias("ArtifactKey", "${ArtifactKeyAlias}"),
        *read_write_prefix("Artifacts", PIPELINE_ARTIFACTS),
        # `aws s3 sync --size-only` lists lambda/ to skip zips already there (their keys are content hashes).
        *write_prefix("LambdaCode", LAMBDA_PREFIX),
        list_prefix("LambdaCode", LAMBDA_PREFIX),
        bucket_info("ArtifactBucket"),
        write_logs("BuildLogs", "/aws/codebuild/${SynthProjectName}"),
    ]


def upsert_build_statements() -> list[Statement]:
    """Upload the step scripts and create or update (and optionally start) the SageMaker pipeline."""
    return [
        use_key_by_alias("ArtifactKey", "${ArtifactKeyAlias}"),
        *read_prefix("Artifacts", PIPELINE_ARTIFACTS),
        *read_write_prefix("PipelineCode", "${SageMakerPrefix}"),
        # CodeBuild fetches and saves the project's S3 cache with the build's own role.
        *read_write_prefix("BuildCache", BUILD_CACHE_PREFIX),
        bucket_info("ArtifactBucket"),
        write_logs("BuildLogs", "/aws/codebuild/${UpsertProjectName}"),
        Statement(
            Sid="UpsertPipeline",
            Effect=Allow,
            Action=actions(awacs.sagemaker, "CreatePipeline", "UpdatePipeline", "DescribePipeline", "AddTags", "ListTags",
                           "StartPipelineExecution", "DescribePipelineExecution"),
            Resource=[arn("sagemaker", "pipeline/${SageMakerPipelineName}"),
                      arn("sagemaker", "pipeline/${SageMakerPipelineName}/execution/*")],
        ),
        pass_role("PassExecutionRole", ["${SageMakerExecutionRoleName}"], "sagemaker.amazonaws.com"),
    ]


def source_events_statements() -> list[Statement]:
    """EventBridge starts the pipeline when the CodeCommit branch or the S3 source object changes."""
    return [
        Statement(
            Sid="StartPipeline",
            Effect=Allow,
            Action=[awacs.codepipeline.StartPipelineExecution],
            Resource=[arn("codepipeline", "${CodePipelineName}")],
        )
    ]


def build(project) -> Template:  # noqa: ARG001 - same signature as every stack
    t = new_template("IAM roles of the SageMaker MLOps project: least privilege, scoped to this environment's names")
    add_source_conditions(t)

    exported_service_role(t, "SageMakerExecutionRole", "SageMakerExecutionRoleName", "sagemaker.amazonaws.com",
          "the SageMaker pipeline's execution role", sagemaker_execution_statements(), JOBS)
    pipeline_role = exported_service_role(t, "CodePipelineRole", "CodePipelineRoleName", "codepipeline.amazonaws.com",
          "the delivery pipeline's service role", codepipeline_statements(), DELIVERY)
    _source_policies(t, pipeline_role)
    exported_service_role(t, "SynthBuildRole", "SynthBuildRoleName", "codebuild.amazonaws.com",
          "the synth build's role", synth_build_statements(), BUILDS)
    exported_service_role(t, "UpsertBuildRole", "UpsertBuildRoleName", "codebuild.amazonaws.com",
          "the SageMaker-pipeline upsert build's role", upsert_build_statements(), BUILDS)
    exported_service_role(t, "SourceEventsRole", "SourceEventsRoleName", "events.amazonaws.com",
          "the role EventBridge uses to start the pipeline on a source change", source_events_statements(), DELIVERY)
    # The functions' and the crawler's roles: their statements live beside what they serve.
    exported_service_role(t, "NotifierRole", "NotifierRoleName", "lambda.amazonaws.com",
          "the approval-notifier Lambda's role", notifications.notifier_statements(), FUNCTIONS)
    exported_service_role(t, "MetricsFunctionRole", "MetricsFunctionRoleName", "lambda.amazonaws.com",
          "the registry-metrics Lambda's role", kpi.metrics_function_statements(), FUNCTIONS)
    exported_service_role(t, "PartitionsFunctionRole", "PartitionsFunctionRoleName", "lambda.amazonaws.com",
          "the report-partitions Lambda's role", kpi.partitions_function_statements(), FUNCTIONS)
    exported_service_role(t, "CrawlerRole", "CrawlerRoleName", "glue.amazonaws.com",
          "the KPI crawler's role", kpi.crawler_statements(), FUNCTIONS)
    parameters.declare_used(t)  # every ${Name} the statements use becomes a Parameter
    return t
