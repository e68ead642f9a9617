"""The registry-metrics Lambda: per-event handling time against in-process moto, and its import cost."""
from __future__ import annotations

import json
import os
import statistics
import time

from tests.benchmarks.common import PY, Row, run_cold
from tests.support.s3 import create_bucket

REGION = "eu-west-1"
BUCKET = "bench-artifacts"
NAMESPACE = "MLOps/bench"
GROUP = "bench-models"
REPORT_KEY = "sagemaker/bench/evaluation/exec-1/evaluation.json"


def _event(status: str, with_report: bool, version: int) -> dict:
    detail = {"ModelPackageGroupName": GROUP, "ModelPackageVersion": version, "ModelApprovalStatus": status,
              "ModelPackageStatus": "Completed",
              "ModelPackageArn": f"arn:aws:sagemaker:{REGION}:111111111111:model-package/{GROUP}/{version}"}
    if with_report:
        detail["ModelMetrics"] = {"ModelQuality": {"Statistics": {"S3Uri": f"s3://{BUCKET}/{REPORT_KEY}"}}}
    return {"source": "aws.sagemaker", "detail-type": "SageMaker Model Package State Change", "detail": detail}


def _per_event_ms(runs: int = 200) -> tuple[float, float]:
    """(median ms of an approval, median ms of a registration that reads a report), warm clients."""
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
                       "AWS_EC2_METADATA_DISABLED": "true"})
    import boto3
    from moto import mock_aws

    from lambda_src.registry_metrics import handler
    from lambda_src.registry_metrics.ledger import Ledger

    ledger = Ledger(BUCKET, f"registry-ledger/{GROUP}/", f"model-decisions/{GROUP}/")

    handler.client.cache_clear()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        create_bucket(s3, BUCKET)
        s3.put_object(Bucket=BUCKET, Key=REPORT_KEY, Body=json.dumps(
            {"binary_classification_metrics": {"auc": {"value": 0.91}, "accuracy": {"value": 0.87}}}).encode())
        handler.handle(_event("PendingManualApproval", True, 0), NAMESPACE, GROUP, ledger)  # warm the clients
        approvals, registrations = [], []
        for version in range(1, runs + 1):  # each version new, so every event counts (the ledger skips repeats)
            start = time.perf_counter()
            handler.handle(_event("PendingManualApproval", True, version), NAMESPACE, GROUP, ledger)
            registrations.append(time.perf_counter() - start)
            start = time.perf_counter()
            handler.handle(_event("Approved", False, version), NAMESPACE, GROUP, ledger)
            approvals.append(time.perf_counter() - start)
        out = [statistics.median(approvals) * 1000, statistics.median(registrations) * 1000]
    handler.client.cache_clear()
    return out[0], out[1]


def rows() -> list[Row]:
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # the handler logs a JSON line per event
        approval, registration = _per_event_ms()
    floor, _ = run_cold([PY, "-c", "import boto3"])
    cold, _ = run_cold([PY, "-c", "import sys; sys.path.insert(0, 'lambda_src'); import registry_metrics.handler"])  # as Lambda loads it
    return [
        Row("registry-metrics: approval event (1 conditional PutObject + PutMetricData, moto), median ms", f"{approval:.2f}", "< 50 ms",
            "ok" if approval < 50 else "OVER"),
        Row("registry-metrics: registration + report (conditional PutObject + GetObject + PutMetricData, moto), median ms", f"{registration:.2f}",
            "< 100 ms", "ok" if registration < 100 else "OVER"),
        Row("registry-metrics: cold import of the handler, median s", f"{cold:.3f}", f"<= 1.2x import boto3 ({floor:.3f})",
            "ok" if cold <= 1.2 * floor else "OVER"),
    ]
