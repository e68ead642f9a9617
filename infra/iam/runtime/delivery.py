"""The delivery roles' statements: the CodePipeline service role (and its per-source-type reads) and the role
EventBridge uses to start the pipeline on a source change. The boundary of kind DELIVERY is computed from these."""
from __future__ import annotations

import awacs.cloudformation
import awacs.codebuild
import awacs.codecommit
import awacs.codeconnections
import awacs.codepipeline
import awacs.codestar_connections
import awacs.awslambda
import awacs.s3
from awacs.aws import Allow, Condition, Statement, StringEquals, StringEqualsIfExists
from troposphere import Ref, Sub

from infra.iam.deploy_policies import actions
from infra.iam.policies import (arn, artifact_bucket_arn, bucket_info, pass_role, publish_to_topic, read_write_prefix,
                                use_key_by_alias)

# The stacks the pipeline's CloudFormation actions deploy, by their name parameters (infra/parts/delivery_pipeline.py
# DEPLOYMENTS), and the role each is deployed with; the deployment stack only in an env whose config serves models
# (`deployment`): elsewhere no push can add a stage that deploys it, since this role may neither create it nor pass
# its role.
PIPELINE_STACKS = (("PipelineStackName", "PipelineDeployRoleName"), ("NotificationsStackName", "NotificationsDeployRoleName"),
                   ("KpiStackName", "KpiDeployRoleName"))
SERVING_PIPELINE_STACKS = (("DeploymentStackName", "DeploymentDeployRoleName"),)


# CodePipeline chooses the artifact folder itself (the pipeline name, cut to 20 characters).
PIPELINE_ARTIFACTS = "${PipelineArtifactsPrefix}"


def _deploy_stacks(sid: str, stack_name_parameters: tuple[str, ...], *more_actions: str) -> list[Statement]:
    """What a CloudFormation CREATE_UPDATE action calls on the named stacks (no change sets, no deletes, no termination
    protection), and ValidateTemplate, which names no stack."""
    return [
        Statement(
            Sid=sid,
            Effect=Allow,
            Action=actions(
                awacs.cloudformation, "CreateStack", "UpdateStack", "DescribeStacks", "DescribeStackEvents",
                "DescribeStackResource", "DescribeStackResources", "GetTemplate", "GetTemplateSummary", *more_actions,
            ),
            Resource=[arn("cloudformation", f"stack/${{{param}}}/*") for param in stack_name_parameters],
        ),
        Statement(Sid="ValidateTemplatesNoResourceLevelPermission", Effect=Allow,
                  Action=[awacs.cloudformation.ValidateTemplate], Resource=["*"]),
    ]


def _start_pipeline(sid: str, name_param: str) -> list[Statement]:
    return [Statement(Sid=sid, Effect=Allow, Action=[awacs.codepipeline.StartPipelineExecution],
                      Resource=[arn("codepipeline", f"${{{name_param}}}")])]


def codepipeline_statements(serves_models: bool) -> list[Statement]:
    """Move artifacts, fetch the source, run the two builds, ask for release approval, drive the stack deployments
    (the deployment stack's only where the env serves models)."""
    stacks = PIPELINE_STACKS + (SERVING_PIPELINE_STACKS if serves_models else ())
    return [
        use_key_by_alias("ArtifactKey", "${ArtifactKeyAlias}"),
        *read_write_prefix("Artifacts", PIPELINE_ARTIFACTS),
        bucket_info("ArtifactBucket"),
        # The released templates, the model-deployment pipeline's source (an S3 deploy action, Extract off).
        # CodePipeline's S3 deploy action documents ACL calls as well, for a CannedACL; the action sets none and the
        # bucket enforces its owner (ACLs off), so only PutObject (an ACL grant would be a way to open the object).
        Statement(Sid="PublishRelease", Effect=Allow, Action=[awacs.s3.PutObject],
                  Resource=[artifact_bucket_arn("/${ReleaseObjectKey}")]),
        publish_to_topic("AskForReleaseApproval", arn("sns", "${OperationsTopicName}")),
        Statement(
            Sid="RunBuilds",
            Effect=Allow,
            Action=actions(awacs.codebuild, "StartBuild", "BatchGetBuilds", "StopBuild"),
            Resource=[arn("codebuild", "project/${SynthProjectName}"), arn("codebuild", "project/${UpsertProjectName}")],
        ),
        # Only the stacks the pipeline deploys: never the IAM or the deploy-roles stack. No SetStackPolicy: stack
        # policies are `make deploy`'s, and an update naming none keeps the stack's current one.
        *_deploy_stacks("DeployProjectStacks", tuple(stack for stack, _ in stacks)),
        pass_role("PassDeployRoles", [f"${{{role}}}" for _, role in stacks], "cloudformation.amazonaws.com"),
    ]


