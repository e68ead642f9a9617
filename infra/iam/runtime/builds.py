"""The builds' statements: the Synth and Upsert CodeBuild projects, which run the repository's code.
The boundary of kind BUILDS is computed from these."""
from __future__ import annotations

import awacs.sagemaker
from awacs.aws import Allow, Statement

from infra.config.names import BUILD_CACHE_PREFIX, LAMBDA_PREFIX
from infra.iam.deploy_policies import actions
from infra.iam.policies import (bucket_info, list_prefix, pass_role, read_prefix, read_write_prefix, use_key_by_alias,
                                write_logs, write_prefix, arn)
from infra.iam.runtime.delivery import PIPELINE_ARTIFACTS

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
