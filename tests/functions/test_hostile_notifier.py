"""Hostile input for the approval notifier (get_model_metadata): arbitrary JSON and mangled events.

Properties: the handler never raises (only transient AWS failures may, and the generators produce
none), publishes at most one SNS message per event and only within SNS's limits, and writes JSON log
lines ending with the decision it returned. One moto account serves the whole module; each example
resets what it touches (the report object, the recorded calls).
"""
from __future__ import annotations

import json
import math
import os

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from tests.support.hostile_support import (any_text, apply, client_error, field, json_values, odd_text, report_bodies,
                                   run_logged, times, versions)
from tests.support.notifier_support import sample_event

from get_model_metadata import aws, handler  # lambda_src/ is on sys.path: tests/__init__.py
from get_model_metadata.message import CHAT_MAX_CHARS
from tests.support.s3 import create_bucket

GROUP = "churn-model-build-dev-models"
BUCKET = "churn-dev-artifacts-123456789012-eu-west-1"
REPORT_KEY = "sagemaker/churn-model-build-dev/evaluation/hostile/evaluation.json"
REPORT_URI = f"s3://{BUCKET}/{REPORT_KEY}"
LEDGER_PREFIX = f"registry-ledger/{GROUP}/"
SNS_MAX_BYTES = 262_144
HYPO = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Account:
    """The moto account: bucket, group with one registered package, topic; records every publish."""

    def __init__(self):
        self.s3 = boto3.client("s3")
        create_bucket(self.s3, BUCKET)
        sm = boto3.client("sagemaker")
        sm.create_model_package_group(ModelPackageGroupName=GROUP)
        self.package_arn = sm.create_model_package(
            ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={"Containers": [{"Image": "xgboost"}], "SupportedContentTypes": ["text/csv"],
                                    "SupportedResponseMIMETypes": ["text/csv"]},
            ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": REPORT_URI}}},
        )["ModelPackageArn"]
        self.topic_arn = boto3.client("sns").create_topic(Name="churn-dev-model-approvals")["TopicArn"]
        self.published: list[dict] = []
        aws.reset()
        sns = aws.client("sns")
        real_publish = sns.publish

        def recording_publish(**kwargs):
            self.published.append(kwargs)
            return real_publish(**kwargs)

        sns.publish = recording_publish  # instance attribute: the handler's cached client records its calls

    def reset(self, report: bytes | None = None):
        """Forget what was published, and the ledger's markers (each example is a first delivery)."""
        self.published.clear()
        for marker in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=LEDGER_PREFIX).get("Contents", []):
            self.s3.delete_object(Bucket=BUCKET, Key=marker["Key"])
        if report is None:
            self.s3.delete_object(Bucket=BUCKET, Key=REPORT_KEY)
        else:
            self.s3.put_object(Bucket=BUCKET, Key=REPORT_KEY, Body=report)


@pytest.fixture(scope="module")
def account():
    saved = {k: os.environ.get(k) for k in ("MODEL_PACKAGE_GROUP_NAME", "NOTIFY_ON_STATUSES", "TOPIC_ARN", "PIPELINE_NAME",
                                            "LEDGER_BUCKET", "LEDGER_PREFIX")}
    with mock_aws():
        world = Account()
        os.environ.update(MODEL_PACKAGE_GROUP_NAME=GROUP, NOTIFY_ON_STATUSES="Approved,Rejected", TOPIC_ARN=world.topic_arn,
                          PIPELINE_NAME="churn-model-build-dev", LEDGER_BUCKET=BUCKET, LEDGER_PREFIX=LEDGER_PREFIX)
        yield world
        aws.reset()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def assert_within_sns_limits(kwargs: dict) -> None:
    """Publish rules: subject ASCII printable, no leading whitespace, < 100 chars; message + attributes
    <= 256 KiB of UTF-8; attribute values non-empty strings, Number attributes real numbers."""
    subject = kwargs["Subject"]
    assert 0 < len(subject) < 100 and all(32 <= ord(c) < 127 for c in subject) and not subject[0].isspace(), subject
    body = kwargs["Message"]
    size = len(body.encode("utf-8"))  # strict: a lone surrogate would fail here
    assert size > 0
    assert_chat_channels_can_read(kwargs)
    for name, attribute in kwargs.get("MessageAttributes", {}).items():
        value = attribute["StringValue"]
        assert isinstance(value, str) and value, (name, attribute)
        if attribute["DataType"] == "Number":
            number = float(value)
            digits = value.lstrip("-").replace(".", "").lstrip("0")
            assert math.isfinite(number) and abs(number) < 1e126 and len(digits) <= 38, (name, value)
        size += len(name.encode()) + len(attribute["DataType"].encode()) + len(value.encode("utf-8"))
    assert size <= SNS_MAX_BYTES


