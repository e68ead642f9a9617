"""The SageMaker pipeline's jobs' statements (its execution role). The boundary of kind JOBS is computed from these."""
from __future__ import annotations

import awacs.cloudwatch
import awacs.sagemaker
from awacs.aws import Allow, Condition, Statement, StringEquals, StringLike, StringLikeIfExists

from troposphere import Join, Sub

from infra.cfn.mappings import image_registry_account
from infra.config.names import ROLLBACK_ALARMS, SAGEMAKER_OUTPUT_FOLDERS
from infra.iam.deploy_policies import actions
from infra.iam.policies import (arn, encrypt_by_alias, network_isolated, only_instance_types, all_of, pass_role, pull_images, put_metrics,
                                read_prefix, read_served_archives, use_key_by_alias, write_logs, write_prefix)

# SageMaker built-in images the model-build pipeline pulls (scikit-learn processing, XGBoost training).
BUILT_IN_IMAGE_REPOSITORIES = ["sagemaker-scikit-learn", "sagemaker-xgboost"]
# The image the registered model is served with (the deployment's Resolve refuses a version naming another).
SERVING_IMAGE_REPOSITORIES = ["sagemaker-xgboost"]


def serving_images() -> Join:
    """SERVING_IMAGES of the functions that check a version's images (lambda_src/shared/archives.py): the serving
    repositories in AWS's registry of the region (the template needs the image-registry mapping)."""
    return Join(",", [Sub(f"${{Registry}}.dkr.ecr.${{AWS::Region}}.${{AWS::URLSuffix}}/{repository}",
                          Registry=image_registry_account()) for repository in SERVING_IMAGE_REPOSITORIES])


# SageMaker Pipelines names every pipeline's jobs "pipelines-<execution>-<step>-…", so the name tells no env apart.
PIPELINE_JOBS = [arn("sagemaker", "processing-job/pipelines-*"), arn("sagemaker", "training-job/pipelines-*")]
# Pipelines tags each job it starts with the execution's ARN (the SageMaker SDK's lineage code reads this tag from
# a pipeline's jobs; not in the developer guide: docs/security.md, open risks). The ARN names the pipeline.
EXECUTION_TAG = "aws:ResourceTag/sagemaker:pipeline-execution-arn"
THIS_PIPELINES_EXECUTIONS = arn("sagemaker", "pipeline/${SageMakerPipelineName}/execution/*")


def pipeline_job_statements() -> list[Statement]:
    """Start jobs, and read or stop only the jobs of this env's pipeline: job code runs with this role, and a job
    of another env's pipeline carries that pipeline's execution ARN."""
    return [
        # Creating reads nothing of another job's; the new job's name and tags are SageMaker Pipelines'. Only isolated:
        # the pipeline definition (a push's) asks for it on every job (pipeline_def/pipeline.py), and one that does not
        # is refused. Only on the instance types config names (processing_instance_type, training_instance_type): a run
        # started with other ProcessingInstanceType or TrainingInstanceType parameters is refused, so no push or run
        # picks a costlier fleet.
        Statement(Sid="StartPipelineJobs", Effect=Allow, Action=actions(awacs.sagemaker, "CreateProcessingJob", "CreateTrainingJob"),
                  Resource=PIPELINE_JOBS, Condition=all_of(network_isolated(), only_instance_types("JobInstanceTypes"))),
        Statement(Sid="ThisPipelinesJobs", Effect=Allow,
                  Action=actions(awacs.sagemaker, "DescribeProcessingJob", "StopProcessingJob", "DescribeTrainingJob", "StopTrainingJob"),
                  Resource=PIPELINE_JOBS, Condition=Condition(StringLike({EXECUTION_TAG: THIS_PIPELINES_EXECUTIONS}))),
        # Tagging a job as it is created (there is no tag on it yet), never re-tagging another pipeline's job into
        # this one's: a job that carries an execution ARN must carry one of this pipeline's.
        Statement(Sid="TagPipelineJobsOnCreate", Effect=Allow, Action=[awacs.sagemaker.AddTags], Resource=PIPELINE_JOBS,
                  Condition=Condition(StringLikeIfExists({EXECUTION_TAG: THIS_PIPELINES_EXECUTIONS}))),
    ]


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
        *pipeline_job_statements(),
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


# SageMaker hosting's log groups, one per endpoint; and the namespace of the endpoint instances' own metrics.
ENDPOINT_LOG_GROUPS = ("/aws/sagemaker/Endpoints/${StagingEndpointName}", "/aws/sagemaker/Endpoints/${ProductionEndpointName}")
ENDPOINT_METRICS_NAMESPACE = "/aws/sagemaker/Endpoints"


def model_serving_statements(takes_models: bool = False) -> list[Statement]:
    """The endpoints' model role: load the registered model (its archive under the pipeline's models/ folder, once the
    deployment pipeline has checked and tagged it; the
    built-in XGBoost image), log and report metrics for this env's two endpoints, write captured requests."""
    return [
        *read_served_archives("ModelArchives", "ModelArchivesDecrypt", takes_models),
        *pull_images("ServingImages", SERVING_IMAGE_REPOSITORIES),
        *[write_logs(f"{name}EndpointLogs", group) for name, group in zip(("Staging", "Production"), ENDPOINT_LOG_GROUPS)],
        put_metrics("EndpointMetrics", ENDPOINT_METRICS_NAMESPACE),
        *write_prefix("DataCapture", "${DataCapturePrefix}"),
        encrypt_by_alias("DataCaptureEncrypt", "${ArtifactKeyAlias}"),
        # Deployment guardrails: "Ensure that your IAM execution role has permission to perform the
        # cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify."
        Statement(Sid="ReadRollbackAlarms", Effect=Allow, Action=[awacs.cloudwatch.DescribeAlarms],
                  Resource=[arn("cloudwatch", f"alarm:{ROLLBACK_ALARMS}")]),
    ]
