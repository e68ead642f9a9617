"""Resolve in an env serving another account's models (deployment.models_from): it reads the source env's registry by
group ARN, only verifies the archive the source env's pin function tagged (never writes to the source's bucket),
waits a while for that pin, and deploys nothing else.

moto keeps each account's SageMaker apart and answers a group only to its own account's credentials, so the registry
client here holds the source account's (STS AssumeRole into it); S3 buckets are global in moto, so the bucket is read
with the serving account's. What the source's policies let the serving roles do is held by tests/iam.
"""
from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from tests.support.pipeline_job_support import FakeCodePipeline, FakeServiceQuotas, job_event, logged
from tests.support.registry_world import IMAGE_REPOSITORY, PLAN
from tests.support.s3 import create_bucket

from deploy_resolve import handler  # lambda_src/ is on sys.path: tests/__init__.py
from shared import archives, clients  # noqa: E402

SOURCE_ACCOUNT, SERVING_ACCOUNT = "111111111111", DEFAULT_ACCOUNT_ID  # moto's own account serves
SOURCE_ENV, PIN_FUNCTION = "dev", "acme-dev-archive-pin"
GROUP = "acme-dev-models"
BUCKET = f"acme-dev-artifacts-{SOURCE_ACCOUNT}-eu-west-1"
ARCHIVES = "sagemaker/acme-dev/models/"


