"""The builds' statements: the Synth and Upsert CodeBuild projects, which run the repository's code.
The boundary of kind BUILDS is computed from these."""
from __future__ import annotations

import awacs.s3
import awacs.sagemaker
from awacs.aws import Allow, Condition, Statement, StringEquals

from infra.config.names import BUILD_CACHE_PREFIX, CODE_FOLDER, INPUT_FOLDER, LAMBDA_PREFIX, SAMPLE_INPUT_FILE
from infra.iam.deploy_policies import actions
from infra.iam.policies import (artifact_bucket_arn, bucket_info, list_prefix, pass_role, read_prefix, read_write_prefix,
                                sub, use_key_by_alias, write_logs, write_prefix, arn)
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


UPSERT_INPUT = f"${{SageMakerPrefix}}{INPUT_FOLDER}/"


def seed_sample_statements() -> list[Statement]:
    """Is the input folder empty (a list of that one prefix: key names, never an object)? Then put the sample at its
    one key, only where no object is (If-None-Match: *; the s3:if-none-match key, "Enforce conditional writes on
    Amazon S3 buckets", S3 user guide), so no data someone uploaded is overwritten (pipeline_def/upsert.py
    seed_sample_data). Nothing here reads an object."""
    return [
        Statement(Sid="InputEmptyList", Effect=Allow, Action=[awacs.s3.ListBucket], Resource=[artifact_bucket_arn()],
                  Condition=Condition(StringEquals({"s3:prefix": sub(UPSERT_INPUT)}))),
        Statement(Sid="SampleInputWrite", Effect=Allow, Action=[awacs.s3.PutObject],
                  Resource=[artifact_bucket_arn(f"/{UPSERT_INPUT}{SAMPLE_INPUT_FILE}")],
                  Condition=Condition(StringEquals({"s3:if-none-match": "*"}))),
    ]


def upsert_build_statements(seeds_sample: bool = True) -> list[Statement]:
    """Upload the step scripts and create or update (and optionally start) the SageMaker pipeline; where config's
    `sample_data` is on (`seeds_sample`), put the sample into an empty input folder. The builds' boundary keeps the
    sample's write only there too."""
    return [
        use_key_by_alias("ArtifactKey", "${ArtifactKeyAlias}"),
        *read_prefix("Artifacts", PIPELINE_ARTIFACTS),
        # The step code it uploads; nothing else of the pipeline's prefix, and it reads none of it: not the training
        # data, the splits, the models or the reports (a push's code runs here, with the internet).
        *write_prefix("PipelineCode", f"${{SageMakerPrefix}}{CODE_FOLDER}/"),
        *(seed_sample_statements() if seeds_sample else []),
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
