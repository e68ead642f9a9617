"""Bake traffic beside production's rollout: the version's contract requests reach the endpoint while the rollout runs,
the action lasts as long as the rollout (continuation tokens), and a rollout whose new fleet answered nothing fails.

Against moto (registry, archive, endpoint, InvokeEndpoint, CloudWatch metrics). moto has no UpdateEndpoint, so the
endpoint's rollout states (DescribeEndpoint's EndpointStatus and PendingDeploymentSummary) are scripted; time is
simulated (every request and wait advances a fake clock).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest
from moto import mock_aws

from tests.support.staging_world import ACCOUNT, REGION, Staging, rows_sent
from tests.support.pipeline_job_support import job_event

from deploy_smoke_test import bake, contract, handler  # lambda_src/ is on sys.path: tests/__init__.py
from shared import clients

PRODUCTION = "acme-fraud-production"
OLD, NEW = "acme-fraud-production-config-v1", "acme-fraud-production-config-v2"
ROLLOUT_SECONDS = 3600


class Time:
    """A fake clock: sleeping advances it; the function has `budget_s` left from its start."""

    def __init__(self, budget_s: float = 10_000):
        self.origin = self.now = self.start = 1_800_000_000.0  # origin: the action's start; start: this invocation's
        self.budget_s = budget_s

    def next_invocation(self) -> None:
        self.start = self.now

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.01)

    def remaining_ms(self) -> int:
        return int((self.start + self.budget_s - self.now) * 1000)


class Rollout:
    """DescribeEndpoint's answers over time: (seconds from the start, status, serving config, pending config)."""

    def __init__(self, time: Time, *script: tuple[float, str, str, str]):
        self.time, self.script = time, script

    def __call__(self, endpoint_name: str) -> tuple[str, str, str]:
        assert endpoint_name == PRODUCTION
        elapsed = self.time.now - self.time.origin
        _, status, serving, pending = [s for s in self.script if s[0] <= elapsed][-1]
        return status, serving, pending


@pytest.fixture
def world(monkeypatch, tmp_path):
    with mock_aws():
        clients.reset()
        w = Staging(monkeypatch, tmp_path)
        w.serve(w.package_arn, name=PRODUCTION)
        w.sent = []
        runtime = clients.client("sagemaker-runtime")
        runtime.meta.events.register("before-parameter-build.sagemaker-runtime.InvokeEndpoint",
                                     lambda params, **_: w.sent.append(dict(params)))
        yield w
        clients.reset()


def run(world, time: Time, rollout: Rollout, monkeypatch, token: str | None = None) -> dict:
    monkeypatch.setattr(bake, "_rollout", rollout)
    event = job_event(json.dumps({"EndpointName": PRODUCTION, "ModelPackageArn": world.package_arn,
                                  "RolloutSeconds": ROLLOUT_SECONDS}), continuation_token=token)
    given = handler.parameters.read(handler.pipeline_job.parse(event))
    return handler.pipeline_job.run(event, handler.FUNCTION, lambda job: bake.run(
        job, given.endpoint_name, handler._package(given.package_arn), given.rollout_seconds, time.remaining_ms,
        clock=time.clock, wall=time.clock, sleep=time.sleep))


def new_fleet_answered(count: int, at: float) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
        "MetricName": "Invocations", "Value": count, "Unit": "None", "Timestamp": datetime.fromtimestamp(at, timezone.utc),
        "Dimensions": [{"Name": "EndpointName", "Value": PRODUCTION}, {"Name": "VariantName", "Value": "AllTraffic"},
                       {"Name": "EndpointConfigName", "Value": NEW}]}])


def a_rollout(time: Time) -> Rollout:
    """Two minutes before UpdateEndpoint, a ten-minute rollout, then the new config serves."""
    return Rollout(time, (0, "InService", OLD, ""), (120, "Updating", OLD, NEW), (720, "InService", NEW, ""))


def test_contract_requests_reach_the_endpoint_until_the_rollout_completes(world, monkeypatch):
    time = Time()
    new_fleet_answered(42, time.origin + 400)
    result = run(world, time, a_rollout(time), monkeypatch)

    name, body = world.pipeline.only_result()
    assert name == "PutJobSuccessResult" and result["decision"] == "baked", body
    assert "its new fleet answered 42 requests" in body["outputVariables"]["Summary"]
    minutes = (time.now - time.start) / 60
    assert 12 <= minutes <= 13, "it stops once the rollout is over"
    assert len(world.sent) == pytest.approx(minutes * bake.REQUESTS_PER_MINUTE, rel=0.05)
    package = world.sm.describe_model_package(ModelPackageName=world.package_arn)
    request_contract = contract.load(package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])
    expected = contract.csv_body(request_contract, contract.rows(request_contract))
    assert {p["Body"] for p in world.sent} == {expected}, "only the version's own contract rows"
    assert expected.count(b"\n") == rows_sent(world)
    assert {(p["EndpointName"], p["ContentType"], p["InferenceId"]) for p in world.sent} == {
        (PRODUCTION, "text/csv", bake.INFERENCE_ID)}


def test_a_rollout_whose_new_fleet_answered_nothing_is_not_validated(world, monkeypatch):
    time = Time()
    run(world, time, a_rollout(time), monkeypatch)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult"
    assert body["failureDetails"]["message"].startswith(f"the new fleet of {PRODUCTION} ({NEW}) answered no request")


