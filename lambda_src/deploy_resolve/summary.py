"""A short, readable line about the version being deployed, for the pipeline console and the approver.

    version 7 of churn-dev-models, created 2026-11-27T10:04:05Z, auc 0.9123

The quality metric is optional: it comes from the evaluation report the package's ModelMetrics point to
(SageMaker model-quality JSON: {"binary_classification_metrics": {"auc": {"value": 0.91, ...}}}). A
missing, huge or unreadable report costs the metric, never the deployment.
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone

from shared import clients
from shared.archives import split_s3_uri
from shared.log import log

MAX_REPORT_BYTES = 1_000_000  # a quality report is a few KB; never buffer more than this
MAX_SUMMARY_CHARS = 500
PREFERRED_METRICS = ("auc", "f1", "accuracy", "mse", "rmse", "r2")


def created_at(value) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)[:40]


def _value(metric) -> float | None:
    value = metric.get("value") if isinstance(metric, dict) else metric
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def headline_metric(report) -> str | None:
    """"auc 0.9123" from the first *_metrics section holding a preferred (or else any) numeric metric."""
    if not isinstance(report, dict):
        return None
    for section in sorted(k for k in report if isinstance(k, str) and k.endswith("_metrics")):
        metrics = report[section]
        if not isinstance(metrics, dict):
            continue
        names = [n for n in PREFERRED_METRICS if n in metrics] + sorted(n for n in metrics if isinstance(n, str))
        for name in names:
            number = _value(metrics[name])
            if number is not None:
                return f"{name[:40]} {number:.4g}"
    return None


def quality(package: dict) -> str:
    """The headline metric, or why there is none."""
    uri = (((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get("S3Uri")
    if not uri:
        return "no quality report"
    try:
        bucket, key = split_s3_uri(uri)
        body = clients.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        data = body.read(MAX_REPORT_BYTES + 1)
        if len(data) > MAX_REPORT_BYTES:
            raise ValueError(f"report larger than {MAX_REPORT_BYTES} bytes")
        metric = headline_metric(json.loads(data))
    except Exception as exc:  # noqa: BLE001 - optional information: logged, never fatal
        reason = clients.error_code(exc) if clients.is_aws_error(exc) else type(exc).__name__
        log("WARNING", "quality report unavailable", report_uri=str(uri)[:1024], reason=reason, error=str(exc)[:300])
        return f"quality report unavailable ({reason})"
    return metric or "no metric in the quality report"


def line(group: str, package: dict, quality_text: str) -> str:
    text = (f"version {package.get('ModelPackageVersion')} of {group}, "
            f"created {created_at(package.get('CreationTime'))}, {quality_text}")
    return text if len(text) <= MAX_SUMMARY_CHARS else text[: MAX_SUMMARY_CHARS - 3] + "..."
