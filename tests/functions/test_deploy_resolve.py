"""The deployment pipeline's Resolve action against moto: it deploys the registry's newest Approved version,
whatever started the run, and says so plainly when there is none."""
from __future__ import annotations

import ast
import datetime
import json
import sys
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from infra.parts.functions import RUNTIME
from tests.support.pipeline_job_support import job_event, logged

from deploy_resolve import handler, registry, summary  # lambda_src/ is on sys.path: tests/__init__.py
from shared import archives, clients  # noqa: E402
from tests.support.registry_world import ARCHIVES, BUCKET, GROUP, IMAGE_REPOSITORY, OTHER_GROUP, world  # noqa: F401 - world is a fixture


def test_newest_approved_version_is_resolved(world, capsys):
    v1 = world.register("Approved")
    world.register("Rejected")
    v3 = world.register("Approved")
    world.register("PendingManualApproval")
    world.register("Rejected")
    world.register("Approved", group=OTHER_GROUP)  # newer, but another env's group

    result = handler.lambda_handler(job_event(), None)

    name, body = world.pipeline.only_result()
    assert name == "PutJobSuccessResult"
    variables = body["outputVariables"]
    assert variables["ModelPackageArn"] == v3 != v1
    assert variables["ModelPackageVersion"] == "3"
    assert result["decision"] == "resolved"
    assert [line["decision"] for line in logged(capsys)] == ["resolved"]


def test_a_replayed_event_for_an_older_version_still_deploys_the_newest(world):
    """Approval order is not version order: v1 re-approved after v3 changes nothing, and the event's
    version (v1, here in UserParameters and a fake detail) is never read."""
    v1 = world.register("Rejected")
    v3 = world.register("PendingManualApproval")
    world.register("Rejected")
    world.set_status(v3, "Approved")
    world.set_status(v1, "Approved")  # approved last: the newest *approval*, not the newest version
    event = job_event(user_parameters=json.dumps({"ModelPackageArn": v1}))
    event["detail"] = {"ModelPackageArn": v1, "ModelPackageVersion": 1, "ModelApprovalStatus": "Approved"}

    handler.lambda_handler(event, None)

    assert world.pipeline.only_result()[1]["outputVariables"]["ModelPackageArn"] == v3


def test_output_variables_are_strings_within_codepipeline_limits(world):
    world.register("Approved")
    handler.lambda_handler(job_event(), None)
    variables = world.pipeline.only_result()[1]["outputVariables"]
    assert set(variables) == {"ModelPackageArn", "ModelPackageVersion", "CreationTime", "Summary", "FastPath", "Checks"}
    assert all(isinstance(v, str) and v for v in variables.values())
    assert len(variables["Summary"]) <= summary.MAX_SUMMARY_CHARS
    assert variables["CreationTime"].endswith("Z")


def test_summary_names_version_creation_time_and_auc(world):
    world.register("Approved")
    handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    text = body["outputVariables"]["Summary"]
    assert text.startswith(f"version 1 of {GROUP}, created 20")
    assert text.endswith("auc 0.9123")
    assert body["executionDetails"]["summary"] == text


@pytest.mark.parametrize("report, expected", [
    (None, "no quality report"),
    (b"{not json", "quality report unavailable (JSONDecodeError)"),
    (b"[" * 100_000 + b"]" * 100_000, "quality report unavailable"),
    ({"binary_classification_metrics": {"auc": {"value": "NaN"}}}, "no metric in the quality report"),
    (b"x" * (summary.MAX_REPORT_BYTES + 1), "quality report unavailable (ValueError)"),
])
def test_a_bad_quality_report_costs_the_metric_not_the_deployment(world, report, expected):
    arn = world.register("Approved", report=report)
    handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobSuccessResult"
    assert body["outputVariables"]["ModelPackageArn"] == arn
    assert expected in body["outputVariables"]["Summary"]


def test_a_missing_report_object_costs_the_metric_not_the_deployment(world):
    world.register("Approved")
    for item in world.s3.list_objects_v2(Bucket=BUCKET, Prefix="evaluation/")["Contents"]:
        world.s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobSuccessResult"
    assert "quality report unavailable (NoSuchKey)" in body["outputVariables"]["Summary"]