def assert_chat_channels_can_read(kwargs: dict) -> None:
    """A chat channel (Amazon Q Developer in chat applications, over HTTPS) drops a message outside its
    custom-notification schema: every publish carries that form for HTTPS and the plain text for the rest."""
    assert kwargs.get("MessageStructure") == "json", "plain text only: a chat channel drops it"
    parts = json.loads(kwargs["Message"])
    assert set(parts) == {"default", "https"} and parts["default"], sorted(parts)
    chat = json.loads(parts["https"])
    assert (chat["version"], chat["source"], chat["content"]["textType"]) == ("1.0", "custom", "client-markdown")
    assert chat["content"]["title"] == kwargs["Subject"]
    assert 0 < len(chat["content"]["description"]) <= CHAT_MAX_CHARS


def check_one_decision(account, result, lines) -> None:
    assert not isinstance(result, BaseException), repr(result)
    assert lines and all("decision" in line and "level" in line for line in lines), lines
    assert lines[-1]["decision"] == result["decision"]
    assert len(account.published) == (1 if result["decision"] == "published" else 0)
    for kwargs in account.published:
        assert_within_sns_limits(kwargs)


@st.composite
def hostile_events(draw):
    """A documented approval event with every field kept, dropped or replaced; the group usually ours."""
    event = sample_event("approved")
    detail = apply(event["detail"], {
        "ModelPackageGroupName": draw(st.one_of(st.just(GROUP), st.just(GROUP), field())),
        "ModelApprovalStatus": draw(st.one_of(st.sampled_from(["Approved", "Rejected"]), field("PendingManualApproval"))),
        "ModelPackageVersion": draw(versions),
        "ModelPackageArn": draw(st.one_of(st.sampled_from([event["detail"]["ModelPackageArn"], "arn:aws-cn:sagemaker:cn-north-1:1:model-package/x/99999999999999999999999999999999999999999999"]),
                                          st.just(account_arn_marker), field())),
        "ApprovalDescription": draw(field("ok")),
        "ModelPackageDescription": draw(field()),
        "ModelMetrics": draw(st.one_of(
            st.builds(lambda uri: {"ModelQuality": {"Statistics": {"S3Uri": uri}}}, st.one_of(
                st.sampled_from([REPORT_URI, f"s3://{BUCKET}/missing.json", "s3://", "s3:///k", "s3://b/", "s3://bad bucket!/k",
                                 "s3://arn:aws:s3:::x/k", f"s3://{'b' * 300}/k", "http://example.com/r.json", f"s3://{BUCKET}/\u202e\U0001F600"]),
                any_text, json_values)),
            field())),
        "InferenceSpecification": draw(st.one_of(
            st.builds(lambda c: {"Containers": c}, st.lists(st.one_of(json_values, st.fixed_dictionaries(
                {}, optional={"Image": any_text | json_values, "ModelDataUrl": any_text | json_values})), max_size=8)),
            field())),
        "MetadataProperties": draw(field({"GeneratedBy": "x" * 5000})),
        "CreationTime": draw(times),
        "LastModifiedTime": draw(times),
        "LastModifiedBy": draw(field({"UserProfileName": "\u202eevil", "IamIdentity": {"Arn": "\U0001F600" * 3000}})),
        "CreatedBy": draw(field()),
    })
    event = apply(event, {"detail": detail, "time": draw(times), "region": draw(field("eu-west-1", "cn-north-1")),
                          "id": draw(field())})
    return event


account_arn_marker = "<the registered package>"  # replaced by the real moto ARN so describe succeeds


def _resolve(account, event: dict) -> dict:
    detail = event.get("detail")
    if isinstance(detail, dict) and detail.get("ModelPackageArn") == account_arn_marker:
        detail["ModelPackageArn"] = account.package_arn
    return event


