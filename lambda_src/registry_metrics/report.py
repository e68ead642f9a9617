"""Evaluation metrics from a model quality report (the JSON evaluate.py writes).

Shape: {"binary_classification_metrics": {"auc": {"value": 0.91, "standard_deviation": "NaN"}, …}}.
Any top-level "*_metrics" section is read, so a regression report works the same way.
"""
from __future__ import annotations

import json
import math


MAX_REPORT_BYTES = 1_000_000  # a quality report is a few KB; refuse to buffer anything huge
MAX_QUALITY_METRICS = 100


class BadReport(Exception):
    """The report is not JSON of the expected shape: nothing to publish from it."""


def quality_metrics(body: bytes) -> dict[str, float]:
    """metric name -> value, sorted by name; non-numeric and non-finite values are left out."""
    if len(body) > MAX_REPORT_BYTES:
        raise BadReport(f"larger than {MAX_REPORT_BYTES} bytes")
    try:
        report = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested too deep to parse
        raise BadReport(f"not JSON: {str(exc)[:200]}") from None
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
            if _accepted_name(name) and _accepted_value(value):
                found[name] = float(value)
    if not found:
        raise BadReport("no numeric metric values under a *_metrics section")
    # One PutMetricData call takes at most 1,000 datapoints (and 1 MB); a real report has a handful.
    return dict(sorted(found.items())[:MAX_QUALITY_METRICS])


def _accepted_name(name) -> bool:
    """CloudWatch dimension values: printable ASCII with a non-space; anything else fails the whole put."""
    return isinstance(name, str) and 0 < len(name) <= 255 and name.isascii() and name.isprintable() and bool(name.strip())


def _accepted_value(value) -> bool:
    """CloudWatch rejects magnitudes beyond 2^360 or below 2^-360 (zero is fine) and fails the whole put."""
    try:
        return value == 0 or 2.0**-360 <= abs(float(value)) <= 2.0**360
    except OverflowError:  # an int too big for a float
        return False


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise BadReport(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket or not key:
        raise BadReport(f"not an s3://bucket/key URI: {uri!r}")
    return bucket, key
