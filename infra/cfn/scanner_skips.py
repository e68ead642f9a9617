"""Checkov findings we accept, each with the reason a security reviewer reads.

Kept in one table so docs/security.md and the tests can list every one; applied to
each resource's Metadata (where checkov reads skips) by the stack that owns the resource.
"""
from __future__ import annotations

from troposphere import Template

_NO_VPC = (
    "Calls only AWS APIs (SageMaker, S3, Glue, SNS, CloudWatch) over TLS and reaches nothing inside a VPC; "
    "a VPC would add NAT or endpoint costs and no protection."
)
_NO_RESERVED_CONCURRENCY = (
    "Handles a few events per model version. Reserving concurrency fails in accounts at the default "
    "concurrency quota (unreserved concurrency must stay at 100 or more), so none is reserved."
)

SKIPS: dict[tuple[str, str], dict[str, str]] = {
    ("pipeline", "ArtifactBucket"): {
        "CKV_AWS_18": (
            "Server access logs would need a log bucket per environment that itself has no access log. "
            "Object-level access to this bucket is audited with CloudTrail S3 data events, which the "
            "account's trail should enable for it."
        ),
    },
    ("notifications", "NotifierFunction"): {
        "CKV_AWS_116": (
            "Asynchronous failures go to the notifier's SQS dead-letter queue through an EventInvokeConfig "
            "OnFailure destination, which records the error with the event; DeadLetterConfig would keep only the event."
        ),
        "CKV_AWS_117": _NO_VPC,
        "CKV_AWS_115": _NO_RESERVED_CONCURRENCY,
    },
    ("kpi", "MetricsFunction"): {
        "CKV_AWS_117": _NO_VPC,
        "CKV_AWS_115": _NO_RESERVED_CONCURRENCY,
        "CKV_AWS_173": (
            "The environment holds only names (metrics namespace, model package group), nothing secret; it is "
            "encrypted at rest with Lambda's service key."
        ),
    },
    ("kpi", "PartitionsFunction"): {
        "CKV_AWS_117": _NO_VPC,
        "CKV_AWS_115": _NO_RESERVED_CONCURRENCY,
        "CKV_AWS_173": (
            "The environment holds only names (pipeline, bucket, prefix, Glue database, table and crawler), nothing "
            "secret; it is encrypted at rest with Lambda's service key."
        ),
    },
    ("kpi", "SubscriberCheckFunction"): {
        "CKV_AWS_116": (
            "Scheduled every 15 minutes: a failed or missed run publishes no count, and its alarms treat missing "
            "data as breaching, so a queue would only repeat what the alarm already says."
        ),
        "CKV_AWS_117": (
            "Calls only SNS (ListSubscriptionsByTopic) and CloudWatch (PutMetricData) over TLS and reaches nothing "
            "inside a VPC; a VPC would add NAT or endpoint costs and no protection."
        ),
        "CKV_AWS_115": (
            "Runs once every 15 minutes. Reserving concurrency fails in accounts at the default concurrency quota "
            "(unreserved concurrency must stay at 100 or more), so none is reserved."
        ),
        "CKV_AWS_173": (
            "The environment holds only names (the two topics' ARNs, the metrics namespace), nothing secret; it is "
            "encrypted at rest with Lambda's service key."
        ),
    },
    ("messaging", "PartitionsDeadLetterQueue"): {
        "CKV_AWS_27": (
            "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled). EventBridge cannot deliver to a queue "
            "encrypted with an AWS managed KMS key, and the queue holds only SageMaker event envelopes."
        ),
    },
    **{("deployment", function): {
        "CKV_AWS_117": _NO_VPC,
        "CKV_AWS_115": (
            "Invoked by the deployment pipeline, a few times per approved version. Reserving concurrency fails in "
            "accounts at the default concurrency quota, so none is reserved."
        ),
        "CKV_AWS_173": (
            "The environment holds only names (model package group, metrics namespace, endpoint) and a latency "
            "budget, nothing secret; it is encrypted at rest with Lambda's service key."
        ),
    } for function in ("ResolveFunction", "SmokeTestFunction")},
    ("messaging", "MetricsDeadLetterQueue"): {
        "CKV_AWS_27": (
            "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled). EventBridge cannot deliver to a queue "
            "encrypted with an AWS managed KMS key, and the queue holds only SageMaker event envelopes."
        ),
    },
    # A source env's archive pin (only where another account serves the env's versions).
    ("notifications", "ArchivePinFunction"): {
        "CKV_AWS_117": _NO_VPC,
        "CKV_AWS_115": _NO_RESERVED_CONCURRENCY,
        "CKV_AWS_173": (
            "The environment holds only names (model package group, bucket, models folder, the serving images' "
            "repositories), nothing secret; it is encrypted at rest with Lambda's service key."
        ),
    },
    ("messaging", "ArchivePinDeadLetterQueue"): {
        "CKV_AWS_27": (
            "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled). EventBridge cannot deliver to a queue "
            "encrypted with an AWS managed KMS key, and the queue holds only SageMaker event envelopes."
        ),
    },
}


def apply(template: Template, stack: str) -> None:
    """Write this stack's accepted findings into its resources' Metadata (those the env's config gives it: a source
    env's archive pin is only there; tests/templates/test_scanner_skips.py sees each in some env's render)."""
    for (owner, logical_id), checks in SKIPS.items():
        if owner != stack or logical_id not in template.resources:
            continue
        resource = template.resources[logical_id]
        metadata = dict(getattr(resource, "Metadata", None) or {})
        metadata["checkov"] = {"skip": [{"id": check, "comment": reason} for check, reason in sorted(checks.items())]}
        resource.Metadata = metadata
