"""A moto account holding a model package group, its versions, their archives and quality reports, as the
deployment pipeline's Resolve function finds it (the `world` fixture of its tests and of the quota tests)."""
from __future__ import annotations

import json
import uuid

import boto3
import pytest
from moto import mock_aws

from tests.support.pipeline_job_support import FakeCodePipeline, FakeServiceQuotas
from tests.support.s3 import create_bucket

from shared import clients  # lambda_src/ is on sys.path: tests/__init__.py

GROUP = "acme-fraud-staging-models"
OTHER_GROUP = "acme-fraud-prod-models"
BUCKET = "acme-fraud-artifacts-eu-west-1"
ARCHIVES = "sagemaker/acme-fraud-staging/models/"
# INSTANCES_NEEDED (infra/config/serving.py instances_needed): a first deployment peaks at 3 ml.m5.large.
PLAN = {"InstanceType": "ml.m5.large", "MinInstances": 2, "MaxInstances": 4, "Staging": {"ml.m5.large": 1}}
IMAGE_REPOSITORY = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost"
REPORT = {"binary_classification_metrics": {"accuracy": {"value": 0.88, "standard_deviation": "NaN"},
                                            "auc": {"value": 0.91234, "standard_deviation": "NaN"}}}


class Registry:
    """A moto account holding the group, its versions and their quality reports."""

    def __init__(self, monkeypatch):
        self.sm, self.s3 = boto3.client("sagemaker"), boto3.client("s3")
        create_bucket(self.s3, BUCKET)
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for group in (GROUP, OTHER_GROUP):
            self.sm.create_model_package_group(ModelPackageGroupName=group)
        self.pipeline = FakeCodePipeline()
        self.quotas = FakeServiceQuotas(defaults={"ml.m5.large": 20})
        monkeypatch.setenv("INSTANCES_NEEDED", json.dumps(PLAN))
        monkeypatch.setenv("MODEL_PACKAGE_GROUP", GROUP)
        monkeypatch.setenv("ARCHIVE_BUCKET", BUCKET)
        monkeypatch.setenv("ARCHIVE_PREFIX", ARCHIVES)
        monkeypatch.setenv("SERVING_IMAGES", f"{IMAGE_REPOSITORY},another.dkr.ecr.eu-west-1.amazonaws.com/other")

    def register(self, status: str, group: str = GROUP, report: object = REPORT, archive_url: str | None = None,
                 image: str = f"{IMAGE_REPOSITORY}:3.0-5") -> str:
        key = f"evaluation/{uuid.uuid4().hex}/evaluation.json"
        kwargs = dict(
            ModelPackageGroupName=group,
            InferenceSpecification={"Containers": [{"Image": image,
                                                    "ModelDataUrl": archive_url or f"s3://{BUCKET}/{self.archive(key)}"}],
                                    "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
            ModelApprovalStatus="PendingManualApproval",
        )
        if report is not None:
            body = report if isinstance(report, bytes) else json.dumps(report).encode()
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            kwargs["ModelMetrics"] = {"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                                      "S3Uri": f"s3://{BUCKET}/{key}"}}}
        arn = self.sm.create_model_package(**kwargs)["ModelPackageArn"]
        self.set_status(arn, status)
        return arn

    def archive(self, key: str) -> str:
        """The version's model archive, written once (as the pipeline's package step does)."""
        archive_key = f"{ARCHIVES}{key}/model.tar.gz"
        self.s3.put_object(Bucket=BUCKET, Key=archive_key, Body=b"archive")
        return archive_key

    def set_status(self, arn: str, status: str) -> None:
        if status != "PendingManualApproval":
            self.sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)


@pytest.fixture
def world(monkeypatch):
    with mock_aws():
        clients.reset()
        yield Registry(monkeypatch)
        clients.reset()