class Promotion:
    """The source account's group, bucket and pin; the serving account's Resolve, with its env vars."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.sm = self._in_source("sagemaker")
        self.s3 = boto3.client("s3")
        create_bucket(self.s3, BUCKET)
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.group_arn = self.sm.create_model_package_group(ModelPackageGroupName=GROUP)["ModelPackageGroupArn"]
        clients._clients["sagemaker"] = self.sm
        self.pipeline, self.quotas = FakeCodePipeline(), FakeServiceQuotas(defaults={"ml.m5.large": 20})
        for name, value in {"INSTANCES_NEEDED": json.dumps(PLAN), "MODEL_PACKAGE_GROUP": "acme-prod-models",
                            "MODELS_GROUP_ARN": self.group_arn, "MODELS_SOURCE_ENV": SOURCE_ENV,
                            "MODELS_PIN_FUNCTION": PIN_FUNCTION, "ARCHIVE_BUCKET": BUCKET, "ARCHIVE_PREFIX": ARCHIVES,
                            "SERVING_IMAGES": IMAGE_REPOSITORY}.items():
            monkeypatch.setenv(name, value)

    @staticmethod
    def _in_source(service: str):
        role = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/registry-reader"
        credentials = boto3.client("sts").assume_role(RoleArn=role, RoleSessionName="source")["Credentials"]
        return boto3.client(service, aws_access_key_id=credentials["AccessKeyId"],
                            aws_secret_access_key=credentials["SecretAccessKey"],
                            aws_session_token=credentials["SessionToken"])

    def register(self, status: str = "Approved", sm=None, group: str = GROUP) -> str:
        key = f"{ARCHIVES}{time.time_ns()}/model.tar.gz"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=b"archive")
        arn = (sm or self.sm).create_model_package(
            ModelPackageGroupName=group, ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={"Containers": [{"Image": f"{IMAGE_REPOSITORY}:3.0-5",
                                                    "ModelDataUrl": f"s3://{BUCKET}/{key}"}],
                                    "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        )["ModelPackageArn"]
        (sm or self.sm).update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)
        return arn

    def pin(self, arn: str) -> None:
        """What the source env's pin function does on the approval."""
        archives.pin(self.sm.describe_model_package(ModelPackageName=arn), BUCKET, ARCHIVES)

    def key(self, arn: str) -> str:
        url = self.sm.describe_model_package(ModelPackageName=arn)["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        return url.split("/", 3)[3]

    def run(self, token: str | None = None) -> tuple[str, dict]:
        self.pipeline.calls.clear()
        handler.lambda_handler(job_event(continuation_token=token), None)
        return self.pipeline.only_result()


@pytest.fixture
def promotion(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        clients.reset()
        yield Promotion(monkeypatch)
        clients.reset()


def test_a_version_the_source_pinned_is_resolved_without_its_report(promotion):
    arn = promotion.register()
    promotion.pin(arn)
    tags_before = promotion.s3.get_object_tagging(Bucket=BUCKET, Key=promotion.key(arn))["TagSet"]
    name, body = promotion.run()
    assert name == "PutJobSuccessResult" and "continuationToken" not in body
    assert body["outputVariables"]["ModelPackageArn"] == arn and f":{SOURCE_ACCOUNT}:" in arn
    assert body["outputVariables"]["Summary"].endswith(f"quality: see {SOURCE_ENV}'s registry")
    assert promotion.s3.get_object_tagging(Bucket=BUCKET, Key=promotion.key(arn))["TagSet"] == tags_before, \
        "the serving env writes nothing to the source's archives"


def test_a_version_not_yet_pinned_waits_then_fails_naming_the_source_and_its_pin_function(promotion, monkeypatch, capsys):
    arn = promotion.register()
    name, body = promotion.run()
    assert name == "PutJobSuccessResult" and body.get("continuationToken"), "InProgress: looks again"
    assert logged(capsys)[-1]["decision"] == "waiting_for_pin"
    start = time.time()
    monkeypatch.setattr(handler.time, "time", lambda: start + handler.PIN_WAIT_SECONDS + 1)
    name, body = promotion.run(body["continuationToken"])
    message = body["failureDetails"]["message"]
    assert name == "PutJobFailureResult" and "\n" not in message
    assert SOURCE_ENV in message and PIN_FUNCTION in message and "nothing was deployed" in message
    assert logged(capsys)[-1]["decision"] == "not_pinned"
    assert promotion.s3.get_object_tagging(Bucket=BUCKET, Key=promotion.key(arn))["TagSet"] == []


def test_a_pin_that_comes_while_waiting_is_resolved(promotion):
    arn = promotion.register()
    _, body = promotion.run()
    promotion.pin(arn)
    name, body = promotion.run(body["continuationToken"])
    assert name == "PutJobSuccessResult" and body["outputVariables"]["ModelPackageArn"] == arn


def test_an_archive_rewritten_after_the_pin_is_not_deployed(promotion, capsys):
    arn = promotion.register()
    promotion.pin(arn)
    promotion.s3.put_object(Bucket=BUCKET, Key=promotion.key(arn), Body=b"not what was approved")
    name, body = promotion.run()
    assert name == "PutJobFailureResult" and "nothing was deployed" in body["failureDetails"]["message"]
    assert logged(capsys)[-1]["decision"] == "archive_rewritten"


def test_a_version_of_another_group_or_account_named_by_the_event_is_never_deployed(promotion):
    """The run's event (or a replay) may name any version: Resolve reads the source group's newest Approved one."""
    mine = promotion.register()
    promotion.pin(mine)
    promotion.sm.create_model_package_group(ModelPackageGroupName="acme-other-models")
    other_group = promotion.register(group="acme-other-models")  # the source account's, another group
    own_sm = boto3.client("sagemaker")  # the serving account's own registry: a group of the same name
    own_sm.create_model_package_group(ModelPackageGroupName=GROUP)
    other_account = promotion.register(sm=own_sm)
    for stray in (other_group, other_account):
        promotion.pin(mine)
        event = job_event(user_parameters=json.dumps({"ModelPackageArn": stray}))
        event["detail"] = {"ModelPackageArn": stray, "ModelApprovalStatus": "Approved"}
        promotion.pipeline.calls.clear()
        handler.lambda_handler(event, None)
        assert promotion.pipeline.only_result()[1]["outputVariables"]["ModelPackageArn"] == mine


def test_a_version_of_another_account_in_the_registrys_answer_is_not_taken(promotion, monkeypatch):
    """Should the answer name a version outside the source's group ARN, the version is not the group's."""
    arn = promotion.register()
    promotion.pin(arn)
    real = promotion.sm.describe_model_package
    forged = arn.replace(f":{SOURCE_ACCOUNT}:", f":{SERVING_ACCOUNT}:")
    monkeypatch.setattr(promotion.sm, "describe_model_package", lambda **kw: {**real(**kw), "ModelPackageArn": forged})
    name, body = promotion.run()
    assert name == "PutJobFailureResult" and f"{forged}, listed in {promotion.group_arn}, is not one of its versions" in \
        body["failureDetails"]["message"]


def test_an_archive_rewritten_after_resolve_is_not_rolled_out_to_production(promotion, monkeypatch, capsys):
    """Production's new fleet loads the archive long after Resolve (staging, the smoke test, a person): the RollOut
    action checks it again, and a rewrite since (even one tagged again) stops the rollout before it starts."""
    arn = promotion.register()
    promotion.pin(arn)
    assert promotion.run()[0] == "PutJobSuccessResult"
    key = promotion.key(arn)
    written = promotion.s3.put_object(Bucket=BUCKET, Key=key, Body=b"not what was approved")["VersionId"]
    promotion.s3.put_object_tagging(Bucket=BUCKET, Key=key, VersionId=written,
                                    Tagging={"TagSet": [{"Key": archives.ARCHIVE_TAG, "Value": arn}]})
    started = []
    monkeypatch.setattr(handler.rollout, "start", lambda *a: started.append(a))
    promotion.pipeline.calls.clear()
    handler.lambda_handler(job_event(user_parameters=json.dumps({"RollOut": "acme-prod-production-endpoint",
                                                                 "ModelPackageArn": arn})), None)
    name, body = promotion.pipeline.only_result()
    assert name == "PutJobFailureResult" and not started
    assert logged(capsys)[-1]["decision"] == "archive_rewritten"


def test_an_archive_still_pinned_is_rolled_out(promotion, monkeypatch):
    arn = promotion.register()
    promotion.pin(arn)
    started = []
    monkeypatch.setattr(handler.rollout, "start", lambda *a: started.append(a) or handler.Succeeded("rolled_out", {}, "rolled out"))
    handler.lambda_handler(job_event(user_parameters=json.dumps({"RollOut": "acme-prod-production-endpoint",
                                                                 "ModelPackageArn": arn})), None)
    assert started == [("acme-prod-production-endpoint", arn)]
