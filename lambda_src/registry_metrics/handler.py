"""Lambda entry point: count model registry changes and publish each registered version's quality.

Triggered by the KPI stack's EventBridge rule on every "SageMaker Model Package State Change" of a
Completed package in this environment's group. Never loses an event: a transient AWS error raises
(EventBridge/Lambda retry, then the DLQ keeps it); an event that can never produce a metric is logged
and ignored. Each version counts once as registered (with its quality points), whatever status it was
registered with, and once per decision: the ledger (ledger.py) claims each count before it is
published, so duplicate events count nothing (nor an unrelated update of the version: SageMaker sends one for
every field it changes), and releases the claims when publishing fails. All
datapoints of one event go out in one PutMetricData call, after every read. Each decision (Approved,
Rejected) is also recorded once for analysts (decisions.py), before the counts are claimed.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from . import contract, decisions
from .events import Change, Ignored, parse
from .ledger import Ledger
from shared.log import log
from .report import MAX_REPORT_BYTES, BadReport, quality_metrics, split_s3_uri

# Errors that say the thing is gone or was never there: retrying cannot help, so skip the quality part.
_MISSING = {"NoSuchKey", "NoSuchBucket", "404", "ValidationException", "ResourceNotFound"}


# Every call ends well inside the function's timeout: a stalled call must raise (and release its claims),
# never be cut off by Lambda after a claim, which would lose that count for good.
_CALLS = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3, read_timeout=8)
# Claiming and publishing take at most a few such calls; with less time left, retry the event instead.
CLAIM_BUDGET_MS = 45_000


@lru_cache(maxsize=None)
def client(service: str):
    return boto3.client(service, config=_CALLS)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _described(change: Change) -> dict:
    """DescribeModelPackage's answer ({} if the package is gone): who decided, and the report URI if the event lacks it."""
    try:
        return client("sagemaker").describe_model_package(ModelPackageName=change.package_arn)
    except ClientError as exc:
        if _error_code(exc) in _MISSING:
            log("WARNING", "model package not found; no quality metrics or decider", model_package=change.package_arn)
            return {}
        raise


def _report_uri(change: Change, package: dict) -> str | None:
    """The event usually carries the report URI; if not, the package's metrics may."""
    if change.report_uri:
        return change.report_uri
    uri = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    return uri or None


def _quality(change: Change, package: dict) -> dict[str, float]:
    uri = _report_uri(change, package)
    if not uri:
        log("WARNING", "registered version has no quality report", model_package=change.package_arn)
        return {}
    try:
        bucket, key = split_s3_uri(uri)
        body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read(MAX_REPORT_BYTES + 1)
        return quality_metrics(body)
    except (BadReport, ParamValidationError, ValueError) as exc:
        # ParamValidationError/ValueError: the SDK refused the URI before sending (invalid bucket name,
        # a key UTF-8 cannot encode); retrying cannot help, so count without quality like a bad report.
        log("WARNING", "quality report unreadable; publishing counts only", report=uri[:1024], reason=str(exc)[:500])
        return {}
    except ClientError as exc:
        if _error_code(exc) in _MISSING:
            log("WARNING", "quality report missing; publishing counts only", report=uri, code=_error_code(exc))
            return {}
        raise


def metric_data(change: Change, counts: list[str], quality: dict[str, float]) -> list[dict]:
    """The datapoints for one change: 1 per count metric, plus one ModelQuality point per evaluation metric."""
    group = [{"Name": contract.DIMENSION, "Value": change.group}]
    data = [
        {"MetricName": metric, "Dimensions": group, "Timestamp": change.time, "Value": 1.0, "Unit": contract.COUNT_UNIT}
        for metric in counts
    ]
    for name, value in quality.items():
        data.append(
            {
                "MetricName": contract.QUALITY_METRIC,
                "Dimensions": group + [{"Name": contract.QUALITY_METRIC_DIMENSION, "Value": name}],
                "Timestamp": change.time,
                "Value": value,
                "Unit": contract.QUALITY_UNIT,
            }
        )
    return data


def _wanted(change: Change) -> list[str]:
    """What this change may count: the version's registration, and its decision if it has one."""
    decision = contract.DECISION_METRICS.get(change.status)
    return [contract.MODELS_REGISTERED] + ([decision] if decision else [])



def _release(ledger: Ledger, keys: list[str], package_arn: str) -> None:
    try:
        ledger.release(client("s3"), keys)
    except Exception as exc:  # the original error is raised anyway; these counts will be missing
        log("ERROR", "could not release count claims; the retry will not count them", keys=keys, error=str(exc)[:500],
            model_package=package_arn)


def handle(event: object, namespace: str, group: str, ledger: Ledger, remaining_ms=lambda: CLAIM_BUDGET_MS) -> dict:
    try:
        change = parse(event, group)
    except Ignored as exc:
        log("INFO", "event ignored", reason=str(exc), event_id=event.get("id") if isinstance(event, dict) else None)
        return {"published": 0, "ignored": str(exc)}
    claimed: list[str] = []
    decided = change.status in contract.DECISION_METRICS
    try:
        # Every read before the first claim: between a claim and the publish, only the ledger and CloudWatch.
        package = _described(change) if decided or not change.report_uri else {}
        quality = _quality(change, package)
        row = decisions.record(change, package) if decided else b""
        at = json.loads(row)["decided_at"] if decided else None
        if decided and ledger.record(client("s3"), change, row, at):
            log("INFO", "decision recorded", model_package=change.package_arn, status=change.status,
                key=ledger.decision_key(change, at))
        if remaining_ms() < CLAIM_BUDGET_MS:
            raise TimeoutError(f"{remaining_ms()} ms left, fewer than the {CLAIM_BUDGET_MS} ms claiming and publishing may take")
        counts = []
        for metric in _wanted(change):
            key = ledger.claim_count(client("s3"), change, metric)
            if key:
                claimed.append(key)
                counts.append(metric)
        if not counts:
            reason = "already counted (a repeated event, or an update that changes no count)"
            log("INFO", "event ignored", reason=reason, model_package=change.package_arn, status=change.status)
            return {"published": 0, "ignored": reason}
        data = metric_data(change, counts, quality if contract.MODELS_REGISTERED in counts else {})
        client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=data)
    except Exception as exc:
        # Raised for Lambda to retry (then the DLQ); logged first so the decision is on record too.
        code = _error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        log("WARNING", "AWS call failed; raising for retry", code=code, error=str(exc)[:500], model_package=change.package_arn)
        if claimed:
            _release(ledger, claimed, change.package_arn)
        raise
    log(
        "INFO",
        "metrics published",
        namespace=namespace,
        model_package=change.package_arn,
        version=change.version,
        status=change.status,
        metrics=[d["MetricName"] for d in data],
        quality=quality if contract.MODELS_REGISTERED in counts else {},
    )
    return {"published": len(data)}


def lambda_handler(event, context):
    ledger = Ledger(os.environ["LEDGER_BUCKET"], os.environ["LEDGER_PREFIX"], os.environ["DECISIONS_PREFIX"])
    remaining = context.get_remaining_time_in_millis if context is not None else (lambda: CLAIM_BUDGET_MS)
    return handle(event, os.environ["METRICS_NAMESPACE"], os.environ["MODEL_PACKAGE_GROUP"], ledger, remaining)