@HYPO
@given(event=json_values)
def test_any_json_value_is_decided_without_raising_or_publishing(account, event):
    account.reset()
    result, lines = run_logged(handler.lambda_handler, event)
    check_one_decision(account, result, lines)
    assert result["decision"] == "malformed" and account.published == []


@HYPO
@given(event=hostile_events(), report=st.one_of(st.none(), report_bodies))
def test_mangled_events_publish_at_most_one_message_within_sns_limits(account, event, report):
    account.reset(report)
    result, lines = run_logged(handler.lambda_handler, _resolve(account, event))
    check_one_decision(account, result, lines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=report_bodies)
def test_any_report_in_s3_yields_one_message_within_sns_limits(account, body):
    account.reset(body)
    result, lines = run_logged(handler.lambda_handler, sample_event("approved"))
    check_one_decision(account, result, lines)
    assert result["decision"] == "published"


@HYPO
@given(description=any_text, group_suffix=odd_text)
def test_odd_unicode_in_free_text_never_reaches_the_subject(account, description, group_suffix):
    account.reset()
    event = sample_event("approved")
    event["detail"].update(ApprovalDescription=description, ModelPackageDescription=description + group_suffix)
    result, lines = run_logged(handler.lambda_handler, event)
    check_one_decision(account, result, lines)
    (kwargs,) = account.published
    assert kwargs["Subject"] == f"[SageMaker] {GROUP} v1 Approved"


def test_a_report_with_one_huge_metric_name_and_many_metrics_stays_small(account):
    # Padding every line to the longest name would build gigabytes from a report under 1 MB.
    names = {"n" * 800_000: 1, **{str(i): {"value": i} for i in range(15_000)}}
    import json
    account.reset(json.dumps({"a_metrics": names}).encode())
    result, lines = run_logged(handler.lambda_handler, sample_event("approved"))
    check_one_decision(account, result, lines)


@pytest.mark.parametrize("where", ["ApprovalDescription", "region", "report_key"])
def test_lone_surrogates_from_json_escapes_are_published_not_retried(account, where):
    # '{"x": "\ud800"}' is valid JSON and json.loads yields a lone surrogate, which UTF-8 cannot encode.
    account.reset(b'{"a_metrics": {"\\udc00": {"value": "\\ud800"}}}')
    event = sample_event("approved")
    if where == "report_key":
        event["detail"]["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] = f"s3://{BUCKET}/\ud800.json"
    elif where == "region":
        event["region"] = "eu-\ud800"
    else:
        event["detail"][where] = "ok \ud800 \udfff"
    result, lines = run_logged(handler.lambda_handler, event)
    check_one_decision(account, result, lines)
    assert result["decision"] == "published"


# --- the transient path: raise, and publish nothing before raising (a retry must not duplicate) ---

def _raising(exc):
    def call(**_):
        raise exc
    return call


@pytest.mark.parametrize("service, method, code, status", [
    ("sns", "publish", "Throttling", 400),
    ("sagemaker", "describe_model_package", "InternalFailure", 500),
    ("s3", "get_object", "InternalError", 500),
    ("s3", "get_object", "SlowDown", 503),
])
def test_transient_aws_failures_raise_and_publish_nothing(account, monkeypatch, service, method, code, status):
    account.reset(b'{"a_metrics": {"auc": {"value": 0.9}}}')
    monkeypatch.setattr(aws.client(service), method, _raising(client_error(code, status, method)))
    result, lines = run_logged(handler.lambda_handler, sample_event("approved"))
    assert isinstance(result, Exception) and aws.error_code(result) == code
    assert account.published == []  # the recording publish was replaced (sns) or never reached
    assert lines and lines[-1]["decision"] in ("retry", "publish_failed") and lines[-1]["error_code"] == code


def test_a_read_timeout_raises_before_publishing(account, monkeypatch):
    from botocore.exceptions import ReadTimeoutError
    account.reset(b"{}")
    monkeypatch.setattr(aws.client("s3"), "get_object", _raising(ReadTimeoutError(endpoint_url="https://s3")))
    result, _ = run_logged(handler.lambda_handler, sample_event("approved"))
    assert isinstance(result, ReadTimeoutError)
    assert account.published == []
