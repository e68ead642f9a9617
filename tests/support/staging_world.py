"""A moto account with an approved version, its archive (built by the pipeline's own packager around a contract fitted
by the pipeline's own contract code) and the staging endpoint serving it: the `staging` fixture of the SmokeTest
action's tests and of the bake-traffic tests."""
from __future__ import annotations

import json
import tarfile

import boto3
import pandas as pd
import pytest
import requests
from moto import mock_aws

from pipeline_def.steps import contract as contract_lib
from pipeline_def.steps import package
from tests.support.pipeline_job_support import FakeCodePipeline, job_event
from tests.support.s3 import create_bucket

from deploy_smoke_test import contract  # lambda_src/ is on sys.path: tests/__init__.py
from shared import clients

REGION, ACCOUNT = "eu-west-1", "123456789012"
GROUP = "acme-fraud-staging-models"
BUCKET = "acme-fraud-artifacts-eu-west-1"
ENDPOINT = "acme-fraud-staging"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/acme-fraud-sagemaker"
IMAGE = f"141502667606.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:3.0-5"
BUDGET_MS = 500


def training_frame() -> pd.DataFrame:
    """A small training split: two categorical columns (one category holds a comma and a quote), two numeric."""
    n = 40
    return pd.DataFrame({
        "Region": ["north", "south", "east", "west"] * (n // 4),
        "Plan": ['gold, "annual"', "basic"] * (n // 2),
        "Minutes": [float(i % 13) * 10.5 for i in range(n)],
        "Calls": [i % 7 for i in range(n)],
        "Account Id": [f"a{i}" for i in range(n)],
        "Fraud?": ["yes", "no", "no", "no", "yes"] * (n // 5),
    })


def fitted_contract() -> dict:
    return contract_lib.fit(training_frame(), "Fraud?", ["yes"], ["Account Id"])


def model_archive(tmp_path, contract_doc: dict) -> bytes:
    """model.tar.gz exactly as the pipeline's PackageModel step writes it (the booster bytes are a stand-in)."""
    (tmp_path / "model").mkdir()
    (tmp_path / "contract").mkdir()
    booster = tmp_path / "xgboost-model"
    booster.write_bytes(b"\0" * 4096)
    with tarfile.open(tmp_path / "model" / "model.tar.gz", "w:gz") as tar:
        tar.add(booster, arcname="xgboost-model")
    (tmp_path / "contract" / "contract.json").write_text(contract_lib.dumps(contract_doc), encoding="utf-8")
    steps = package.__file__.rsplit("/", 1)[0]
    path = package.package(str(tmp_path / "model"), str(tmp_path / "contract"), steps, str(tmp_path / "out"))
    with open(path, "rb") as f:
        return f.read()


class Staging:
    """A moto account with an approved version, its archive, and the staging endpoint serving it."""

    def __init__(self, monkeypatch, tmp_path):
        self.sm, self.s3 = boto3.client("sagemaker"), boto3.client("s3")
        create_bucket(self.s3, BUCKET)
        self.sm.create_model_package_group(ModelPackageGroupName=GROUP)
        self.contract = fitted_contract()
        self.archive = model_archive(tmp_path, self.contract)
        self.package_arn = self.register(self.archive)
        self.serve(self.package_arn)
        self.pipeline = FakeCodePipeline()
        monkeypatch.setenv("LATENCY_BUDGET_MS", str(BUDGET_MS))

    def register(self, archive: bytes, status: str = "Approved") -> str:
        count = len(self.sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"])
        key = f"models/v{count + 1}/model.tar.gz"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=archive)
        arn = self.sm.create_model_package(
            ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={"Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/{key}"}],
                                    "SupportedContentTypes": ["text/csv", "application/json"],
                                    "SupportedResponseMIMETypes": ["text/csv", "application/json"]},
        )["ModelPackageArn"]
        if status != "PendingManualApproval":
            self.sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)
        return arn

    def serve(self, package_arn: str, name: str = ENDPOINT) -> None:
        model = f"{name}-{package_arn.rsplit('/', 1)[-1]}"
        self.sm.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": package_arn})
        self.sm.create_endpoint_config(EndpointConfigName=model, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}])
        self.sm.create_endpoint(EndpointName=name, EndpointConfigName=model)

    def event(self, **overrides) -> dict:
        return job_event(json.dumps({"EndpointName": ENDPOINT, "ModelPackageArn": self.package_arn, **overrides}))

    @staticmethod
    def answer(*bodies: str, variant: str = "AllTraffic") -> None:
        """Queue InvokeEndpoint answers in request order (moto repeats an answer for an identical request)."""
        results = [{"Body": body, "ContentType": "text/plain", "InvokedProductionVariant": variant} for body in bodies]
        response = requests.post("http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
                                 json={"account_id": ACCOUNT, "region": REGION, "results": results}, timeout=5)
        assert response.status_code == 201


@pytest.fixture
def staging(monkeypatch, tmp_path):
    with mock_aws():
        clients.reset()
        yield Staging(monkeypatch, tmp_path)
        clients.reset()


def rows_sent(world) -> int:
    return len(contract.rows(world.contract))
