"""Create or update the SageMaker pipeline in AWS (the upsert CodeBuild project runs this).

Lookups live here, not in build_pipeline: role, region, bucket, artifact key and credentials come from the
environment (CodeBuild sets them; see buildspec.yaml) and are checked against config first.
We call the SageMaker API ourselves instead of Pipeline.upsert(): that re-adds every tag on each
update (duplicates on some backends) and appends Studio/SDK-config tags we do not manage.
"""
from __future__ import annotations

from typing import Mapping

import boto3
import botocore.exceptions

from infra.config.names import Names
from pipeline_def.target import AwsError, UsageError, bucket_for, check_key_arn, cross_check, resolve_region


def description(names: Names) -> str:
    base = names.project.description or f"{names.project.name} model build"
    return f"{base} ({names.env_name})"


# CloudFormation does not manage the SageMaker pipeline: this upsert does. Said so in its tag.
MANAGED_BY_KEY, MANAGED_BY = "managed-by", "pipeline_def-upsert"


def tags(names: Names) -> list[dict]:
    """Project tags, then env tags (an env may override a project tag), then `managed-by`, sorted by key."""
    merged = {**names.project.tags, **names.env.tags, MANAGED_BY_KEY: MANAGED_BY}
    return [{"Key": k, "Value": str(merged[k])} for k in sorted(merged)]


def _aws_error(exc: Exception) -> AwsError:
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return AwsError("no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run in CodeBuild)")
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        op = getattr(exc, "operation_name", "AWS call")
        return AwsError(f"{op} failed: {err.get('Code', 'Error')}: {err.get('Message', '')}".replace("\n", " ").rstrip(": "))
    return AwsError(f"{type(exc).__name__}: {exc}".replace("\n", " "))


def _role(role_arn: str | None, environ: Mapping[str, str]) -> str:
    role = role_arn or environ.get("SAGEMAKER_ROLE_ARN")
    if not role:
        raise UsageError("no execution role: set SAGEMAKER_ROLE_ARN or pass --role-arn")
    if not role.startswith("arn:") or ":role/" not in role:
        raise UsageError(f"execution role '{role}' is not an IAM role ARN")
    return role


def _bucket(names: Names, explicit: str | None, environ: Mapping[str, str], boto_session: boto3.Session, region: str) -> str:
    bucket = explicit or environ.get("ARTIFACT_BUCKET")
    if not bucket:
        account = boto_session.client("sts").get_caller_identity()["Account"]
        bucket = bucket_for(names, account, region)
    if not bucket.startswith(f"{names.artifact_bucket_prefix}-"):
        raise UsageError(f"artifact bucket '{bucket}' is not this env's ('{names.artifact_bucket_prefix}-<account>-<region>')")
    return bucket


def _key_arn(names: Names, explicit: str | None, environ: Mapping[str, str], boto_session: boto3.Session) -> str:
    """The artifact key's ARN: given (CodeBuild sets ARTIFACT_KEY_ARN), else looked up from the env's alias."""
    key_arn = explicit or environ.get("ARTIFACT_KEY_ARN")
    if not key_arn:
        key_arn = boto_session.client("kms").describe_key(KeyId=names.artifact_key_alias)["KeyMetadata"]["Arn"]
    return check_key_arn(names, key_arn)


def upload_scripts(s3, names: Names, bucket: str) -> list[str]:
    """Put the step scripts and their library at content-addressed keys (rewriting identical bytes is harmless)."""
    from pipeline_def.pipeline import LIBRARY, SCRIPTS, STEPS_DIR, library_prefix, script_key

    keys = [(script_key(names, script), script) for script in SCRIPTS]
    keys += [(f"{library_prefix(names)}{name}", name) for name in LIBRARY]
    for key, name in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=(STEPS_DIR / name).read_bytes(), ContentType="text/x-python")
    return [f"s3://{bucket}/{key}" for key, _ in keys]


def seed_sample_data(s3, names: Names, bucket: str) -> str | None:
    """Put the generated sample at input/churn.csv when the input location holds nothing; never overwrite.

    Reads nothing of the input: one list of its prefix (key names), then a write that S3 refuses if the key exists
    (If-None-Match), which is the only write there the build's role allows (infra/iam/runtime/builds.py)."""
    from pipeline_def import sample_data

    listed = s3.list_objects_v2(Bucket=bucket, Prefix=names.input_prefix, MaxKeys=1)
    if listed.get("KeyCount", 0):
        return None
    key = f"{names.input_prefix}{sample_data.FILE_NAME}"
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=sample_data.csv_bytes(), ContentType="text/csv", IfNoneMatch="*")
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "PreconditionFailed":
            raise
        return None  # someone's data arrived between the list and the write: theirs stays
    return f"s3://{bucket}/{key}"


