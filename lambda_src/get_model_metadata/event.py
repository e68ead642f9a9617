"""The SageMaker "Model Package State Change" event, checked and flattened.

Shape as documented in the SageMaker developer guide ("Events that Amazon SageMaker sends to
Amazon EventBridge" -> "SageMaker model package state change"). Optional fields may be absent.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"


MAX_VERSION = 10**18


class MalformedEvent(ValueError):
    """The event cannot be a model package state change; retrying will not fix it."""


@dataclass(frozen=True)
class ModelEvent:
    group: str
    version: int
    arn: str
    status: str
    region: str
    time: str
    detail: dict = field(repr=False)

    @property
    def partition(self) -> str:
        parts = self.arn.split(":")
        return parts[1] if len(parts) > 1 and parts[1] else "aws"


def _text(detail: dict, key: str) -> str:
    value = detail.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"detail.{key} must be a non-empty string, got {type(value).__name__}")
    return value


def _version(detail: dict, arn: str) -> int:
    value = detail.get("ModelPackageVersion")
    if value is None:  # the ARN ends with /<version>
        value = arn.rsplit("/", 1)[-1]
    if isinstance(value, bool):
        raise MalformedEvent("detail.ModelPackageVersion must be a number")
    try:
        version = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity, which Python's json accepts
        raise MalformedEvent(f"detail.ModelPackageVersion must be a number, got {str(value)[:40]!r}") from None
    # SNS rejects Number attributes beyond 38 digits (publish would fail on every retry); real versions are small.
    if abs(version) >= MAX_VERSION:
        raise MalformedEvent(f"detail.ModelPackageVersion is out of range: {str(value)[:40]!r}")
    return version


def parse(event: object) -> ModelEvent:
    """A ModelEvent, or MalformedEvent saying which field is wrong.

    The rule has matched the envelope (source, detail-type) before the function runs, so it is not
    re-checked field by field: that dropped the developer guide's own sample, whose `source` appears
    twice, the second time as a list. Only a detail-type naming another kind of event is refused; what
    decides is whether the detail names a package.
    """
    if not isinstance(event, dict):
        raise MalformedEvent(f"event must be an object, got {type(event).__name__}")
    if isinstance(event.get("detail-type"), str) and event["detail-type"] != DETAIL_TYPE:
        raise MalformedEvent(f"not a model package state change: detail-type={event['detail-type'][:80]!r}")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise MalformedEvent("detail must be an object")
    arn = _text(detail, "ModelPackageArn")
    return ModelEvent(
        group=_text(detail, "ModelPackageGroupName"),
        version=_version(detail, arn),
        arn=arn,
        status=_text(detail, "ModelApprovalStatus"),
        region=str(event.get("region") or (arn.split(":")[3] if arn.count(":") >= 3 else "")),
        time=str(event.get("time") or ""),
        detail=detail,
    )
