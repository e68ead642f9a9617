"""The deployment pipeline's SmokeTest action against moto: it passes only when the staging endpoint serves the
resolved version and answers the documented request with one probability per row, in time.

The model archive is built by the pipeline's own packager around a contract fitted by the pipeline's own
contract code, and the request the function builds is parsed by the model's own serving code. moto's
InvokeEndpoint answers b"body" unless told otherwise: answers are queued through moto's documented
endpoint-results API (POST /moto-api/static/sagemaker/endpoint-results, served in-process by mock_aws).
"""
from __future__ import annotations

import json
import tarfile
import io

import pytest
import requests
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws

from pipeline_def.steps import contract as contract_lib
from pipeline_def.steps import inference, package
from tests.support.pipeline_job_support import job_event, logged

from deploy_smoke_test import contract, handler  # lambda_src/ is on sys.path: tests/__init__.py
from shared import clients  # noqa: E402
from tests.support.staging_world import ACCOUNT, BUCKET, BUDGET_MS, ENDPOINT, GROUP, IMAGE, REGION, ROLE, rows_sent, staging  # noqa: F401 - staging is a fixture


def good_answers(n: int) -> tuple[str, str]:
    return ("\n".join(["0.25"] * n) + "\n", json.dumps([0.25] * n))


class Clock:
    """Every InvokeEndpoint call takes `ms` (the clock is read twice per call)."""

    def __init__(self, *ms: float):
        self.durations, self.now, self.reads = list(ms), 0.0, 0

    def __call__(self) -> float:
        if self.reads % 2:
            self.now += self.durations[min(self.reads // 2, len(self.durations) - 1)] / 1000.0
        self.reads += 1
        return self.now


def failure(world) -> str:
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult", body
    return body["failureDetails"]["message"]


# -- passing -----------------------------------------------------------------------------------------
def test_a_good_endpoint_passes_with_latency_and_summary(staging, capsys):
    staging.answer(*good_answers(rows_sent(staging)))

    result = handler.lambda_handler(staging.event(), None, clock=Clock(40, 60, 50, 45))

    name, body = staging.pipeline.only_result()
    assert name == "PutJobSuccessResult", body
    assert body["outputVariables"]["LatencyMs"] == "48"
    summary = body["outputVariables"]["Summary"]
    assert summary.startswith(f"{ENDPOINT} serves version 1 (AllTraffic): {rows_sent(staging)} rows x 4 requests")
    assert "p50 48 ms, slowest 60 ms, budget 500 ms" in summary
    assert result["decision"] == "passed"
    assert [line["decision"] for line in logged(capsys)] == ["passed"]


def test_json_answers_in_the_predictions_shape_pass(staging):
    n = rows_sent(staging)
    staging.answer("0.1," * (n - 1) + "0.9", json.dumps({"predictions": [{"score": 0.5}] * n}))
    handler.lambda_handler(staging.event(), None, clock=Clock(10))
    assert staging.pipeline.only_result()[0] == "PutJobSuccessResult"


def test_the_request_follows_the_contract_the_serving_code_reads(staging):
    """The rows sent parse with the model's own input code: right columns, a missing number and an
    unknown category included, quoting intact."""
    request_rows = contract.rows(staging.contract)
    csv_frame = inference.parse_request(contract.csv_body(staging.contract, request_rows), "text/csv", staging.contract)
    json_frame = inference.parse_request(contract.json_body(request_rows), "application/json", staging.contract)
    for frame in (csv_frame, json_frame):
        features = contract_lib.apply(staging.contract, frame)
        assert features.shape == (len(request_rows), len(staging.contract["features"]))
    assert list(csv_frame.columns) == contract_lib.request_columns(staging.contract)
    assert contract_lib.text(csv_frame["Minutes"]).isin(contract_lib.MISSING_TOKENS).sum() == 1  # missing: apply() fills it
    assert contract.UNKNOWN_CATEGORY in set(csv_frame["Region"])
    assert 'gold, "annual"' in set(csv_frame["Plan"])


def test_the_contract_is_read_from_the_archive_the_packager_writes(staging):
    loaded = contract.load(f"s3://{BUCKET}/models/v1/model.tar.gz")
    assert loaded == json.loads(contract_lib.dumps(staging.contract))


# -- failing checks ----------------------------------------------------------------------------------
def test_fewer_probabilities_than_rows_fails(staging):
    n = rows_sent(staging)
    staging.answer("\n".join(["0.25"] * (n - 1)), json.dumps([0.25] * n))
    handler.lambda_handler(staging.event(), None, clock=Clock(10))
    assert failure(staging) == (f"text/csv answer from {ENDPOINT}: {n} rows sent, {n - 1} probabilities back")


def test_a_json_answer_with_too_many_values_fails(staging):
    n = rows_sent(staging)
    csv_answer, _ = good_answers(n)
    staging.answer(csv_answer, json.dumps([0.25] * (n + 1)))
    handler.lambda_handler(staging.event(), None, clock=Clock(10))
    assert failure(staging) == f"application/json answer from {ENDPOINT}: {n} rows sent, {n + 1} probabilities back"


@pytest.mark.parametrize("values, expected", [
    (["0.2", "abc"], "value 2 is not a number: 'abc'"),
    (["0.2", "1.5"], "value 2 is 1.5, not a probability in [0, 1]"),
    (["-0.1", "0.5"], "value 1 is -0.1, not a probability in [0, 1]"),
    (["nan", "0.5"], "value 1 is nan, not a probability in [0, 1]"),
    (["inf", "0.5"], "value 1 is inf, not a probability in [0, 1]"),
])
def test_a_value_that_is_not_a_probability_fails(staging, values, expected):
    n = rows_sent(staging)
    staging.answer(",".join(values + ["0.5"] * (n - len(values))))
    handler.lambda_handler(staging.event(), None, clock=Clock(10))
    assert failure(staging) == f"text/csv answer from {ENDPOINT}: {expected}"


def test_moto_s_canned_answer_is_not_mistaken_for_probabilities(staging):
    handler.lambda_handler(staging.event(), None, clock=Clock(10))  # nothing queued: b"body"
    assert failure(staging) == f"text/csv answer from {ENDPOINT}: {rows_sent(staging)} rows sent, 1 probabilities back"


def test_latency_over_budget_fails_with_the_numbers(staging):
    staging.answer(*good_answers(rows_sent(staging)))
    handler.lambda_handler(staging.event(), None, clock=Clock(790, 812, 1200, 830))
    assert failure(staging) == (f"p50 latency 821 ms over budget {BUDGET_MS} ms "
                                f"(4 requests to {ENDPOINT}, slowest 1200 ms)")


def test_one_slow_request_within_a_fast_median_passes(staging):
    staging.answer(*good_answers(rows_sent(staging)))
    handler.lambda_handler(staging.event(), None, clock=Clock(2000, 40, 40, 40))
    assert staging.pipeline.only_result()[0] == "PutJobSuccessResult"


def test_an_endpoint_not_in_service_fails(staging, monkeypatch):
    sagemaker = clients.client("sagemaker")
    real = sagemaker.describe_endpoint
    monkeypatch.setattr(sagemaker, "describe_endpoint", lambda **kw: {**real(**kw), "EndpointStatus": "Updating"})
    handler.lambda_handler(staging.event(), None, clock=Clock(10))
    assert failure(staging) == f"endpoint {ENDPOINT} is Updating, not InService"


def test_an_endpoint_serving_another_version_fails(staging):
    newer = staging.register(staging.archive)
    handler.lambda_handler(staging.event(ModelPackageArn=newer), None, clock=Clock(10))
    assert failure(staging) == f"endpoint {ENDPOINT} variant AllTraffic serves {staging.package_arn}; expected {newer}"


def test_an_endpoint_serving_a_plain_model_fails(staging):
    staging.sm.create_model(ModelName="plain", ExecutionRoleArn=ROLE,
                            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/models/v1/model.tar.gz"})
    staging.sm.create_endpoint_config(EndpointConfigName="plain", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "plain", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    staging.sm.create_endpoint(EndpointName="plain-endpoint", EndpointConfigName="plain")
    handler.lambda_handler(staging.event(EndpointName="plain-endpoint"), None, clock=Clock(10))
    assert "serves a model not created from a model package" in failure(staging)


def test_a_version_rejected_since_it_was_resolved_is_not_promoted(staging):
    staging.sm.update_model_package(ModelPackageArn=staging.package_arn, ModelApprovalStatus="Rejected")
    handler.lambda_handler(staging.event(), None, clock=Clock(10))
    assert failure(staging) == f"model package {staging.package_arn} is Rejected now, not Approved: not promoting it"


def test_an_archive_without_a_contract_fails(staging, tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    arn = staging.register(buffer.getvalue())
    staging.serve(arn, name="bare")
    handler.lambda_handler(staging.event(EndpointName="bare", ModelPackageArn=arn), None, clock=Clock(10))
    assert failure(staging) == f"s3://{BUCKET}/models/v2/model.tar.gz holds no contract.json: it was not packaged by this project's pipeline"


def test_an_archive_with_many_members_before_its_contract_is_refused_early(staging):
    """A hostile archive (a million empty members ahead of contract.json) is refused after the first hundred, in
    bounded time and memory, whatever comes after."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for i in range(contract.MAX_MEMBERS_BEFORE_CONTRACT + 1):
            tar.addfile(tarfile.TarInfo(f"filler-{i}"), io.BytesIO(b""))
        payload = b'{"version": 1, "columns": []}'
        info = tarfile.TarInfo("contract.json")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    arn = staging.register(buffer.getvalue())
    staging.serve(arn, name="crowded")
    handler.lambda_handler(staging.event(EndpointName="crowded", ModelPackageArn=arn), None, clock=Clock(10))
    assert f"no contract.json within the first {contract.MAX_MEMBERS_BEFORE_CONTRACT} members" in failure(staging)


def test_an_archive_that_is_not_gzip_fails(staging):
    arn = staging.register(b"not an archive")
    staging.serve(arn, name="broken")
    handler.lambda_handler(staging.event(EndpointName="broken", ModelPackageArn=arn), None, clock=Clock(10))
    assert failure(staging).startswith(f"cannot read contract.json from s3://{BUCKET}/models/v2/model.tar.gz: ReadError")


def test_an_archive_over_the_size_limit_is_refused_unread(staging, monkeypatch):
    monkeypatch.setattr(contract, "MAX_ARCHIVE_BYTES", len(staging.archive) - 1)
    handler.lambda_handler(staging.event(), None, clock=Clock(10))
    assert failure(staging) == (f"s3://{BUCKET}/models/v1/model.tar.gz is {len(staging.archive)} bytes; "
                                f"the smoke test reads archives up to {len(staging.archive) - 1}")


def test_an_endpoint_error_fails_naming_the_request(staging, monkeypatch):
    def model_error(**_):
        raise ClientError({"Error": {"Code": "ModelError", "Message": "Received server error (500) from primary"},
                           "ResponseMetadata": {"HTTPStatusCode": 424}}, "InvokeEndpoint")

    monkeypatch.setattr(clients.client("sagemaker-runtime"), "invoke_endpoint", model_error)
    handler.lambda_handler(staging.event(), None, clock=Clock(10))
    assert failure(staging) == (f"text/csv request to {ENDPOINT} failed: ModelError: An error occurred (ModelError) "
                                "when calling the InvokeEndpoint operation: Received server error (500) from primary")


def test_an_endpoint_timeout_fails_naming_the_request(staging, monkeypatch):
    def timeout(**_):
        raise ReadTimeoutError(endpoint_url=f"https://runtime.sagemaker.{REGION}.amazonaws.com")

    monkeypatch.setattr(clients.client("sagemaker-runtime"), "invoke_endpoint", timeout)
    handler.lambda_handler(staging.event(), None, clock=Clock(10))
    assert failure(staging).startswith(f"text/csv request to {ENDPOINT} failed: ReadTimeoutError: Read timeout")


# -- parameters and errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("user_parameters, expected", [
    ("", "UserParameters is not a JSON object: ''"),
    ("[1]", "UserParameters is not a JSON object: '[1]'"),
    (json.dumps({"ModelPackageArn": "x"}), "UserParameters EndpointName must be an endpoint name, not 'None'"),
    (json.dumps({"EndpointName": ENDPOINT, "ModelPackageArn": "#{Resolve.ModelPackageArn}"}),
     "(an unresolved pipeline variable: is the Resolve action's namespace right?)"),
    (json.dumps({"EndpointName": ENDPOINT, "ModelPackageArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/{GROUP}"}),
     "must be a versioned model package ARN"),
])
def test_bad_user_parameters_are_a_configuration_error(staging, user_parameters, expected):
    handler.lambda_handler(job_event(user_parameters), None, clock=Clock(10))
    name, body = staging.pipeline.only_result()
    assert name == "PutJobFailureResult"
    assert body["failureDetails"]["type"] == "ConfigurationError"
    assert expected in body["failureDetails"]["message"]


@pytest.mark.parametrize("budget", ["", "0", "-5", "fast"])
def test_a_bad_latency_budget_is_a_configuration_error(staging, monkeypatch, budget):
    monkeypatch.setenv("LATENCY_BUDGET_MS", budget)
    handler.lambda_handler(staging.event(), None, clock=Clock(10))
    name, body = staging.pipeline.only_result()
    assert body["failureDetails"]["type"] == "ConfigurationError"
    assert "LATENCY_BUDGET_MS" in body["failureDetails"]["message"]


def test_a_missing_endpoint_fails_the_check_and_says_so(staging, capsys):
    handler.lambda_handler(staging.event(EndpointName="absent"), None, clock=Clock(10))
    assert failure(staging) == "endpoint absent does not exist"
    assert [line["decision"] for line in logged(capsys)] == ["endpoint_not_in_service"]


def test_a_model_that_names_its_package_twice_still_serves_it(staging):
    """DescribeModel may echo one container as PrimaryContainer and in Containers: one package, not two."""
    from shared import serving

    model = {"PrimaryContainer": {"ModelPackageName": staging.package_arn}, "Containers": [{"ModelPackageName": staging.package_arn}]}
    assert serving.packages_of(model) == [staging.package_arn]


def test_a_malformed_event_is_logged_and_raised(staging, capsys):
    with pytest.raises(ValueError):
        handler.lambda_handler({"detail": {}}, None)
    assert staging.pipeline.results == []
    assert [line["decision"] for line in logged(capsys)] == ["malformed"]


def test_when_the_failure_cannot_be_reported_the_function_raises(staging, capsys):
    staging.pipeline.fail_with = (500, "InternalServerError")
    with pytest.raises(ClientError):
        handler.lambda_handler(staging.event(EndpointName="absent"), None, clock=Clock(10))
    assert [line["decision"] for line in logged(capsys)] == ["report_failed"]


@pytest.mark.parametrize("column, message", [
    ({"name": "x", "kind": "numeric", "fill": float("nan")}, "numeric column 'x' has no finite fill value"),
    ({"name": "x", "kind": "categorical"}, "categorical column 'x' has no list of categories"),
    ({"name": "x", "kind": "text"}, "column 'x' has kind 'text'"),
])
def test_a_contract_this_code_cannot_read_is_refused_by_name(column, message):
    with pytest.raises(Exception) as raised:
        contract.validate({"version": 1, "columns": [column]}, "s3://b/k")
    assert raised.value.message == f"contract.json in s3://b/k: {message}"


def test_right_before_production_a_version_rejected_meanwhile_is_stopped(staging):
    """StillApprovedOnly: a version rejected while its run waited for the production approval does not go out."""
    result = handler.lambda_handler(staging.event(StillApprovedOnly=True), None, clock=Clock(10))
    assert result["decision"] == "still_approved"
    staging.pipeline.calls.clear()
    staging.sm.update_model_package(ModelPackageArn=staging.package_arn, ModelApprovalStatus="Rejected")
    handler.lambda_handler(staging.event(StillApprovedOnly=True), None, clock=Clock(10))
    assert failure(staging) == f"model package {staging.package_arn} is Rejected now, not Approved: not promoting it"
