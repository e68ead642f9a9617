"""The analysts' documented queries (docs/analysts.md: trend, approval rate, time to approve) answer right on data
laid out as the pipeline, the registry-metrics function and Glue lay it out.

Model package events go through the real handler (moto S3, DescribeModelPackage answered in botocore's shape), which
writes the decision records; reports are written where evaluate.py writes them. Each table is then read as Athena reads
it: `evaluation` one row per execution folder (partition_0), a column per top-level key of the report, null where a
report lacks one (InheritFromTable); `decisions` one row per line, the declared columns. The documented SQL runs on
SQLite with the few Trino functions it uses defined as Trino documents them (date_trunc's week starts on Monday;
date_diff counts whole units). A query that joins the wrong column, counts a repeated event twice, or reads a field
the records do not hold fails here.
"""
from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from lambda_src.registry_metrics import contract, handler
from lambda_src.registry_metrics.ledger import Ledger
from pipeline_def.steps import evaluate
from tests.conftest import ROOT
from tests.support.s3 import create_bucket

REGION = "us-east-1"
ACCOUNT = "111111111111"
BUCKET = "kpi-queries-test"
GROUP = "any-group"
PIPELINE = "any-pipeline"
EVALUATION = f"sagemaker/{PIPELINE}/evaluation/"
APPROVER = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Approver_0123/ana@example.com"


def _ms(text: str) -> str:
    """SageMaker's events carry times as epoch milliseconds in strings."""
    return str(int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000))


