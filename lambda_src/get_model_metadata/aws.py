"""Lazily created boto3 clients and the line between transient and permanent AWS errors.

boto3 is imported on first use, not at module import: a cold start that ignores the event never
pays for it, and importing the handler stays cheap (see benchmarks/notifications.py).
"""
from __future__ import annotations

_clients: dict[str, object] = {}

# Error codes that mean "try again later", whatever the service.
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "SlowDown", "RequestThrottled", "ProvisionedThroughputExceededException",
    "ServiceUnavailable", "InternalError", "InternalFailure", "KMSThrottlingException",
})


def client(service: str):
    if service not in _clients:
        import boto3
        from botocore.config import Config

        # Standard retries absorb short throttling bursts; what still fails is raised to the caller.
        config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=15)
        _clients[service] = boto3.client(service, config=config)
    return _clients[service]


def reset() -> None:
    """Forget cached clients (tests create fresh ones per moto mock)."""
    _clients.clear()


def _refused_locally(exc: BaseException) -> bool:
    from botocore.exceptions import ParamValidationError

    return isinstance(exc, (ParamValidationError, ValueError))


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_transient(exc: BaseException) -> bool:
    """Throttling, a 5xx, or no ClientError shape at all (timeouts, connection errors)."""
    response = getattr(exc, "response", None)
    if response is None:
        # Refused before any request was sent (an invalid bucket name, text UTF-8 cannot encode):
        # the input is bad and a retry would fail the same way, so this is permanent.
        return not _refused_locally(exc)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error_code(exc) in THROTTLING_CODES or int(status or 0) >= 500
