"""boto3 clients with bounded retries and timeouts, created on first use and cached per service.

Control-plane calls (SageMaker, S3, CodePipeline) retry in botocore's standard mode: three attempts
with jittered backoff ride out throttling, and 2 s connect / 8 s read timeouts bound one call's worst
case (a hung service) near 33 s. The deployment functions make a few such calls in a row (Resolve's quota check
one per page of quotas and endpoints and two per endpoint of the account, each fast unless throttled), and their
Lambda timeouts (5 minutes each) leave time to report the failure to the pipeline.

The SageMaker runtime client does not retry: a retry inside a timed InvokeEndpoint call would be
counted as the endpoint's latency, and a smoke test that needs a second try has found something.
"""
from __future__ import annotations

CONTROL_PLANE = {"retries": {"mode": "standard", "max_attempts": 3}, "connect_timeout": 2, "read_timeout": 8}
# An answer slower than 30 s is far over any latency budget: fail the smoke test rather than wait for
# the endpoint's own 60 s limit. Never retried (see above).
RUNTIME = {"retries": {"mode": "standard", "max_attempts": 1}, "connect_timeout": 2, "read_timeout": 30}
_SETTINGS = {"sagemaker-runtime": RUNTIME}

_clients: dict[str, object] = {}


def client(service: str):
    if service not in _clients:
        import boto3
        from botocore.config import Config

        _clients[service] = boto3.client(service, config=Config(**_SETTINGS.get(service, CONTROL_PLANE)))
    return _clients[service]


def reset() -> None:
    """Forget cached clients (tests create fresh ones per moto mock)."""
    _clients.clear()


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) or type(exc).__name__


def is_aws_error(exc: BaseException) -> bool:
    """An error from calling AWS (after botocore's retries), as opposed to a bug in this code."""
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, (BotoCoreError, ClientError))
