"""Read a "SageMaker Model Package State Change" event into the few fields the metrics need.

Anything that is not such an event for our group, of a Completed package, with a status we count, is
Ignored with a reason: retrying it could never succeed, so it is logged and dropped rather than dead-lettered.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .contract import COUNTED_STATUSES, PACKAGE_COMPLETED

DETAIL_TYPE = "SageMaker Model Package State Change"
SOURCE = "aws.sagemaker"
# CloudWatch refuses datapoints older than two weeks; a late redrive from the DLQ is stamped "now".
_OLDEST_ACCEPTED = timedelta(days=13)


class Ignored(Exception):
    """The event is well understood and carries nothing to publish (or cannot be read at all)."""


@dataclass(frozen=True)
class Change:
    group: str
    status: str
    package_arn: str
    version: int | None
    report_uri: str | None
    time: datetime  # for CloudWatch: within the two weeks it accepts
    sent: str = ""  # the event's own time, as sent
    detail: dict = field(default_factory=dict, repr=False, compare=False)


def _parse_time(text: object, now: datetime) -> datetime:
    if isinstance(text, str):
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return now
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        if now - _OLDEST_ACCEPTED <= when <= now + timedelta(minutes=5):
            return when
    return now


def _report_uri(detail: dict) -> str | None:
    try:
        uri = detail["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    except (KeyError, TypeError):
        return None
    return uri if isinstance(uri, str) and uri.startswith("s3://") else None


def parse(event: object, group: str, now: datetime | None = None) -> Change:
    """The change the event describes, or raise Ignored saying why not."""
    now = now or datetime.now(timezone.utc)
    if not isinstance(event, dict):
        raise Ignored(f"event is {type(event).__name__}, not an object")
    # The rule matched the envelope; only a detail-type naming another event is refused, then the detail
    # decides (see get_model_metadata/event.py: the guide's own sample repeats `source` as a list).
    if isinstance(event.get("detail-type"), str) and event["detail-type"] != DETAIL_TYPE:
        raise Ignored(f"not a model package state change: {event['detail-type'][:80]!r}")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise Ignored("event has no detail object")
    if detail.get("ModelPackageGroupName") != group:
        raise Ignored(f"model package group {detail.get('ModelPackageGroupName')!r} is not {group!r}")
    package_status = detail.get("ModelPackageStatus")
    if package_status != PACKAGE_COMPLETED:
        raise Ignored(f"model package status {package_status!r} is not {PACKAGE_COMPLETED!r}")
    status = detail.get("ModelApprovalStatus")
    if not isinstance(status, str) or status not in COUNTED_STATUSES:  # a list or dict here would be unhashable
        raise Ignored(f"approval status {status!r} is not counted")
    arn = detail.get("ModelPackageArn")
    if not isinstance(arn, str) or not arn:
        raise Ignored("event has no ModelPackageArn")
    version = detail.get("ModelPackageVersion")
    return Change(
        group=group,
        status=status,
        package_arn=arn,
        version=version if isinstance(version, int) and not isinstance(version, bool) else None,
        report_uri=_report_uri(detail),
        time=_parse_time(event.get("time"), now),
        sent=event.get("time") if isinstance(event.get("time"), str) else "",
        detail=detail,
    )