def test_rejecting_the_last_approved_version_fails_the_action_and_says_so(world, capsys):
    only = world.register("Approved")
    world.register("PendingManualApproval")
    world.set_status(only, "Rejected")

    result = handler.lambda_handler(job_event(), None)

    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult"
    assert body["failureDetails"] == {
        "type": "JobFailed",
        "message": f"no Approved version left in model package group {GROUP}; nothing was deployed"}
    assert result["decision"] == "none_approved"
    assert [line["decision"] for line in logged(capsys)] == ["none_approved"]


def test_an_empty_group_fails_the_action(world):
    handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult" and "no Approved version left" in body["failureDetails"]["message"]


def test_newest_is_the_first_item_of_the_first_page_whatever_the_page_size(world, monkeypatch):
    monkeypatch.setattr(registry, "PAGE_SIZE", 1)
    world.register("Approved")
    world.register("Approved")
    newest = world.register("Approved")
    world.register("Rejected")
    handler.lambda_handler(job_event(), None)
    assert world.pipeline.only_result()[1]["outputVariables"]["ModelPackageArn"] == newest


def test_empty_pages_with_a_next_token_are_followed(world, monkeypatch):
    arn = world.register("Approved")
    sagemaker = clients.client("sagemaker")
    real = sagemaker.list_model_packages
    tokens = []

    def empty_first(**kwargs):
        tokens.append(kwargs.get("NextToken"))
        if "NextToken" not in kwargs:
            return {"ModelPackageSummaryList": [], "NextToken": "page-2"}
        return real(**{k: v for k, v in kwargs.items() if k != "NextToken"})

    monkeypatch.setattr(sagemaker, "list_model_packages", empty_first)
    handler.lambda_handler(job_event(), None)
    assert tokens == [None, "page-2"]
    assert world.pipeline.only_result()[1]["outputVariables"]["ModelPackageArn"] == arn


def test_a_version_rejected_while_resolving_is_not_deployed(world, monkeypatch):
    older = world.register("Approved")
    newest = world.register("Approved")
    sagemaker = clients.client("sagemaker")
    real = sagemaker.describe_model_package

    def reject_on_first_look(**kwargs):
        if kwargs["ModelPackageName"] == newest:
            world.set_status(newest, "Rejected")
        return real(**kwargs)

    monkeypatch.setattr(sagemaker, "describe_model_package", reject_on_first_look)
    handler.lambda_handler(job_event(), None)
    assert world.pipeline.only_result()[1]["outputVariables"]["ModelPackageArn"] == older


def _throttled(**_):
    raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                       "ResponseMetadata": {"HTTPStatusCode": 400}}, "ListModelPackages")


def test_an_aws_error_is_reported_to_the_pipeline_and_logged(world, monkeypatch, capsys):
    world.register("Approved")
    monkeypatch.setattr(clients.client("sagemaker"), "list_model_packages", _throttled)

    result = handler.lambda_handler(job_event(), None)

    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult"
    assert body["failureDetails"]["type"] == "JobFailed"
    assert body["failureDetails"]["message"].startswith("AWS error ThrottlingException: ")
    assert result["decision"] == "aws_error"
    [line] = logged(capsys)
    assert (line["decision"], line["error_code"]) == ("aws_error", "ThrottlingException")


def test_when_even_the_failure_cannot_be_reported_the_function_raises(world, monkeypatch, capsys):
    monkeypatch.setattr(clients.client("sagemaker"), "list_model_packages", _throttled)
    world.pipeline.fail_with = (500, "InternalServerError")
    with pytest.raises(ClientError):
        handler.lambda_handler(job_event(), None)
    assert [line["decision"] for line in logged(capsys)] == ["report_failed"]


def test_when_the_success_cannot_be_reported_the_function_raises(world, capsys):
    world.register("Approved")
    world.pipeline.fail_with = (400, "ValidationException")
    with pytest.raises(ClientError):
        handler.lambda_handler(job_event(), None)
    assert [line["decision"] for line in logged(capsys)] == ["report_failed"]