def use_connection(sid: str, action, prefix: str) -> Statement:
    """The env's connection, for its repository and branch only: a push that points the source action elsewhere is
    refused (Service Authorization Reference, AWS CodeConnections: UseConnection takes FullRepositoryId, set when
    the connection reaches a specific repository, and BranchName, set when it reaches a specific branch; a call that
    names no branch, such as an upload's status, still names the repository)."""
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=[action],
        Resource=[Ref("SourceConnectionArn")],
        Condition=Condition([StringEquals({f"{prefix}:FullRepositoryId": Ref("SourceRepository")}),
                             StringEqualsIfExists({f"{prefix}:BranchName": Ref("SourceBranch")})]),
    )


def source_statements(source_type: str) -> list[Statement]:
    """What the pipeline role needs to read its source, for one source type."""
    if source_type == "codeconnections":
        return [use_connection(sid, action, prefix) for sid, action, prefix in (
            ("UseSourceConnection", awacs.codeconnections.UseConnection, "codeconnections"),
            # The service's former prefix, which a connection made before the rename is authorised with.
            ("UseSourceConnectionLegacyPrefix", awacs.codestar_connections.UseConnection, "codestar-connections"))]
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


def source_events_statements() -> list[Statement]:
    """EventBridge starts the pipeline when the CodeCommit branch or the S3 source object changes."""
    return _start_pipeline("StartPipeline", "CodePipelineName")


# The model-deployment pipeline deploys these two stacks, and deletes staging once production runs the version.
ENDPOINT_STACK_NAME_PARAMETERS = ("StagingEndpointStackName", "ProductionEndpointStackName")


def deployment_pipeline_statements() -> list[Statement]:
    """Read the released templates, run the resolve and smoke-test functions, ask for production approval,
    deploy (and delete) each endpoint stack as its own deploy role."""
    return [
        use_key_by_alias("ArtifactKey", "${ArtifactKeyAlias}"),
        *read_write_prefix("Artifacts", "${DeploymentArtifactsPrefix}"),
        Statement(Sid="ReadRelease", Effect=Allow, Action=[awacs.s3.GetObject, awacs.s3.GetObjectVersion],
                  Resource=[artifact_bucket_arn("/${ReleaseObjectKey}")]),
        bucket_info("ArtifactBucket"),
        publish_to_topic("AskForProductionApproval", arn("sns", "${OperationsTopicName}")),
        Statement(
            Sid="RunDeploymentFunctions",
            Effect=Allow,
            Action=[awacs.awslambda.InvokeFunction],
            Resource=[arn("lambda", "function:${ResolveFunctionName}"), arn("lambda", "function:${SmokeTestFunctionName}")],
        ),
        # CodePipeline's Lambda invoke action lists functions; the call names no function.
        Statement(Sid="ListFunctionsNoResourceLevelPermission", Effect=Allow, Action=[awacs.awslambda.ListFunctions],
                  Resource=["*"]),
        *_deploy_stacks("DeployEndpointStacks", ENDPOINT_STACK_NAME_PARAMETERS),
        # The Staging stage's DELETE_ONLY: the staging stack only, never production's.
        Statement(Sid="DeleteStagingStack", Effect=Allow, Action=[awacs.cloudformation.DeleteStack],
                  Resource=[arn("cloudformation", "stack/${StagingEndpointStackName}/*")]),
        # Each endpoint stack's own deploy role, to CloudFormation only.
        pass_role("PassEndpointDeployRoles", ["${StagingEndpointDeployRoleName}", "${ProductionEndpointDeployRoleName}"],
                  "cloudformation.amazonaws.com"),
    ]


def deployment_events_statements() -> list[Statement]:
    """EventBridge starts the deployment pipeline when a version of the group is approved or rejected."""
    return _start_pipeline("StartDeploymentPipeline", "DeploymentPipelineName")
