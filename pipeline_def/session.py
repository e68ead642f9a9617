"""SageMaker SDK sessions that make no calls we did not ask for.

FACTS.md recipe: explicit boto3 session with a region, the default bucket preset (else the SDK
checks or creates a bucket in S3), EC2 metadata off, telemetry a no-op (the SDK otherwise sends a
request to S3 after decorated calls; its config-file opt-out is ~8x slower).
"""
from __future__ import annotations

import os

# Before the SDK (and botocore) read the environment.
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

import boto3  # noqa: E402
import logging  # noqa: E402

logging.getLogger("sagemaker.config").setLevel(logging.WARNING)  # "Not applying SDK defaults from …" on every run

from sagemaker.telemetry import telemetry_logging  # noqa: E402
from sagemaker.workflow.pipeline_context import PipelineSession  # noqa: E402


def _no_telemetry(*_args, **_kwargs) -> None:
    return None


telemetry_logging._send_telemetry_request = _no_telemetry


def pipeline_session(boto_session: boto3.Session, bucket: str) -> PipelineSession:
    """A PipelineSession whose default bucket is `bucket` (no S3 lookup) in boto_session's region."""
    session = PipelineSession(boto_session=boto_session, default_bucket=bucket)
    session._default_bucket = bucket  # default_bucket() returns this without checking S3
    return session


def offline_boto_session(region: str) -> boto3.Session:
    """A boto3 session with fake credentials: building clients needs some, rendering never uses them."""
    return boto3.Session(aws_access_key_id="offline", aws_secret_access_key="offline", region_name=region)
