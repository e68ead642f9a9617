"""A moto account with the model package group, a registered version, its report, the approvals topic and a queue
capturing what the notifier publishes (the notifier's tests and `make bench`)."""
from __future__ import annotations

import json

import boto3

from tests.support.s3 import create_bucket

GROUP = "churn-model-build-dev-models"
BUCKET = "churn-dev-artifacts-123456789012-eu-west-1"
REPORT_KEY = "sagemaker/churn-model-build-dev/evaluation/4r83jejmhorv/evaluation.json"
REPORT = {"binary_classification_metrics": {"auc": {"value": 0.91, "standard_deviation": "NaN"},
                                            "accuracy": {"value": 0.88, "standard_deviation": "NaN"}}}
PIPELINE = "churn-model-build-dev"
EXECUTION = f"arn:aws:sagemaker:eu-west-1:123456789012:pipeline/{PIPELINE}/execution/4r83jejmhorv"
LEDGER_PREFIX = f"registry-ledger/{GROUP}/"


def configure(monkeypatch) -> None:
    """The notifier's environment beyond its group, statuses and topic: its pipeline and its ledger."""
    monkeypatch.setenv("PIPELINE_NAME", PIPELINE)
    monkeypatch.setenv("LEDGER_BUCKET", BUCKET)
    monkeypatch.setenv("LEDGER_PREFIX", LEDGER_PREFIX)


class World:
    """A moto account with the group, a registered package, its report, the topic and a capturing queue."""

    def __init__(self, monkeypatch, statuses="Approved,Rejected"):
        self.s3, self.sm, self.sns, self.sqs = (boto3.client(s) for s in ("s3", "sagemaker", "sns", "sqs"))
        create_bucket(self.s3, BUCKET)
        self.sm.create_model_package_group(ModelPackageGroupName=GROUP)
        self.topic_arn = self.sns.create_topic(Name="churn-dev-model-approvals")["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv("MODEL_PACKAGE_GROUP_NAME", GROUP)
        monkeypatch.setenv("NOTIFY_ON_STATUSES", statuses)
        monkeypatch.setenv("TOPIC_ARN", self.topic_arn)
        configure(monkeypatch)

    def register(self, with_report=True, **update) -> str:
        kwargs = dict(
            ModelPackageGroupName=GROUP,
            InferenceSpecification={"Containers": [{
                "Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                "ModelDataUrl": f"s3://{BUCKET}/sagemaker/churn-model-build-dev/train/output/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
            MetadataProperties={"GeneratedBy": EXECUTION},
            ModelApprovalStatus="PendingManualApproval",
        )
        if with_report:
            kwargs["ModelMetrics"] = {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{REPORT_KEY}"}}}
        arn = self.sm.create_model_package(**kwargs)["ModelPackageArn"]
        if update:
            self.sm.update_model_package(ModelPackageArn=arn, **update)
        return arn

    def put_report(self, body=REPORT):
        self.s3.put_object(Bucket=BUCKET, Key=REPORT_KEY, Body=json.dumps(body).encode())

    def received(self) -> list[dict]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]