def console_link(names: Names, region: str, execution_arn: str) -> str:
    """Where to watch an execution: SageMaker Studio's pipeline page (the classic console lists none)."""
    execution_id = execution_arn.rsplit("/", 1)[-1]
    return (f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/pipelines/"
            f"{names.sagemaker_pipeline}/executions/{execution_id}")


def start_execution(sm, names: Names, region: str) -> list[str]:
    arn = sm.start_pipeline_execution(
        PipelineName=names.sagemaker_pipeline,
        PipelineExecutionDescription=f"started by pipeline_def for {names.env_name}",
    )["PipelineExecutionArn"]
    return [f"started {arn}", f"watch: {console_link(names, region, arn)}",
            f"status: aws sagemaker describe-pipeline-execution --region {region} --pipeline-execution-arn {arn}"]


def _session(names: Names, environ: Mapping[str, str]):
    region = resolve_region(names, dict(environ))
    from pipeline_def import session as sm_session

    boto_session = sm_session.boto_session(region, offline=False)
    if boto_session.get_credentials() is None:
        raise _aws_error(botocore.exceptions.NoCredentialsError())
    return region, boto_session


def start_only(names: Names, environ: Mapping[str, str]) -> list[str]:
    """`make run`: start an execution of the env's (existing) pipeline with its default parameters."""
    region, boto_session = _session(names, environ)
    try:
        return start_execution(boto_session.client("sagemaker"), names, region)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise _aws_error(exc) from None


def create_or_update(sm, names: Names, definition: str, role: str) -> tuple[str, str]:
    """('created'|'updated', pipeline ARN). Tags are set on create and reconciled by sync_tags."""
    common = {
        "PipelineName": names.sagemaker_pipeline,
        "PipelineDefinition": definition,
        "PipelineDescription": description(names),
        "RoleArn": role,
    }
    try:
        sm.describe_pipeline(PipelineName=names.sagemaker_pipeline)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("ResourceNotFound", "ValidationException"):
            raise
        arn = sm.create_pipeline(**common, PipelineDisplayName=names.sagemaker_pipeline, Tags=tags(names))["PipelineArn"]
        return "created", arn
    arn = sm.update_pipeline(**common, PipelineDisplayName=names.sagemaker_pipeline)["PipelineArn"]
    return "updated", arn


def sync_tags(sm, arn: str, wanted: list[dict]) -> list[str]:
    """Add tags that are missing or differ; never re-add equal ones. Returns the keys written.

    Tags removed from config stay on the pipeline: the upsert role may not DeleteTags (least privilege).
    """
    current: dict[str, str] = {}
    for page in sm.get_paginator("list_tags").paginate(ResourceArn=arn):
        current.update({t["Key"]: t["Value"] for t in page["Tags"]})
    changed = [t for t in wanted if current.get(t["Key"]) != t["Value"]]
    if changed:
        sm.add_tags(ResourceArn=arn, Tags=changed)
    return [t["Key"] for t in changed]


def run(names: Names, environ: Mapping[str, str], *, role_arn: str | None = None, bucket: str | None = None,
        key_arn: str | None = None, start: bool = False) -> list[str]:
    """Upsert; returns the lines to print. Raises UsageError (exit 2) or AwsError (exit 1).

    Starts an execution when `start` or the env's `sagemaker.start_on_upsert` says so."""
    cross_check(names, dict(environ))
    role = _role(role_arn, environ)
    region, boto_session = _session(names, environ)
    from pipeline_def import session as sm_session

    out = []
    try:
        bucket = _bucket(names, bucket, environ, boto_session, region)
        key_arn = _key_arn(names, key_arn, environ, boto_session)
        from pipeline_def.pipeline import build_pipeline

        sess = sm_session.pipeline_session(boto_session, bucket)
        definition = build_pipeline(names, names.env, sess, role_arn=role, key_arn=key_arn).definition()
        sm, s3 = boto_session.client("sagemaker"), boto_session.client("s3")
        for uri in upload_scripts(s3, names, bucket):
            out.append(f"uploaded {uri}")
        if names.env.sample_data:
            seeded = seed_sample_data(s3, names, bucket)
            out.append(f"uploaded sample data {seeded}" if seeded else f"input data present under s3://{bucket}/{names.input_prefix}: left as is")
        verb, arn = create_or_update(sm, names, definition, role)
        out.append(f"{verb} {arn}")
        if verb == "updated":
            written = sync_tags(sm, arn, tags(names))
            if written:
                out.append(f"tagged {', '.join(written)}")
        if start or names.env.start_on_upsert:
            out.extend(start_execution(sm, names, region))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise _aws_error(exc) from None
    return out