def test_a_rollout_longer_than_one_invocation_continues_with_a_token(world, monkeypatch):
    time = Time(budget_s=300)
    rollout = a_rollout(time)
    run(world, time, rollout, monkeypatch)
    name, body = world.pipeline.only_result()
    assert name == "PutJobSuccessResult" and "outputVariables" not in body, body
    token = body["continuationToken"]
    assert json.loads(token)["sent"] == len(world.sent) > 0 and len(token) <= 2048

    new_fleet_answered(7, time.origin + 400)
    while True:  # CodePipeline invokes the function again with the token until it reports without one
        world.pipeline.calls.clear()
        time.next_invocation()
        run(world, time, rollout, monkeypatch, token)
        name, body = world.pipeline.only_result()
        if "continuationToken" not in body:
            break
        token = body["continuationToken"]
    assert name == "PutJobSuccessResult" and "its new fleet answered 7 requests" in body["outputVariables"]["Summary"]
    assert f"{len(world.sent)} bake requests sent" in body["outputVariables"]["Summary"]


def test_no_rollout_ends_the_action_quietly_after_the_grace_period(world, monkeypatch):
    time = Time()
    result = run(world, time, Rollout(time, (0, "InService", OLD, "")), monkeypatch)
    assert result["decision"] == "no_rollout"
    assert bake.NO_ROLLOUT_SECONDS <= time.now - time.start <= bake.NO_ROLLOUT_SECONDS + bake.POLL_SECONDS + 1


def test_a_rolled_back_rollout_is_left_for_the_driver_to_report(world, monkeypatch):
    time = Time()
    result = run(world, time, Rollout(time, (0, "Updating", OLD, NEW), (300, "RollingBack", OLD, ""),
                                      (400, "InService", OLD, "")), monkeypatch)
    assert result["decision"] == "rolled_back"
    assert world.pipeline.only_result()[0] == "PutJobSuccessResult"


def test_bake_traffic_is_one_job_alone(world):
    event = job_event(json.dumps({"EndpointName": PRODUCTION, "ModelPackageArn": world.package_arn,
                                  "RolloutSeconds": ROLLOUT_SECONDS, "StillApprovedOnly": True}))
    handler.lambda_handler(event, None)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult" and "one of StillApprovedOnly and RolloutSeconds" in \
        body["failureDetails"]["message"]


# -- the pipeline: bake traffic runs beside every production rollout, as long as it may last ---------------------------
def _parameters(action: dict) -> dict:
    try:
        given = json.loads(action["Configuration"].get("UserParameters", ""))
    except ValueError:
        return {}
    return given if isinstance(given, dict) else {}


def rollouts_without_bake_traffic(stages: list, n, rollout_seconds: int, smoke_test_function: str) -> list[str]:
    """Each action that rolls the production endpoint out (the RollOut action: no CloudFormation stack owns the endpoint,
    tests/templates/deployment/test_endpoint_stacks.py) needs, in its stage and at its runOrder, the smoke-test function sending bake
    traffic to that endpoint for at least the rollout's longest run."""
    from tests.support.deployment_stages import branches as _branches

    problems = []
    for stage in (s for item in stages for s in _branches(item)):
        actions = [a for item in stage["Actions"] for a in _branches(item)]
        for driver in actions:
            if _parameters(driver).get("RollOut") != n.stack("production-endpoint"):
                continue
            beside = [json.loads(a["Configuration"]["UserParameters"]) for a in actions
                      if a["RunOrder"] == driver["RunOrder"] and a["Configuration"].get("FunctionName") == smoke_test_function]
            if not any(p.get("EndpointName") == n.production_endpoint and p.get("RolloutSeconds", 0) >= rollout_seconds
                       for p in beside):
                problems.append(f"{stage['Name']}/{driver['Name']} rolls {n.production_endpoint} out with no bake traffic "
                                f"beside it for {rollout_seconds} s")
    return problems


def test_every_production_rollout_runs_beside_bake_traffic(project, rendered):
    from infra.config import names, serving
    from tests.support import resolve

    envs = [env for env, settings in project.environments.items() if settings.deployment is not None]
    for env in envs:
        n = names.for_env(project, env)
        stack = resolve.alone(rendered, project, env, "deployment")
        (pipeline,) = stack.resources("AWS::CodePipeline::Pipeline").values()
        stages = pipeline["Properties"]["Stages"]
        assert not rollouts_without_bake_traffic(stages, n, serving.rollout_timeout_seconds(n.env.deployment),
                                                 n.smoke_test_function), env


@pytest.mark.parametrize("rollout", [{"type": "canary"}, {"type": "linear", "wait_seconds": 60}, {"type": "all_at_once"}])
def test_every_rollout_type_runs_beside_bake_traffic(tmp_path, rollout):
    from infra.config import serving
    from tests.support.deployment_stages import fixture_serving as _fixture_serving

    n, stages = _fixture_serving(tmp_path, {"rollout": rollout, "min_instances": 2})
    assert not rollouts_without_bake_traffic(stages, n, serving.rollout_timeout_seconds(n.env.deployment),
                                             n.smoke_test_function)


def test_the_check_finds_a_rollout_with_no_bake_traffic(tmp_path):
    """The check above is not vacuous: it finds the RollOut action, and without BakeTraffic beside it, says so."""
    from infra.config import serving
    from tests.support.deployment_stages import fixture_serving as _fixture_serving

    n, stages = _fixture_serving(tmp_path, {"rollout": {"type": "canary"}, "min_instances": 2})
    for stage in stages:
        if isinstance(stage, dict) and "Actions" in stage:
            stage["Actions"] = [a for a in stage["Actions"] if not (isinstance(a, dict) and a.get("Name") == "BakeTraffic")]
    assert rollouts_without_bake_traffic(stages, n, serving.rollout_timeout_seconds(n.env.deployment),
                                         n.smoke_test_function) == [
        f"Production/RollOut rolls {n.production_endpoint} out with no bake traffic beside it for "
        f"{serving.rollout_timeout_seconds(n.env.deployment)} s"]
