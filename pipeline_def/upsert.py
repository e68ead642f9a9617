"""Create or update the SageMaker pipeline in AWS (the upsert CodeBuild project runs this).

Lookups live here, not in build_pipeline: role, region, bucket and credentials come from the
environment (CodeBuild sets them; see buildspec.yaml) and are checked against config first.
We call the SageMaker API ourselves instead of Pipeline.upsert(): that re-adds every tag on each
update (duplicates on some backends) and appends Studio/SDK-config tags we do not manage.
"""
from __future__ import annotations

from typing import Mapping

import boto3
import botocore.exceptions

from infra.names import Names
from pipeline_def.cli import AwsError, UsageError, bucket_for, cross_check, resolve_region


def description(names: Names) -> str:
    base = names.project.description or f"{names.project.name} model build"
    return f"{base} ({names.env_name})"


def tags(names: Names) -> list[dict]:
    """Project tags, then env tags (an env may override a project tag), sorted by key."""
    merged = {**names.project.tags, **names.env.tags}
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


def upload_scripts(s3, names: Names, bucket: str) -> list[str]:
    """Put the step scripts at their content-addressed keys (rewriting identical bytes is harmless)."""
    from pipeline_def.pipeline import SCRIPTS, STEPS_DIR, script_key

    uris = []
    for script in SCRIPTS:
        key = script_key(names, script)
        s3.put_object(Bucket=bucket, Key=key, Body=(STEPS_DIR / script).read_bytes(), ContentType="text/x-python")
        uris.append(f"s3://{bucket}/{key}")
    return uris


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
        start: bool = False) -> list[str]:
    """Upsert; returns the lines to print. Raises UsageError (exit 2) or AwsError (exit 1)."""
    cross_check(names, dict(environ))
    region = resolve_region(names, dict(environ))
    role = _role(role_arn, environ)
    from pipeline_def import session as sm_session

    boto_session = sm_session.boto_session(region, offline=False)
    if boto_session.get_credentials() is None:
        raise _aws_error(botocore.exceptions.NoCredentialsError())
    out = []
    try:
        bucket = _bucket(names, bucket, environ, boto_session, region)
        from pipeline_def.pipeline import build_pipeline

        sess = sm_session.pipeline_session(boto_session, bucket)
        definition = build_pipeline(names, names.env, sess, role_arn=role).definition()
        sm = boto_session.client("sagemaker")
        for uri in upload_scripts(boto_session.client("s3"), names, bucket):
            out.append(f"uploaded {uri}")
        verb, arn = create_or_update(sm, names, definition, role)
        out.append(f"{verb} {arn}")
        if verb == "updated":
            written = sync_tags(sm, arn, tags(names))
            if written:
                out.append(f"tagged {', '.join(written)}")
        if start:
            execution = sm.start_pipeline_execution(PipelineName=names.sagemaker_pipeline)["PipelineExecutionArn"]
            out.append(f"started {execution}")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise _aws_error(exc) from None
    return out
