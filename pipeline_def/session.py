"""SageMaker SDK sessions that make no calls we did not ask for.

What it takes, as probed against the pinned SDK: an explicit boto3 session with a region, the default
bucket preset (else the SDK checks or creates a bucket in S3), EC2 metadata off for renders (cli.render),
telemetry a no-op (the SDK otherwise sends a request to S3 after decorated calls; its config-file opt-out
is ~8x slower).
"""
from __future__ import annotations

import os
import sys

# Before the SDK reads the environment. (Offline renders also turn EC2 metadata off: cli.render.)
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

import logging  # noqa: E402
import warnings  # noqa: E402

import boto3  # noqa: E402
import botocore.session  # noqa: E402

# The SDK narrates every build ("Popping out 'ProcessingJobName'…", "No Wait, No Logs…", telemetry
# notices, "Not applying SDK defaults from…"): expected behaviour for us, so only errors get through.
# Set before import: the SDK gives "sagemaker.config" a stdout handler unless "sagemaker" has one,
# and stdout is where render prints the definition.
_sdk_logger = logging.getLogger("sagemaker")
_sdk_logger.setLevel(logging.ERROR)
_sdk_logger.addHandler(logging.StreamHandler(sys.stderr))
logging.getLogger("sagemaker.config").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message="Running within a PipelineSession", category=UserWarning)

from sagemaker.telemetry import telemetry_logging  # noqa: E402
from sagemaker.workflow.pipeline_context import PipelineSession  # noqa: E402


def _no_telemetry(*_args, **_kwargs) -> None:
    return None


telemetry_logging._send_telemetry_request = _no_telemetry


def pipeline_session(boto_session: boto3.Session, bucket: str) -> PipelineSession:
    """A PipelineSession whose default bucket is `bucket` (no S3 lookup) in boto_session's region."""
    # Estimator() builds (never calls) a client from boto3's default session; if there is none yet,
    # let it be ours, which reuses the parsed models instead of parsing them again.
    if boto3.DEFAULT_SESSION is None:
        boto3.DEFAULT_SESSION = boto_session
    session = PipelineSession(boto_session=boto_session, default_bucket=bucket)
    session._default_bucket = bucket  # default_bucket() returns this without checking S3
    return session


def _shared_loader():
    """The botocore data loader of the session the SDK built at import (parsed models are cached there)."""
    from sagemaker.jumpstart import constants

    default = getattr(constants, "DEFAULT_JUMPSTART_SAGEMAKER_SESSION", None)
    return default.boto_session._session.get_component("data_loader") if default is not None else None


def boto_session(region: str, *, offline: bool) -> boto3.Session:
    """A boto3 session in `region` that reuses the SDK's parsed service models.

    Parsing botocore's SageMaker model (~0.3 s) once per new session was a third of render time.
    Offline sessions get fake credentials: building clients needs some, rendering never uses them.
    """
    core = botocore.session.get_session()
    loader = _shared_loader()
    if loader is not None:
        core.register_component("data_loader", loader)
    creds = {"aws_access_key_id": "offline", "aws_secret_access_key": "offline"} if offline else {}
    return boto3.Session(botocore_session=core, region_name=region, **creds)
