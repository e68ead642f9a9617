"""Each decision on a model version becomes one record analysts can query, with the event's fields and who decided.

SageMaker may send an event several times; a version registered Pending counts no decision; who decided comes from
DescribeModelPackage, which tells only the package's latest change.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest
from moto import mock_aws

from lambda_src.registry_metrics import contract, decisions, handler
from lambda_src.registry_metrics.ledger import Ledger
from tests.support.s3 import create_bucket

REGION, ACCOUNT, BUCKET, GROUP = "us-east-1", "111111111111", "decision-records-test", "any-group"
LEDGER = Ledger(BUCKET, f"registry-ledger/{GROUP}/", f"model-decisions/{GROUP}/")
ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/7"
APPROVER = f"arn:aws:sts::{ACCOUNT}:assumed-role/approver/jo@example.com"


def event(status: str, description: str | None = "AUC 0.91, drift checked") -> dict:
    """Shaped as SageMaker sends it: epoch-millisecond strings, GeneratedBy the registering execution."""
    detail = {"ModelPackageGroupName": GROUP, "ModelPackageVersion": 7, "ModelPackageArn": ARN, "ModelApprovalStatus": status,
              "ModelPackageStatus": "Completed", "CreationTime": "1795687211000", "LastModifiedTime": "1795690811000",
              "MetadataProperties": {"GeneratedBy": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/p/execution/4r83jejmhorv"}}
    if description:
        detail["ApprovalDescription"] = description
    return {"version": "0", "id": "e", "detail-type": "SageMaker Model Package State Change", "source": "aws.sagemaker",
            "account": ACCOUNT, "time": "2026-11-26T10:00:14Z", "region": REGION, "resources": [ARN], "detail": detail}


@pytest.fixture
def aws(monkeypatch):
    package = {"ModelPackageArn": ARN, "ModelApprovalStatus": "Approved",
               "LastModifiedBy": {"IamIdentity": {"Arn": APPROVER, "PrincipalId": "AROA:jo"}},
               "LastModifiedTime": datetime(2026, 11, 26, 11, 0, 11, tzinfo=timezone.utc)}  # the events' change

    class SageMaker:
        def describe_model_package(self, ModelPackageName):  # noqa: N803
            assert ModelPackageName == ARN
            return package

    real = handler.client
    real.cache_clear()
    with mock_aws():
        create_bucket(boto3.client("s3", region_name=REGION), BUCKET)
        monkeypatch.setattr(handler, "client", lambda service: SageMaker() if service == "sagemaker" else real(service))
        yield package
    real.cache_clear()


def records() -> dict[str, list]:
    s3 = boto3.client("s3", region_name=REGION)
    listing = s3.list_object_versions(Bucket=BUCKET, Prefix=LEDGER.decisions_prefix).get("Versions", [])
    return {v["Key"]: [json.loads(line) for line in s3.get_object(Bucket=BUCKET, Key=v["Key"], VersionId=v["VersionId"])
                       ["Body"].read().decode().splitlines()] for v in listing}


def test_a_decision_is_recorded_with_the_events_fields_and_who_decided(aws):
    handler.handle(event("Approved"), "MLOps/any", GROUP, LEDGER)
    assert records() == {f"model-decisions/{GROUP}/7-Approved-20261126T110011Z.json": [{
        "model_package_group": GROUP, "model_version": 7, "model_package_arn": ARN, "execution_id": "4r83jejmhorv",
        "decision": "Approved", "decided_by": APPROVER, "decided_at": "2026-11-26T11:00:11Z",
        "registered_at": "2026-11-26T10:00:11Z", "description": "AUC 0.91, drift checked"}]}


def test_a_repeated_event_writes_the_record_once(aws):
    for _ in range(3):
        handler.handle(event("Approved"), "MLOps/any", GROUP, LEDGER)
    s3 = boto3.client("s3", region_name=REGION)
    assert len(s3.list_object_versions(Bucket=BUCKET, Prefix=LEDGER.decisions_prefix)["Versions"]) == 1


def test_each_decision_of_a_version_is_its_own_record_even_the_same_again_and_a_registration_none(aws):
    handler.handle(event("PendingManualApproval", None), "MLOps/any", GROUP, LEDGER)
    assert records() == {}
    handler.handle(event("Approved"), "MLOps/any", GROUP, LEDGER)
    aws["ModelApprovalStatus"] = "Rejected"
    handler.handle(event("Rejected", "leaks the label"), "MLOps/any", GROUP, LEDGER)
    approved_again = event("Approved")
    approved_again["detail"]["LastModifiedTime"] = "1795694411000"  # an hour later: a new decision, not a repeat
    aws["ModelApprovalStatus"] = "Approved"
    handler.handle(approved_again, "MLOps/any", GROUP, LEDGER)
    handler.handle(approved_again, "MLOps/any", GROUP, LEDGER)
    assert {key: rows[0]["decision"] for key, rows in records().items()} == {
        f"model-decisions/{GROUP}/7-Approved-20261126T110011Z.json": "Approved",
        f"model-decisions/{GROUP}/7-Rejected-20261126T110011Z.json": "Rejected",
        f"model-decisions/{GROUP}/7-Approved-20261126T120011Z.json": "Approved"}


def test_who_is_unknown_once_the_version_has_changed_again(aws):
    """Approved, then rejected before the approval's event was handled: describe names the rejecter."""
    aws["ModelApprovalStatus"] = "Rejected"
    handler.handle(event("Approved", None), "MLOps/any", GROUP, LEDGER)
    (rows,) = records().values()
    assert rows[0]["decided_by"] is None and rows[0]["description"] is None and rows[0]["decided_at"] == "2026-11-26T11:00:11Z"


def test_who_is_unknown_once_the_same_status_was_set_again_later(aws):
    """Approved, rejected, approved again: the first approval's late event must not name the second approver."""
    aws["LastModifiedTime"] = datetime(2026, 11, 26, 12, 0, 11, tzinfo=timezone.utc)
    handler.handle(event("Approved", None), "MLOps/any", GROUP, LEDGER)
    (rows,) = records().values()
    assert rows[0]["decided_by"] is None and rows[0]["decided_at"] == "2026-11-26T11:00:11Z"


@pytest.mark.parametrize("value, expected", [
    ("1795687211000", "2026-11-26T10:00:11Z"), (1795687211000, "2026-11-26T10:00:11Z"),
    ("2021-02-24T17:00:14Z", "2021-02-24T17:00:14Z"), (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05Z"),
    ("not a time", None), (None, None), (True, None), ("1e400", None), ({"a": 1}, None)])
def test_times_in_any_form_sagemaker_sends_become_iso_8601_utc(value, expected):
    assert decisions.iso(value) == expected


def test_the_record_holds_the_declared_columns_in_order(aws):
    handler.handle(event("Rejected"), "MLOps/any", GROUP, LEDGER)
    (rows,) = records().values()
    assert list(rows[0]) == [name for name, _ in contract.DECISION_COLUMNS]
