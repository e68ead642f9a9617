"""The registry-metrics Lambda publishes exactly the metrics the dashboard reads (checked in moto)."""
from __future__ import annotations

import json
import math

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.parts import kpi_dashboard
from lambda_src.deploy_resolve import contract as deploy_contract
from infra.config import names
from lambda_src.registry_metrics import contract, handler
from lambda_src.registry_metrics.ledger import Ledger
from lambda_src.registry_metrics.report import BadReport, quality_metrics
from tests.support.s3 import create_bucket

REGION = "eu-west-1"
BUCKET = "churn-dev-artifacts-111111111111-eu-west-1"
REPORT = {"binary_classification_metrics": {"auc": {"value": 0.91, "standard_deviation": "NaN"},
                                            "accuracy": {"value": 0.87, "standard_deviation": "NaN"}}}


@pytest.fixture
def env(fixture_project):
    """The fixture config's dev (whose artifact bucket prefix BUCKET carries)."""
    return names.for_env(fixture_project, "dev")


@pytest.fixture
def aws():
    cached = handler.client  # tests may monkeypatch handler.client; clear the real cache either way
    cached.cache_clear()
    with mock_aws():
        _bucket()
        yield
    cached.cache_clear()


@pytest.fixture
def points(aws):
    """Every datapoint the handler publishes, in order (recorded on its cached CloudWatch client)."""
    published: list[dict] = []
    cloudwatch = handler.client("cloudwatch")
    real_put = cloudwatch.put_metric_data

    def recording_put(**kwargs):
        result = real_put(**kwargs)
        published.extend(kwargs["MetricData"])
        return result

    cloudwatch.put_metric_data = recording_put
    return published


def _counts(points: list[dict]) -> dict[str, int]:
    return {m: sum(1 for p in points if p["MetricName"] == m) for m in (*contract.COUNT_METRICS, contract.QUALITY_METRIC)}


def event(n, status: str, version: int = 3, report_key: str | None = None, group: str | None = None) -> dict:
    """Shaped as SageMaker sends it (developer guide: "Events that Amazon SageMaker sends to Amazon EventBridge")."""
    group = group or n.model_package_group
    arn = f"arn:aws:sagemaker:{REGION}:111111111111:model-package/{group}/{version}"
    detail = {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": version,
        "ModelPackageArn": arn,
        "ModelApprovalStatus": status,
        "ModelPackageStatus": "Completed",
        "CreationTime": 1764130000000,
        "LastModifiedTime": 1764130000000,
        "InferenceSpecification": {"Containers": [{"Image": "xgboost", "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"}]},
        "MetadataProperties": {"GeneratedBy": f"arn:aws:sagemaker:{REGION}:111111111111:pipeline/{n.sagemaker_pipeline}/execution/abc"},
    }
    if report_key:
        detail["ModelMetrics"] = {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{report_key}"}}}
    return {"version": "0", "id": "e-1", "detail-type": "SageMaker Model Package State Change", "source": "aws.sagemaker",
            "account": "111111111111", "time": "2026-11-26T05:00:00Z", "region": REGION, "resources": [arn], "detail": detail}


def ledger(n) -> Ledger:
    return Ledger(BUCKET, n.registry_ledger_prefix, n.decisions_prefix)


def _bucket():
    s3 = boto3.client("s3", region_name=REGION)
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        create_bucket(s3, BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})


def _report(n, key: str = "evaluation.json", body: bytes | None = None) -> str:
    _bucket()
    s3 = boto3.client("s3", region_name=REGION)
    full = f"{n.evaluation_prefix}exec-1/{key}"
    s3.put_object(Bucket=BUCKET, Key=full, Body=body if body is not None else json.dumps(REPORT).encode())
    return full


