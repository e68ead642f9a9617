"""Evaluation metrics from a model quality report (the JSON evaluate.py writes).

Shape: {"binary_classification_metrics": {"auc": {"value": 0.91, "standard_deviation": "NaN"}, …}}.
Any top-level "*_metrics" section is read, so a regression report works the same way.
"""
from __future__ import annotations

import json
import math


class BadReport(Exception):
    """The report is not JSON of the expected shape: nothing to publish from it."""


def quality_metrics(body: bytes) -> dict[str, float]:
    """metric name -> value, sorted by name; non-numeric and non-finite values are left out."""
    try:
        report = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadReport(f"not JSON: {exc}") from None
    if not isinstance(report, dict):
        raise BadReport("top level is not an object")
    found: dict[str, float] = {}
    for section, metrics in report.items():
        if not (isinstance(section, str) and section.endswith("_metrics") and isinstance(metrics, dict)):
            continue
        for name, entry in metrics.items():
            value = entry.get("value") if isinstance(entry, dict) else None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            if isinstance(name, str) and 0 < len(name) <= 255:
                found[name] = float(value)
    if not found:
        raise BadReport("no numeric metric values under a *_metrics section")
    return dict(sorted(found.items()))


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise BadReport(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket or not key:
        raise BadReport(f"not an s3://bucket/key URI: {uri!r}")
    return bucket, key