def test_a_retry_of_a_job_already_reported_is_logged_not_raised(world, capsys):
    world.register("Approved")
    world.pipeline.fail_with = (400, "InvalidJobStateException")
    result = handler.lambda_handler(job_event(), None)
    assert result["decision"] == "resolved"
    assert [line["decision"] for line in logged(capsys)] == ["already_reported"]


@pytest.mark.parametrize("event", [
    {},
    {"CodePipeline.job": {}},
    {"CodePipeline.job": {"id": "not-a-job-id"}},
    {"detail-type": "SageMaker Model Package State Change", "detail": {"ModelPackageArn": "arn:x"}},
    ["CodePipeline.job"],
])
def test_a_malformed_event_is_logged_and_raised(world, event, capsys):
    with pytest.raises(ValueError):
        handler.lambda_handler(event, None)
    assert world.pipeline.results == []
    [line] = logged(capsys)
    assert line["decision"] == "malformed"


def test_a_missing_group_setting_is_a_configuration_error(world, monkeypatch):
    monkeypatch.delenv("MODEL_PACKAGE_GROUP")
    handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult"
    assert body["failureDetails"]["type"] == "ConfigurationError"
    assert "MODEL_PACKAGE_GROUP" in body["failureDetails"]["message"]


def test_a_bug_is_reported_to_the_pipeline_and_raised(world, monkeypatch, capsys):
    world.register("Approved")
    monkeypatch.setattr(summary, "line", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult"
    assert body["failureDetails"]["message"].startswith("internal error ZeroDivisionError")
    assert [line["decision"] for line in logged(capsys)] == ["internal_error"]


def test_the_event_and_its_artifact_credentials_are_never_logged(world, capsys):
    world.register("Approved")
    handler.lambda_handler(job_event(), None)
    with pytest.raises(ValueError):
        handler.lambda_handler({"CodePipeline.job": {"id": "bad", "data": {"artifactCredentials": {
            "secretAccessKey": "artifact-secret", "sessionToken": "artifact-session-token"}}}}, None)
    out = capsys.readouterr().out
    assert "artifact-secret" not in out and "artifact-session-token" not in out


LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"
# Standard-library modules Python 3.12 and 3.13 removed (PEP 594, PEP 632, imp, asyncore…): present in the 3.11
# that runs these tests, absent on the Lambda runtime.
REMOVED_BY_3_13 = frozenset({
    "aifc", "asynchat", "asyncore", "audioop", "cgi", "cgitb", "chunk", "crypt", "distutils", "imghdr", "imp",
    "lib2to3", "mailcap", "msilib", "nis", "nntplib", "ossaudiodev", "pipes", "smtpd", "sndhdr", "spwd", "sunau",
    "telnetlib", "uu", "xdrlib",
})


@pytest.mark.parametrize("folder", ["deploy_resolve", "deploy_smoke_test", "shared"])
def test_the_deployment_functions_import_only_what_their_zip_holds(folder):
    """The Lambda runtime (infra/parts/functions.py RUNTIME): the standard library as that Python has it (this test
    runs on an older one, so the modules 3.12 and 3.13 removed are taken out), boto3/botocore, `shared` and the
    function's own package. Nothing from infra/ or pipeline_def/ (not in the zip), nothing pip-installed."""
    assert RUNTIME == "python3.13", "refresh REMOVED_BY_3_13 for the new runtime"
    allowed = (set(sys.stdlib_module_names) - REMOVED_BY_3_13) | {"boto3", "botocore", "shared", folder}
    problems = []
    for path in sorted((LAMBDA_SRC / folder).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            problems += [f"{path.name}: import {n}" for n in names if n.split(".")[0] not in allowed]
    assert not problems, problems


# -- nothing to deploy ------------------------------------------------------------------------------
def _serve(world, arn: str, endpoint: str) -> None:
    name = f"m-{uuid.uuid4().hex[:8]}"
    world.sm.create_model(ModelName=name, Containers=[{"ModelPackageName": arn}],
                          ExecutionRoleArn="arn:aws:iam::123456789012:role/model")
    world.sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    world.sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=name)


def test_when_production_already_serves_the_newest_approved_version_there_is_nothing_to_deploy(world, monkeypatch):
    """Approving an older version (or rejecting one production does not serve) asks nobody to approve what runs."""
    monkeypatch.setenv("PRODUCTION_ENDPOINT", "acme-production")
    world.register("Approved")
    newest = world.register("Approved")
    _serve(world, newest, "acme-production")
    result = handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult" and result["decision"] == "up_to_date"
    assert body["failureDetails"]["message"] == (f"acme-production already serves version 2, the newest Approved version "
                                                 f"of {GROUP}; nothing to deploy")


def test_rejecting_the_version_production_serves_deploys_the_newest_still_approved(world, monkeypatch):
    monkeypatch.setenv("PRODUCTION_ENDPOINT", "acme-production")
    previous = world.register("Approved")
    served = world.register("Approved")
    _serve(world, served, "acme-production")
    world.set_status(served, "Rejected")
    handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobSuccessResult" and body["outputVariables"]["ModelPackageArn"] == previous


def test_a_run_started_to_redeploy_deploys_what_production_already_serves(world, monkeypatch):
    """A template or config change reaches production by a run started with Redeploy=true."""
    monkeypatch.setenv("PRODUCTION_ENDPOINT", "acme-production")
    served = world.register("Approved")
    _serve(world, served, "acme-production")
    handler.lambda_handler(job_event(json.dumps({"Redeploy": "true"})), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobSuccessResult" and body["outputVariables"]["ModelPackageArn"] == served


def test_the_first_deployment_in_a_fresh_account_has_no_production_to_compare_with(world, monkeypatch):
    monkeypatch.setenv("PRODUCTION_ENDPOINT", "acme-production")  # no such endpoint yet
    only = world.register("Approved")
    handler.lambda_handler(job_event(json.dumps({"Redeploy": "false"})), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobSuccessResult" and body["outputVariables"]["ModelPackageArn"] == only


def test_an_endpoint_whose_config_is_gone_is_not_up_to_date(world, monkeypatch):
    """A rolled-back endpoint whose old config CloudFormation deleted: deploy again rather than stop for good."""
    monkeypatch.setenv("PRODUCTION_ENDPOINT", "acme-production")
    served = world.register("Approved")
    _serve(world, served, "acme-production")
    config = world.sm.describe_endpoint(EndpointName="acme-production")["EndpointConfigName"]
    world.sm.delete_endpoint_config(EndpointConfigName=config)
    handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobSuccessResult" and body["outputVariables"]["ModelPackageArn"] == served


# -- the archive served is the one registered (shared/archives.py) -------------------------------------------
def _archive_key(world, arn: str) -> str:
    url = world.sm.describe_model_package(ModelPackageName=arn)["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    return url.split(f"s3://{BUCKET}/", 1)[1]


def _tags(world, key: str) -> list[list[dict]]:
    """The tag set of each object version of `key`, newest first."""
    versions = [v for v in world.s3.list_object_versions(Bucket=BUCKET, Prefix=key).get("Versions", []) if v["Key"] == key]
    return [world.s3.get_object_tagging(Bucket=BUCKET, Key=key, VersionId=v["VersionId"])["TagSet"] for v in versions]


def test_the_archive_of_the_resolved_version_is_tagged_with_it(world):
    arn = world.register("Approved")
    key = _archive_key(world, arn)
    world.s3.put_object(Bucket=BUCKET, Key=key + ".bak", Body=b"a longer key sharing the prefix")  # not a version of it
    handler.lambda_handler(job_event(), None)
    assert world.pipeline.only_result()[0] == "PutJobSuccessResult"
    assert _tags(world, key) == [[{"Key": archives.ARCHIVE_TAG, "Value": arn}]]


def test_resolving_again_keeps_the_one_tagged_version(world):
    arn = world.register("Approved")
    for _ in range(2):
        world.pipeline.calls.clear()
        handler.lambda_handler(job_event(), None)
        assert world.pipeline.only_result()[0] == "PutJobSuccessResult"
    assert _tags(world, _archive_key(world, arn)) == [[{"Key": archives.ARCHIVE_TAG, "Value": arn}]]


@pytest.mark.parametrize("rewrite", ["overwritten", "deleted and written again", "deleted"])
def test_an_archive_written_after_registration_is_not_deployed(world, capsys, rewrite):
    arn = world.register("Approved")
    key = _archive_key(world, arn)
    if rewrite.startswith("deleted"):
        world.s3.delete_object(Bucket=BUCKET, Key=key)
    if rewrite != "deleted":
        world.s3.put_object(Bucket=BUCKET, Key=key, Body=b"not what was approved")
    handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult"
    assert "version 1" in body["failureDetails"]["message"] and "nothing was deployed" in body["failureDetails"]["message"]
    assert logged(capsys)[-1]["decision"] == "archive_rewritten"
    assert all(tags == [] for tags in _tags(world, key)), "nothing may be tagged for serving"


@pytest.mark.parametrize("url", [
    f"s3://another-bucket/{ARCHIVES}run/model.tar.gz",
    f"s3://{BUCKET}/sagemaker/another-pipeline/models/run/model.tar.gz",
    f"s3://{BUCKET}/{ARCHIVES}../data/model.tar.gz",
    "https://example.com/model.tar.gz",
])
def test_an_archive_outside_the_envs_models_folder_is_not_deployed(world, capsys, url):
    world.register("Approved", archive_url=url)
    handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult"
    assert logged(capsys)[-1]["decision"] == "archive_elsewhere"


def test_a_version_whose_archive_is_gone_is_not_deployed(world, capsys):
    world.register("Approved", archive_url=f"s3://{BUCKET}/{ARCHIVES}never-written/model.tar.gz")
    handler.lambda_handler(job_event(), None)
    assert world.pipeline.only_result()[0] == "PutJobFailureResult"
    assert logged(capsys)[-1]["decision"] == "archive_missing"


def test_without_the_archive_settings_nothing_is_resolved(world, monkeypatch, capsys):
    world.register("Approved")
    monkeypatch.delenv("ARCHIVE_PREFIX")
    handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult" and body["failureDetails"]["type"] == "ConfigurationError"


def test_an_archive_first_written_after_registration_is_not_deployed(world, capsys, monkeypatch):
    key = f"{ARCHIVES}late/package/model.tar.gz"
    world.register("Approved", archive_url=f"s3://{BUCKET}/{key}")
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=b"written after the version was registered")
    newest = registry.newest_approved  # S3 keeps whole seconds: let the registration be a minute older instead of waiting
    monkeypatch.setattr(registry, "newest_approved", lambda group: {
        **newest(group), "CreationTime": newest(group)["CreationTime"] - datetime.timedelta(minutes=1)})
    handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult" and "after the version was registered" in body["failureDetails"]["message"]
    assert logged(capsys)[-1]["decision"] == "archive_rewritten"
    assert _tags(world, key) == [[]]


def test_without_bucket_versioning_a_rewrite_could_not_be_seen_so_nothing_is_deployed(world, capsys):
    world.register("Approved")
    world.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult" and body["failureDetails"]["type"] == "ConfigurationError"
    assert logged(capsys)[-1]["decision"] == "archive_unverifiable"


@pytest.mark.parametrize("image", [
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.0-5",  # another account's repository of that name
    f"{IMAGE_REPOSITORY}-custom:1",  # another repository whose name starts alike
    "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.4-2",
    "docker.io/library/python:3",
    f"{IMAGE_REPOSITORY}:",  # no tag
    f"{IMAGE_REPOSITORY}@sha256:",  # no digest
])
def test_a_version_served_with_another_image_is_not_deployed(world, capsys, image):
    arn = world.register("Approved", image=image)
    handler.lambda_handler(job_event(), None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult" and image in body["failureDetails"]["message"]
    assert logged(capsys)[-1]["decision"] == "image_elsewhere"
    assert _tags(world, _archive_key(world, arn)) == [[]]


def test_the_serving_image_may_be_named_by_digest(world):
    world.register("Approved", image=f"{IMAGE_REPOSITORY}@sha256:" + "0" * 64)
    handler.lambda_handler(job_event(), None)
    assert world.pipeline.only_result()[0] == "PutJobSuccessResult"