def _published(namespace: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    metrics = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace=namespace)["Metrics"]
    return {(m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"]))) for m in metrics}


def _dashboard_reads(namespace: str) -> set[tuple[str, tuple[str, ...]]]:
    """What the dashboard reads of the project's namespace, but the deployed version (the deployment pipeline's
    resolve function publishes that one: tests/functions/test_deploy_resolve.py)."""
    return {(metric, tuple(sorted(dims))) for (ns, metric), dims in kpi_dashboard.PROJECT_METRICS.items()
            if metric != deploy_contract.DEPLOYED_VERSION}


def test_published_metrics_are_exactly_the_ones_the_dashboard_reads(aws, env):
    key = _report(env)
    for status in ("PendingManualApproval", "Approved", "Rejected"):
        handler.handle(event(env, status, report_key=key), env.metrics_namespace, env.model_package_group, ledger(env))
    published = _published(env.metrics_namespace)
    assert {(name, tuple(d for d, _ in dims)) for name, dims in published} == _dashboard_reads(env.metrics_namespace)
    group = (contract.DIMENSION, env.model_package_group)
    assert published == {
        (contract.MODELS_REGISTERED, (group,)),
        (contract.MODELS_APPROVED, (group,)),
        (contract.MODELS_REJECTED, (group,)),
        (contract.QUALITY_METRIC, ((contract.QUALITY_METRIC_DIMENSION, "accuracy"), group)),
        (contract.QUALITY_METRIC, ((contract.QUALITY_METRIC_DIMENSION, "auc"), group)),
    }


def test_approval_of_a_counted_version_publishes_one_approval_count_and_no_quality(aws, env, points):
    key = _report(env)
    handler.handle(event(env, "PendingManualApproval", report_key=key), env.metrics_namespace, env.model_package_group, ledger(env))
    points.clear()
    result = handler.handle(event(env, "Approved", report_key=key), env.metrics_namespace, env.model_package_group, ledger(env))
    assert result == {"published": 1}
    assert [p["MetricName"] for p in points] == [contract.MODELS_APPROVED]


def test_a_version_registered_already_approved_counts_its_registration_approval_and_quality(aws, env, points):
    key = _report(env)
    result = handler.handle(event(env, "Approved", report_key=key), env.metrics_namespace, env.model_package_group, ledger(env))
    assert result == {"published": 4}
    assert _counts(points) == {contract.MODELS_REGISTERED: 1, contract.MODELS_APPROVED: 1, contract.MODELS_REJECTED: 0,
                               contract.QUALITY_METRIC: 2}


@pytest.mark.parametrize("status", ["PendingManualApproval", "Approved", "Rejected"])
def test_repeated_events_count_each_registration_and_decision_once(aws, env, points, status):
    key = _report(env)
    first = event(env, status, report_key=key)
    handler.handle(first, env.metrics_namespace, env.model_package_group, ledger(env))
    counted = _counts(points)
    again = event(env, status, report_key=key)
    again["id"] = "e-2"  # SageMaker's repeat of the same change
    later_update = event(env, status, report_key=key)
    later_update["detail"].update(LastModifiedTime=1764139999000, UpdatedModelPackageFields=["CustomerMetadataProperties"])
    for e in (again, later_update):
        assert handler.handle(e, env.metrics_namespace, env.model_package_group, ledger(env))["published"] == 0
    assert _counts(points) == counted
    assert counted[contract.MODELS_REGISTERED] == 1 and counted[contract.QUALITY_METRIC] == 2
    assert counted[contract.MODELS_APPROVED] == (status == "Approved")
    assert counted[contract.MODELS_REJECTED] == (status == "Rejected")


def test_each_version_counts_on_its_own(aws, env, points):
    for version in (1, 2):
        handler.handle(event(env, "Rejected", version=version), env.metrics_namespace, env.model_package_group, ledger(env))
    assert _counts(points)[contract.MODELS_REGISTERED] == _counts(points)[contract.MODELS_REJECTED] == 2


def test_a_failed_publish_releases_its_claims_so_the_retry_counts(aws, env, points, monkeypatch):
    cloudwatch = handler.client("cloudwatch")
    recording_put = cloudwatch.put_metric_data

    def throttled(**_):
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "PutMetricData")

    monkeypatch.setattr(cloudwatch, "put_metric_data", throttled)
    e = event(env, "Approved")
    with pytest.raises(ClientError):
        handler.handle(e, env.metrics_namespace, env.model_package_group, ledger(env))
    monkeypatch.setattr(cloudwatch, "put_metric_data", recording_put)
    assert handler.handle(e, env.metrics_namespace, env.model_package_group, ledger(env)) == {"published": 2}
    assert _counts(points)[contract.MODELS_APPROVED] == 1


def test_registration_publishes_each_report_metric_value(aws, env):
    key = _report(env)
    handler.handle(event(env, "PendingManualApproval", report_key=key), env.metrics_namespace, env.model_package_group, ledger(env))
    cw = boto3.client("cloudwatch", region_name=REGION)
    stats = cw.get_metric_statistics(
        Namespace=env.metrics_namespace, MetricName=contract.QUALITY_METRIC,
        Dimensions=[{"Name": contract.DIMENSION, "Value": env.model_package_group}, {"Name": "Metric", "Value": "auc"}],
        StartTime="2026-11-26T04:00:00Z", EndTime="2026-11-26T06:00:00Z", Period=3600, Statistics=["Maximum"],
    )["Datapoints"]
    assert [d["Maximum"] for d in stats] == [0.91]


def test_registration_without_report_uri_in_event_asks_sagemaker(aws, env):
    key = _report(env)
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model_package_group(ModelPackageGroupName=env.model_package_group)
    arn = sm.create_model_package(
        ModelPackageGroupName=env.model_package_group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={"Containers": [{"Image": "xgboost"}], "SupportedContentTypes": ["text/csv"],
                                "SupportedResponseMIMETypes": ["text/csv"]},
        ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{key}"}}},
    )["ModelPackageArn"]
    e = event(env, "PendingManualApproval", version=int(arn.rsplit("/", 1)[1]))
    e["detail"]["ModelPackageArn"] = arn
    assert handler.handle(e, env.metrics_namespace, env.model_package_group, ledger(env)) == {"published": 3}


def test_missing_report_still_counts_the_registration(aws, env):
    _report(env)
    e = event(env, "PendingManualApproval", report_key=f"{env.evaluation_prefix}gone/evaluation.json")
    assert handler.handle(e, env.metrics_namespace, env.model_package_group, ledger(env)) == {"published": 1}


def test_unreadable_report_still_counts_the_registration(aws, env):
    key = _report(env, body=b"{not json")
    assert handler.handle(event(env, "PendingManualApproval", report_key=key), env.metrics_namespace,
                          env.model_package_group, ledger(env)) == {"published": 1}


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda e: e["detail"].update(ModelPackageGroupName="someone-elses-models"), id="other_group"),
        pytest.param(lambda e: e["detail"].update(ModelApprovalStatus="Deleted"), id="unknown_status"),
        pytest.param(lambda e: e.update({"detail-type": "SageMaker Training Job State Change"}), id="other_detail_type"),
        pytest.param(lambda e: e.pop("detail"), id="no_detail"),
        pytest.param(lambda e: e["detail"].pop("ModelPackageArn"), id="no_package_arn"),
        pytest.param(lambda e: e["detail"].update(ModelPackageStatus="InProgress"), id="package_in_progress"),
        pytest.param(lambda e: e["detail"].update(ModelPackageStatus="Failed"), id="package_failed"),
        pytest.param(lambda e: e["detail"].pop("ModelPackageStatus"), id="no_package_status"),
    ],
)
def test_ignorable_events_are_logged_and_publish_nothing(aws, env, mutate, capsys):
    e = event(env, "Approved")
    mutate(e)
    result = handler.handle(e, env.metrics_namespace, env.model_package_group, ledger(env))
    assert result["published"] == 0
    assert _published(env.metrics_namespace) == set()
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["level"] == "INFO" and line["message"] == "event ignored" and line["reason"]


