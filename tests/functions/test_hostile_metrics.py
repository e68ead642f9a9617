"""Hostile input for the registry-metrics Lambda: arbitrary JSON, mangled events, hostile reports.

Properties: the handler never raises (only transient AWS failures may, and the generators produce
none), makes at most one PutMetricData call per event, every datapoint is one CloudWatch accepts
(finite value within +-2^360, dimension values 1-1024 printable ASCII with a non-space, at most 1000
datapoints), and it logs JSON lines ending with its decision. One moto account serves the module.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from lambda_src.registry_metrics import contract, handler
from lambda_src.registry_metrics.ledger import Ledger
from tests.support.hostile_support import (any_text, apply, client_error, field, finite, json_values, report_bodies, run_logged,
                                   times, versions)
from tests.support.s3 import create_bucket

GROUP = "churn-model-build-dev-models"
NAMESPACE = "MLOps/churn"
REGION = "eu-west-1"
BUCKET = "churn-dev-artifacts-111111111111-eu-west-1"
REPORT_KEY = "sagemaker/churn-model-build-dev/evaluation/hostile/evaluation.json"
REPORT_URI = f"s3://{BUCKET}/{REPORT_KEY}"
LEDGER = Ledger(BUCKET, f"registry-ledger/{GROUP}/", f"model-decisions/{GROUP}/")
HYPO = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DECISIONS = {"event ignored", "metrics published"}


class Account:
    def __init__(self):
        self.s3 = boto3.client("s3", region_name=REGION)
        create_bucket(self.s3, BUCKET)
        sm = boto3.client("sagemaker", region_name=REGION)
        sm.create_model_package_group(ModelPackageGroupName=GROUP)
        self.package_arn = sm.create_model_package(
            ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={"Containers": [{"Image": "xgboost"}], "SupportedContentTypes": ["text/csv"],
                                    "SupportedResponseMIMETypes": ["text/csv"]},
            ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": REPORT_URI}}},
        )["ModelPackageArn"]
        self.calls: list[dict] = []
        handler.client.cache_clear()
        cloudwatch = handler.client("cloudwatch")
        real_put = cloudwatch.put_metric_data

        def recording_put(**kwargs):
            self.calls.append(kwargs)
            return real_put(**kwargs)

        cloudwatch.put_metric_data = recording_put  # the handler's cached client records its calls

    def reset(self, report: bytes | None = None):
        """Nothing counted yet, nothing published yet, and this report (or none) in place."""
        self.calls.clear()
        for marker in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=LEDGER.prefix).get("Contents", []):
            self.s3.delete_object(Bucket=BUCKET, Key=marker["Key"])
        if report is None:
            self.s3.delete_object(Bucket=BUCKET, Key=REPORT_KEY)
        else:
            self.s3.put_object(Bucket=BUCKET, Key=REPORT_KEY, Body=report)


@pytest.fixture(scope="module")
def account():
    with mock_aws():
        yield Account()
        handler.client.cache_clear()


def _printable_ascii_with_content(text) -> bool:
    return isinstance(text, str) and all(32 <= ord(c) < 127 for c in text) and bool(text.strip())


def assert_cloudwatch_accepts(kwargs: dict) -> None:
    """PutMetricData rules (API reference: MetricDatum, Dimension)."""
    assert kwargs["Namespace"] == NAMESPACE
    data = kwargs["MetricData"]
    assert 0 < len(data) <= 1000
    now = datetime.now(timezone.utc)
    for datum in data:
        assert _printable_ascii_with_content(datum["MetricName"]) and len(datum["MetricName"]) <= 255
        value = datum["Value"]
        assert finite(value) and (value == 0 or 2.0**-360 <= abs(value) <= 2.0**360), datum
        assert now - timedelta(days=14) < datum["Timestamp"] <= now + timedelta(hours=2)
        assert len(datum["Dimensions"]) <= 30
        for dimension in datum["Dimensions"]:
            assert _printable_ascii_with_content(dimension["Name"]) and len(dimension["Name"]) <= 255, dimension
            assert _printable_ascii_with_content(dimension["Value"]) and len(dimension["Value"]) <= 1024, dimension
    assert len(json.dumps(kwargs, default=str)) < 1_000_000  # the request size limit, roughly


def check_one_decision(account, result, lines) -> None:
    assert not isinstance(result, BaseException), repr(result)
    assert lines and lines[-1]["message"] in DECISIONS, lines
    assert all("level" in line and "message" in line for line in lines)
    assert len(account.calls) == (1 if result["published"] else 0)
    for kwargs in account.calls:
        assert_cloudwatch_accepts(kwargs)
        assert len(kwargs["MetricData"]) == result["published"]


def sample(status: str = "PendingManualApproval", uri: str | None = REPORT_URI) -> dict:
    arn = f"arn:aws:sagemaker:{REGION}:111111111111:model-package/{GROUP}/3"
    detail = {"ModelPackageGroupName": GROUP, "ModelPackageVersion": 3, "ModelPackageArn": arn,
              "ModelApprovalStatus": status, "ModelPackageStatus": "Completed", "CreationTime": 1764130000000,
              "InferenceSpecification": {"Containers": [{"Image": "xgboost"}]}}
    if uri:
        detail["ModelMetrics"] = {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}}
    return {"version": "0", "id": "e-1", "detail-type": "SageMaker Model Package State Change", "source": "aws.sagemaker",
            "account": "111111111111", "time": datetime.now(timezone.utc).isoformat(), "region": REGION,
            "resources": [arn], "detail": detail}


uris = st.one_of(
    st.sampled_from([REPORT_URI, f"s3://{BUCKET}/missing.json", "s3://", "s3:///k", "s3://b/", "s3://bad bucket!/k",
                     "s3://arn:aws:s3:::x/k", f"s3://{'b' * 300}/k", "http://example.com/r.json", f"s3://{BUCKET}/\u202e\U0001F600"]),
    any_text, json_values,
)


@st.composite
def hostile_events(draw):
    event = sample()
    detail = apply(event["detail"], {
        "ModelPackageGroupName": draw(st.one_of(st.just(GROUP), st.just(GROUP), field())),
        "ModelApprovalStatus": draw(st.one_of(st.sampled_from(contract.COUNTED_STATUSES), field())),
        "ModelPackageStatus": draw(st.one_of(st.just(contract.PACKAGE_COMPLETED), st.just(contract.PACKAGE_COMPLETED), field())),
        "ModelPackageVersion": draw(versions),
        "ModelPackageArn": draw(st.one_of(st.just("<registered>"), field(event["detail"]["ModelPackageArn"]))),
        "ModelMetrics": draw(st.one_of(st.builds(lambda u: {"ModelQuality": {"Statistics": {"S3Uri": u}}}, uris), field())),
        "InferenceSpecification": draw(field()),
        "CreationTime": draw(times),
    })
    return apply(event, {"detail": detail, "time": draw(times), "id": draw(field())})


def _resolve(account, event: dict) -> dict:
    detail = event.get("detail")
    if isinstance(detail, dict) and detail.get("ModelPackageArn") == "<registered>":
        detail["ModelPackageArn"] = account.package_arn  # describe succeeds and yields the report URI
    return event


@HYPO
@given(event=json_values)
def test_any_json_value_is_ignored_without_raising_or_publishing(account, event):
    account.reset()
    result, lines = run_logged(handler.handle, event, NAMESPACE, GROUP, LEDGER)
    check_one_decision(account, result, lines)
    assert result["published"] == 0


@HYPO
@given(event=hostile_events(), report=st.one_of(st.none(), report_bodies))
def test_mangled_events_make_at_most_one_put_within_cloudwatch_limits(account, event, report):
    account.reset(report)
    result, lines = run_logged(handler.handle, _resolve(account, event), NAMESPACE, GROUP, LEDGER)
    check_one_decision(account, result, lines)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=report_bodies)
def test_any_report_still_counts_the_registration_once(account, body):
    account.reset(body)
    result, lines = run_logged(handler.handle, sample(), NAMESPACE, GROUP, LEDGER)
    check_one_decision(account, result, lines)
    (call,) = account.calls
    assert call["MetricData"][0]["MetricName"] == contract.MODELS_REGISTERED


@pytest.mark.parametrize("value", [1e300, -1e300, 1e-300, 2.0**361])
def test_report_values_cloudwatch_would_reject_are_left_out(account, value):
    account.reset(json.dumps({"a_metrics": {"huge": {"value": value}, "auc": {"value": 0.5}}}).encode())
    result, lines = run_logged(handler.handle, sample(), NAMESPACE, GROUP, LEDGER)
    check_one_decision(account, result, lines)
    assert [d["Value"] for d in account.calls[0]["MetricData"]] == [1.0, 0.5]


@pytest.mark.parametrize("name", ["é", "\u202eauc", "a\nb", "   ", "\U0001F600", "tab\there"])
def test_metric_names_cloudwatch_would_reject_are_left_out(account, name):
    account.reset(json.dumps({"a_metrics": {name: {"value": 0.7}, "auc": {"value": 0.5}}}).encode())
    result, lines = run_logged(handler.handle, sample(), NAMESPACE, GROUP, LEDGER)
    check_one_decision(account, result, lines)
    assert result["published"] == 2


def test_a_report_with_thousands_of_metrics_stays_within_one_put(account):
    account.reset(json.dumps({"a_metrics": {f"m{i}": {"value": i + 1} for i in range(5_000)}}).encode())
    result, lines = run_logged(handler.handle, sample(), NAMESPACE, GROUP, LEDGER)
    check_one_decision(account, result, lines)


@pytest.mark.parametrize("uri", ["s3://bad bucket!/k", f"s3://{BUCKET}/\ud800.json", "s3://arn:aws:s3:::x/k"])
def test_report_uris_the_sdk_refuses_count_the_registration_without_quality(account, uri):
    account.reset()
    result, lines = run_logged(handler.handle, sample(uri=uri), NAMESPACE, GROUP, LEDGER)
    check_one_decision(account, result, lines)
    assert result["published"] == 1


# --- the transient path: raise before PutMetricData, so a retry cannot count twice ---

def _raising(exc):
    def call(**_):
        raise exc
    return call


@pytest.mark.parametrize("service, method, code, status, event", [
    ("cloudwatch", "put_metric_data", "Throttling", 400, sample("Approved")),
    ("sagemaker", "describe_model_package", "InternalFailure", 500, sample(uri=None)),
    ("s3", "get_object", "InternalError", 500, sample()),
    ("s3", "get_object", "SlowDown", 503, sample()),
])
def test_transient_aws_failures_raise_and_publish_nothing(account, monkeypatch, service, method, code, status, event):
    account.reset(b'{"a_metrics": {"auc": {"value": 0.9}}}')
    monkeypatch.setattr(handler.client(service), method, _raising(client_error(code, status, method)))
    result, lines = run_logged(handler.handle, event, NAMESPACE, GROUP, LEDGER)
    assert handler._error_code(result) == code
    assert account.calls == []  # the recording put was replaced (cloudwatch) or never reached
    assert lines and lines[-1]["level"] == "WARNING" and lines[-1]["code"] == code


def test_a_read_timeout_raises_before_publishing(account, monkeypatch):
    from botocore.exceptions import ReadTimeoutError
    account.reset(b"{}")
    monkeypatch.setattr(handler.client("s3"), "get_object", _raising(ReadTimeoutError(endpoint_url="https://s3")))
    result, _ = run_logged(handler.handle, sample(), NAMESPACE, GROUP, LEDGER)
    assert isinstance(result, ReadTimeoutError)
    assert account.calls == []


def test_lambda_handler_reads_its_environment(account, monkeypatch):
    monkeypatch.setitem(os.environ, "METRICS_NAMESPACE", NAMESPACE)
    monkeypatch.setitem(os.environ, "MODEL_PACKAGE_GROUP", GROUP)
    monkeypatch.setitem(os.environ, "LEDGER_BUCKET", LEDGER.bucket)
    monkeypatch.setitem(os.environ, "LEDGER_PREFIX", LEDGER.prefix)
    monkeypatch.setitem(os.environ, "DECISIONS_PREFIX", LEDGER.decisions_prefix)
    account.reset()
    result, lines = run_logged(handler.lambda_handler, sample("Rejected"), None)
    check_one_decision(account, result, lines)
