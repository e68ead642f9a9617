"""The model quality report: fetch it from S3 and format its `*_metrics` sections for people.

Format (SageMaker model-quality JSON, written by the pipeline's evaluation step):
{"binary_classification_metrics": {"auc": {"value": 0.91, "standard_deviation": "NaN"}, ...}}
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

from . import aws
from shared.log import log

MAX_REPORT_BYTES = 1_000_000  # a quality report is a few KB; refuse to buffer anything huge
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})


@dataclass(frozen=True)
class Report:
    uri: str
    lines: tuple[str, ...] = ()
    unavailable: str = ""  # why there are no lines, for the message and the log


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3://bucket/key URI: {uri[:200]!r}")
    bucket, key = uri[5:].split("/", 1)
    if not bucket or not key:
        raise ValueError(f"not an s3://bucket/key URI: {uri[:200]!r}")
    return bucket, key


def fetch(uri: str) -> Report:
    """Read and format the report. Missing or unreadable reports are reported, not raised;
    transient S3 errors are raised so the invocation is retried."""
    try:
        bucket, key = split_s3_uri(uri)
    except ValueError as exc:
        return Report(uri, unavailable=str(exc))
    try:
        body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        data = body.read(MAX_REPORT_BYTES + 1)
    except Exception as exc:  # noqa: BLE001 - classified below
        if aws.is_transient(exc):
            log("WARNING", "report read failed; raising for retry", decision="retry", step="get_object",
                error_code=aws.error_code(exc), error=str(exc)[:500], report_uri=uri)
            raise
        code = aws.error_code(exc)
        reason = "not found in S3" if code in _MISSING_CODES else f"could not be read ({code or type(exc).__name__})"
        return Report(uri, unavailable=reason)
    if len(data) > MAX_REPORT_BYTES:
        return Report(uri, unavailable=f"larger than {MAX_REPORT_BYTES} bytes")
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nesting deeper than json can parse
        return Report(uri, unavailable="not valid JSON")
    lines = format_metrics(parsed)
    return Report(uri, lines=tuple(lines), unavailable="" if lines else "no *_metrics sections")


def _number(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, str):
        try:
            return _number(float(value)) if value.strip().lower() not in ("nan", "") else "NaN"
        except ValueError:
            return value[:200]
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


def _metric(value) -> str:
    """{"value": v, "standard_deviation": s} -> "v (± s)"; anything else, compactly."""
    if isinstance(value, dict) and "value" in value:
        text = _number(value["value"])
        std = value.get("standard_deviation")
        if std is not None and _number(std) != "NaN":
            text += f" (± {_number(std)})"
        return text
    return _number(value)


NAME_WIDTH_MAX = 40
NAME_MAX_CHARS = 200


def _name(name) -> str:
    text = str(name)
    return text if len(text) <= NAME_MAX_CHARS else text[: NAME_MAX_CHARS - 3] + "..."


def format_metrics(report: object) -> list[str]:
    """One heading per `*_metrics` section, one "name: value" line per metric, sorted by name."""
    if not isinstance(report, dict):
        return []
    lines: list[str] = []
    for section in sorted(k for k in report if isinstance(k, str) and k.endswith("_metrics")):
        metrics = report[section]
        title = section[: -len("_metrics")].replace("_", " ").strip().capitalize() or "Metrics"
        lines.append(f"{title}:")
        if isinstance(metrics, dict):
            # Names are clipped and the column capped: padding every line to one huge name would
            # turn a report under 1 MB into gigabytes.
            names = {name: _name(name) for name in metrics}
            width = min(max((len(n) for n in names.values()), default=0), NAME_WIDTH_MAX)
            lines += [f"  {names[name]:<{width}}  {_metric(metrics[name])}" for name in sorted(metrics, key=str)]
        else:
            lines.append(f"  {_number(metrics)}")
    return lines