def _event(version: int, status: str, execution: str, registered: str, modified: str) -> dict:
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/{version}"
    return {"version": "0", "id": f"{version}-{status}", "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker", "account": ACCOUNT, "time": modified, "region": REGION, "resources": [arn],
            "detail": {"ModelPackageGroupName": GROUP, "ModelPackageVersion": version, "ModelPackageArn": arn,
                       "ModelApprovalStatus": status, "ModelPackageStatus": "Completed",
                       "CreationTime": _ms(registered), "LastModifiedTime": _ms(modified),
                       "MetadataProperties": {"GeneratedBy": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{PIPELINE}/execution/{execution}"},
                       "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                                        "S3Uri": f"s3://{BUCKET}/{EVALUATION}{execution}/evaluation.json"}}}}}


class _SageMaker:
    """DescribeModelPackage as botocore returns it: the package's current status and who changed it last."""

    def __init__(self):
        self.packages: dict[str, dict] = {}

    def describe_model_package(self, ModelPackageName):  # noqa: N803 - boto3's keyword
        return self.packages[ModelPackageName]


def _report(s3, execution: str, auc: float, evaluated_at: str | None) -> None:
    doc = {"binary_classification_metrics": {"auc": {"value": auc, "standard_deviation": "NaN"},
                                             "accuracy": {"value": 0.8, "standard_deviation": "NaN"}}}
    if evaluated_at:  # reports written before evaluated_at existed have none
        doc[evaluate.EVALUATED_AT] = evaluated_at
    s3.put_object(Bucket=BUCKET, Key=f"{EVALUATION}{execution}/{evaluate.REPORT_FILE}", Body=json.dumps(doc).encode())


def _decide(sagemaker: _SageMaker, ledger: Ledger, version: int, status: str, execution: str, registered: str, at: str):
    event = _event(version, status, execution, registered, at)
    arn = event["detail"]["ModelPackageArn"]
    sagemaker.packages[arn] = {"ModelPackageArn": arn, "ModelApprovalStatus": status,
                               "LastModifiedBy": {"IamIdentity": {"Arn": APPROVER, "PrincipalId": "AROA:ana"}},
                               "LastModifiedTime": datetime.fromisoformat(at.replace("Z", "+00:00"))}
    handler.handle(event, "MLOps/any", GROUP, ledger)


@pytest.fixture
def tables(monkeypatch):
    """The two tables as Athena reads them, after a month of executions and decisions."""
    sagemaker = _SageMaker()
    real = handler.client
    real.cache_clear()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        create_bucket(s3, BUCKET)
        monkeypatch.setattr(handler, "client", lambda service: sagemaker if service == "sagemaker" else real(service))
        ledger = Ledger(BUCKET, f"registry-ledger/{GROUP}/", f"model-decisions/{GROUP}/")
        _report(s3, "old0execution", 0.75, None)
        _report(s3, "a1", 0.80, "2026-11-02T09:00:00Z")  # a Monday
        _report(s3, "b2", 0.90, "2026-11-10T07:00:00Z")
        _report(s3, "c3", 0.70, "2026-12-01T07:00:00Z")  # below the threshold: never registered
        now = datetime.now(timezone.utc)
        recent = lambda hours: (now - timedelta(days=3) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
        registered_1, registered_2 = recent(0), recent(1)
        _decide(sagemaker, ledger, 1, "Approved", "a1", registered_1, recent(4))
        _decide(sagemaker, ledger, 1, "Approved", "a1", registered_1, recent(4))  # SageMaker sent it twice
        _decide(sagemaker, ledger, 2, "Rejected", "b2", registered_2, recent(25))
        evaluation, decisions = _as_athena_reads(s3)
    real.cache_clear()
    return evaluation, decisions, now


def _as_athena_reads(s3) -> tuple[list[dict], list[dict]]:
    evaluation, decisions = [], []
    for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]:
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
        if item["Key"].startswith(EVALUATION):
            evaluation.append({**json.loads(body), "partition_0": item["Key"][len(EVALUATION):].split("/")[0]})
        elif item["Key"].startswith(f"model-decisions/{GROUP}/"):
            decisions += [json.loads(line) for line in body.splitlines()]
    return evaluation, decisions


def _week(moment: float) -> str:
    day = datetime.fromtimestamp(moment, timezone.utc)
    return (day - timedelta(days=day.weekday())).strftime("%Y-%m-%d")


TRINO = {  # the Trino functions the documented queries use, as Trino defines them
    "from_iso8601_timestamp": (1, lambda text: None if text is None
                               else datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()),
    "date_trunc": (2, lambda unit, moment: None if moment is None else
                   {"week": _week, "month": lambda m: datetime.fromtimestamp(m, timezone.utc).strftime("%Y-%m-01")}[unit](moment)),
    "date_diff": (3, lambda unit, start, end: int((end - start) / {"hour": 3600, "minute": 60, "day": 86400}[unit])),
}


def _sqlite(sql: str) -> str:
    """Trino's struct fields (report.section.metric.value) as SQLite's json_extract on the struct's JSON."""
    return re.sub(r"\b(?:(\w+)\.)?(\w+_metrics)\.(\w+)\.value\b",
                  lambda m: f"json_extract({m[1] + '.' if m[1] else ''}{m[2]}, '$.{m[3]}.value')", sql)


def _run(sql: str, evaluation: list[dict], decisions: list[dict]) -> list[tuple]:
    db = sqlite3.connect(":memory:")
    for name, (arity, fn) in TRINO.items():
        db.create_function(name, arity, fn)
    for table, rows, columns in (("evaluation", evaluation, sorted({k for r in evaluation for k in r})),
                                 ("decisions", decisions, [name for name, _ in contract.DECISION_COLUMNS])):
        db.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
        db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                       [[json.dumps(r.get(c)) if isinstance(r.get(c), dict) else r.get(c) for c in columns] for r in rows])
    return db.execute(_sqlite(sql)).fetchall()


def documented(title: str) -> str:
    blocks = re.findall(r"```sql\n(.*?)```", (ROOT / "docs" / "analysts.md").read_text(), re.S)
    (block,) = [b for b in blocks if b.startswith(f"-- {title}")]
    return block


def test_the_decisions_table_has_the_columns_each_record_holds(tables):
    evaluation, decisions, _ = tables
    assert [list(d) for d in decisions] == [[name for name, _ in contract.DECISION_COLUMNS]] * 2


def test_trend_gives_each_weeks_executions_and_quality(tables):
    evaluation, decisions, _ = tables
    rows = _run(documented("Trend"), evaluation, decisions)
    assert rows == [("2026-11-02", 1, 0.8, 0.8), ("2026-11-09", 1, 0.9, 0.9), ("2026-11-30", 1, 0.7, 0.7)]


def test_approval_rate_counts_each_decision_once(tables):
    evaluation, decisions, now = tables
    rows = _run(documented("Approval rate"), evaluation, decisions)
    months = sorted({(now - timedelta(days=3) + timedelta(hours=h)).strftime("%Y-%m-01") for h in (4, 25)})
    if len(months) == 1:
        assert rows == [(months[0], 2, 1, 0.5)]
    else:  # the two decisions fell either side of a month's end
        assert rows == [(months[0], 1, 1, 1.0), (months[1], 1, 0, 0.0)]


def test_time_to_approve_names_the_approver_and_the_evaluated_quality(tables):
    evaluation, decisions, _ = tables
    assert _run(documented("Time to approve"), evaluation, decisions) == [(1, APPROVER, 4, 0.8)]
