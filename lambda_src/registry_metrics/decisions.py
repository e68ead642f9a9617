"""The record of one decision on a model version, for analysts: a row of the KPI stack's `decisions` table.

The event says what was decided, on which version, when (its LastModifiedTime, else its own time) and with which
ApprovalDescription; it does not say who ("SageMaker model package state change", SageMaker developer guide).
DescribeModelPackage does (LastModifiedBy, a UserContext: an IAM identity or a Studio user profile), but only of
the package's latest change: when the package has since changed status again, that is someone else's decision, so
the record leaves who unknown rather than name the wrong person. The execution that registered the version comes
from MetadataProperties.GeneratedBy (arn:…:pipeline/<name>/execution/<id>). One JSON object per line: the
table's SerDe reads a line per row.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from .contract import DECISION_COLUMNS
from .events import Change

_EXECUTION = re.compile(r":pipeline/[^/]+/execution/([A-Za-z0-9-]{1,128})$")
FIELD_MAX_CHARS = 1024  # ApprovalDescription's own limit


def iso(value: object) -> str | None:
    """ISO 8601 UTC to the second, from describe's datetimes, events' epoch milliseconds or ISO text; else None."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            number = float(value)
        except ValueError:
            try:
                moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                return None
            moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        else:
            try:
                moment = datetime.fromtimestamp(number / 1000 if number > 1e11 else number, tz=timezone.utc)
            except (OverflowError, ValueError, OSError):
                return None
    else:
        return None
    try:
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError):
        return None


def who(user: object) -> str | None:
    """The IAM identity's ARN (an assumed role's names the session, so the person), else the Studio user profile."""
    if not isinstance(user, dict):
        return None
    identity = user.get("IamIdentity") if isinstance(user.get("IamIdentity"), dict) else {}
    for value in (identity.get("Arn"), user.get("UserProfileName"), user.get("UserProfileArn")):
        if isinstance(value, str) and value:
            return value[:FIELD_MAX_CHARS]
    return None


def execution_id(metadata: object) -> str | None:
    generated_by = metadata.get("GeneratedBy") if isinstance(metadata, dict) else None
    match = _EXECUTION.search(generated_by) if isinstance(generated_by, str) else None
    return match.group(1) if match else None


def _text(value: object) -> str | None:
    return value[:FIELD_MAX_CHARS] if isinstance(value, str) and value else None


def record(change: Change, package: dict) -> bytes:
    """The row for `change` (an Approved or Rejected event); `package`: DescribeModelPackage's answer, or {}."""
    detail = change.detail
    # Describe still shows this decision: its status, and (where both say) the time of this change, not a later one.
    event_time, described_time = iso(detail.get("LastModifiedTime")), iso(package.get("LastModifiedTime"))
    still = package.get("ModelApprovalStatus") == change.status and (not event_time or not described_time
                                                                      or event_time == described_time)
    row = {
        "model_package_group": change.group,
        "model_version": change.version,
        "model_package_arn": change.package_arn,
        "execution_id": execution_id(detail.get("MetadataProperties")) or execution_id(package.get("MetadataProperties")),
        "decision": change.status,
        "decided_by": who(package.get("LastModifiedBy") or package.get("CreatedBy")) if still else None,
        "decided_at": iso(detail.get("LastModifiedTime")) or (iso(package.get("LastModifiedTime")) if still else None)
                      or iso(change.sent),
        "registered_at": iso(detail.get("CreationTime")) or iso(package.get("CreationTime")),
        "description": _text(detail.get("ApprovalDescription")) or (_text(package.get("ApprovalDescription")) if still else None),
    }
    return (json.dumps({name: row[name] for name, _ in DECISION_COLUMNS}) + "\n").encode("ascii")