def test_non_object_event_is_ignored(aws, env):
    assert handler.handle(["not", "an", "event"], env.metrics_namespace, env.model_package_group, ledger(env))["published"] == 0


def test_transient_cloudwatch_error_raises_so_the_event_is_retried(aws, env, monkeypatch):
    class Throttled:
        def put_metric_data(self, **_):
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "PutMetricData")

    real = handler.client
    monkeypatch.setattr(handler, "client", lambda service: Throttled() if service == "cloudwatch" else real(service))
    with pytest.raises(ClientError):
        handler.handle(event(env, "Approved"), env.metrics_namespace, env.model_package_group, ledger(env))


def test_transient_s3_error_raises_before_anything_is_published(aws, env, monkeypatch):
    key = _report(env)

    def slow_down(**_):
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"}}, "GetObject")

    monkeypatch.setattr(handler.client("s3"), "get_object", slow_down)
    with pytest.raises(ClientError):
        handler.handle(event(env, "PendingManualApproval", report_key=key), env.metrics_namespace, env.model_package_group, ledger(env))
    assert _published(env.metrics_namespace) == set()
    markers = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET, Prefix=env.registry_ledger_prefix)
    assert markers["KeyCount"] == 0, "a claim survived the failure: the retry would not count the registration"


def test_old_event_times_are_stamped_now_so_cloudwatch_accepts_a_late_redrive(aws, env):
    e = event(env, "Approved")
    e["time"] = "2020-01-01T00:00:00Z"
    assert handler.handle(e, env.metrics_namespace, env.model_package_group, ledger(env)) == {"published": 2}


