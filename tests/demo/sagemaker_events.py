"""The "SageMaker Model Package State Change" event, built from DescribeModelPackage as SageMaker would.

moto emits no events, so the demo builds them. Shape (SageMaker developer guide, "Events
that Amazon SageMaker sends to Amazon EventBridge"): the detail carries the package's own fields,
timestamps as epoch-millisecond strings; `resources` holds the package ARN.
"""
from __future__ import annotations

import datetime as dt
import json

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"

# DescribeModelPackage fields SageMaker copies into the event detail (when present).
DETAIL_FIELDS = (
    "ApprovalDescription", "CertifyForMarketplace", "CreationTime", "InferenceSpecification", "LastModifiedTime",
    "MetadataProperties", "ModelApprovalStatus", "ModelMetrics", "ModelPackageArn", "ModelPackageGroupName",
    "ModelPackageStatus", "ModelPackageVersion",
)


def _epoch_ms(value) -> str:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return str(int(moment.timestamp() * 1000))
    return str(value)


def detail(described: dict) -> dict:
    out = {key: described[key] for key in DETAIL_FIELDS if key in described}
    for key in ("CreationTime", "LastModifiedTime"):
        if key in out:
            out[key] = _epoch_ms(out[key])
    return dict(sorted(out.items()))


def put_events_entry(described: dict, now: dt.datetime) -> dict:
    """One PutEvents entry; EventBridge adds id, account, region and version on delivery."""
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(detail(described), sort_keys=True, default=str),
        "Resources": [described["ModelPackageArn"]],
        "Time": now,
    }
