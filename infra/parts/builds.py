"""The delivery pipeline's two CodeBuild projects, each with its encrypted log group: Synth (checks the rendered
templates, publishes the hash-keyed Lambda zips) and Upsert (the repo's buildspec.yaml: the SageMaker pipeline)."""
from __future__ import annotations

import yaml
from troposphere import GetAtt, Ref, Sub, Template, codebuild, kms, logs, s3

from infra.cfn.exports import import_value
from infra.config.names import BUILD_CACHE_PREFIX, ENDPOINT_STACKS, LAMBDA_PREFIX
from infra.parts.artifact_store import ARTIFACT_KEY_ALIAS
from infra.parts.delivery_pipeline import DEPLOYMENTS

CODEBUILD_IMAGE = "aws/codebuild/standard:7.0"
PYTHON_RUNTIME = "3.11"
SYNTH_OUTPUT_DIR = "build/lambda"


def synth_artifact_files(serves_models: bool) -> list[str]:
    """Exactly the files later stages read: this env's template and TemplateConfiguration of each stack deployed (in an
    env that serves models, the deployment stack and the endpoint stacks the model-deployment pipeline reads)."""
    stacks = [stack for stack in DEPLOYMENTS if serves_models or stack != "deployment"]
    stacks += list(ENDPOINT_STACKS) if serves_models else []
    return [f"templates/${{Environment}}/{stack}.{kind}" for stack in stacks for kind in ("yaml", "json")]


def synth_buildspec(serves_models: bool) -> str:
    """The Synth buildspec, as YAML text for Fn::Sub (${Environment} is written in: this env's files).

    Generated here rather than kept in the repo so a test can read the artifact list beside the
    actions that consume it. Shell variables are written without braces: Sub would take ${X} as its own.
    """
    spec = {
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": {
            "install": {
                "runtime-versions": {"python": PYTHON_RUNTIME},
                # The generator's pins only: no Node, no SageMaker SDK.
                "commands": ["python -m pip install --no-cache-dir --disable-pip-version-check --no-input -r requirements.txt"],
            },
            "build": {
                "commands": [
                    # templates/ is committed and reviewed: fail if it is not what the code renders.
                    "python generate.py --check",
                    f"python -m infra.lambda_package {SYNTH_OUTPUT_DIR}",
                    f"mkdir -p {SYNTH_OUTPUT_DIR}/{LAMBDA_PREFIX}",
                    # Keys are content hashes: an existing key already holds these bytes, so skip it.
                    f"aws s3 sync {SYNTH_OUTPUT_DIR}/{LAMBDA_PREFIX} s3://$ARTIFACT_BUCKET/{LAMBDA_PREFIX} --size-only --no-progress",
                ]
            },
        },
        "artifacts": {"files": synth_artifact_files(serves_models), "discard-paths": "no"},
    }
    return yaml.safe_dump(spec, sort_keys=True, default_flow_style=False)


def _log_group(t: Template, logical_id: str, project_param: str) -> logs.LogGroup:
    return t.add_resource(
        logs.LogGroup(
            logical_id,
            LogGroupName=Sub(f"/aws/codebuild/${{{project_param}}}"),
            RetentionInDays=Ref("LogRetentionDays"),
            KmsKeyId=GetAtt("ArtifactKey", "Arn"),
        )
    )


def _build_project(t, logical_id, name_param, role_export, key, log_group, buildspec, env_vars, description, timeout,
                   cache=None):
    return t.add_resource(
        codebuild.Project(
            logical_id,
            DependsOn=[ARTIFACT_KEY_ALIAS],
            **({"Cache": cache} if cache else {}),
            Name=Ref(name_param),
            Description=description,
            ServiceRole=import_value("IamStackName", role_export),
            EncryptionKey=GetAtt(key, "Arn"),
            Source=codebuild.Source(Type="CODEPIPELINE", BuildSpec=buildspec),
            Artifacts=codebuild.Artifacts(Type="CODEPIPELINE"),
            Environment=codebuild.Environment(
                Type="LINUX_CONTAINER",
                ComputeType="BUILD_GENERAL1_SMALL",
                Image=CODEBUILD_IMAGE,
                ImagePullCredentialsType="CODEBUILD",
                EnvironmentVariables=[codebuild.EnvironmentVariable(Name=k, Type="PLAINTEXT", Value=v) for k, v in env_vars],
            ),
            LogsConfig=codebuild.LogsConfig(
                CloudWatchLogs=codebuild.CloudWatchLogs(Status="ENABLED", GroupName=Ref(log_group))
            ),
            TimeoutInMinutes=timeout,
            QueuedTimeoutInMinutes=60,
        )
    )


def upsert_cache() -> codebuild.ProjectCache:
    """The pip cache buildspec.yaml names (`cache: paths`), kept in the artifact bucket between builds.

    An S3 cache, because a LOCAL cache lives only while CodeBuild happens to reuse the same host:
    without it every build downloads the SageMaker SDK's wheels again. Encrypted with the project's key.
    """
    return codebuild.ProjectCache(Type="S3", Location=Sub(f"${{ArtifactBucket}}/{BUILD_CACHE_PREFIX}${{UpsertProjectName}}"))


def upsert_environment(bucket: s3.Bucket, key: kms.Key) -> list[tuple[str, object]]:
    """Exactly what the repo's buildspec.yaml reads."""
    return [
        ("PROJECT_NAME", Ref("ProjectName")),
        ("ENV_NAME", Ref("Environment")),
        ("SAGEMAKER_PIPELINE_NAME", Ref("SageMakerPipelineName")),
        ("SAGEMAKER_ROLE_ARN", import_value("IamStackName", "SageMakerExecutionRoleArn")),
        ("MODEL_PACKAGE_GROUP_NAME", Ref("ModelPackageGroupName")),
        ("ARTIFACT_BUCKET", Ref(bucket)),
        # The key ARN the SageMaker jobs name for their outputs: the form the bucket policy compares.
        ("ARTIFACT_KEY_ARN", GetAtt(key, "Arn")),
    ]


def add(t: Template, key: kms.Key, bucket: s3.Bucket, serves_models: bool) -> tuple[codebuild.Project, codebuild.Project]:
    """The Synth and Upsert projects."""
    SynthLogGroup = _log_group(t, "SynthLogGroup", "SynthProjectName")
    UpsertLogGroup = _log_group(t, "UpsertLogGroup", "UpsertProjectName")
    SynthProject = _build_project(
        t, "SynthProject", "SynthProjectName", "SynthBuildRoleArn", key, SynthLogGroup, Sub(synth_buildspec(serves_models)),
        [("ARTIFACT_BUCKET", Ref(bucket))], "Check the rendered templates and publish the Lambda zips", 20,
    )
    UpsertProject = _build_project(
        t, "UpsertProject", "UpsertProjectName", "UpsertBuildRoleArn", key, UpsertLogGroup, "buildspec.yaml",
        upsert_environment(bucket, key), "Create or update the SageMaker model-build pipeline", 60,
        cache=upsert_cache(),
    )
    return SynthProject, UpsertProject