def test_lambda_handler_reads_namespace_and_group_from_the_environment(aws, env, monkeypatch):
    monkeypatch.setenv("METRICS_NAMESPACE", env.metrics_namespace)
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", env.model_package_group)
    monkeypatch.setenv("LEDGER_BUCKET", BUCKET)
    monkeypatch.setenv("LEDGER_PREFIX", env.registry_ledger_prefix)
    monkeypatch.setenv("DECISIONS_PREFIX", env.decisions_prefix)
    assert handler.lambda_handler(event(env, "Rejected"), None) == {"published": 2}
    assert handler.lambda_handler(event(env, "Rejected"), None)["published"] == 0


def test_report_reader_keeps_finite_numbers_only():
    body = json.dumps({"binary_classification_metrics": {"auc": {"value": 0.9}, "f1": {"value": "NaN"},
                                                         "flag": {"value": True}},
                       "regression_metrics": {"mse": {"value": 1.5}}, "other": {"x": {"value": 1}}}).encode()
    assert quality_metrics(body) == {"auc": 0.9, "mse": 1.5}
    assert all(math.isfinite(v) for v in quality_metrics(body).values())
    with pytest.raises(BadReport):
        quality_metrics(b'{"binary_classification_metrics": {}}')


def test_the_developer_guides_sample_event_verbatim_is_counted(aws, env):
    """The guide's sample (its `source` key appears twice, the second time as a list) is a real change."""
    from tests.support.notifier_support import sample_event

    sample = sample_event("developer_guide_sample")
    group = sample["detail"]["ModelPackageGroupName"]
    assert handler.handle(sample, env.metrics_namespace, group, ledger(env))["published"] >= 1


def _claims(env) -> list[str]:
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET, Prefix=env.registry_ledger_prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_with_too_little_time_left_nothing_is_claimed_and_the_event_is_retried(aws, env):
    """Lambda kills a function at its timeout without running any except: a claim made then would never be
    released and the count would be lost. So the handler claims only with time to publish left."""
    key = _report(env)
    with pytest.raises(TimeoutError):
        handler.handle(event(env, "Approved", report_key=key), env.metrics_namespace, env.model_package_group, ledger(env),
                       remaining_ms=lambda: handler.CLAIM_BUDGET_MS - 1)
    assert _claims(env) == []
    assert handler.handle(event(env, "Approved", report_key=key), env.metrics_namespace, env.model_package_group,
                          ledger(env)) == {"published": 4}  # the retry counts everything


def test_every_read_happens_before_the_first_claim(aws, env, monkeypatch):
    key = _report(env)
    reads_after_claim = []
    real_claim = Ledger.claim

    def claim(self, s3, name):
        monkeypatch.setattr(handler, "_quality", lambda change: reads_after_claim.append(change) or {})
        return real_claim(self, s3, name)

    monkeypatch.setattr(Ledger, "claim", claim)
    handler.handle(event(env, "PendingManualApproval", report_key=key), env.metrics_namespace, env.model_package_group, ledger(env))
    assert reads_after_claim == []


@pytest.mark.every_env
def test_the_function_times_out_later_than_claiming_and_publishing_may_take(rendered, env):
    from tests.support.cfn import load

    fn = load(rendered[f"{env}/kpi.yaml"])["Resources"]["MetricsFunction"]["Properties"]
    assert fn["Timeout"] * 1000 > 2 * handler.CLAIM_BUDGET_MS
