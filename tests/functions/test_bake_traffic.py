"""Bake traffic beside production's rollout: the version's contract requests reach the endpoint while its rollout
runs and only then, the action lasts as long as the rollout (continuation tokens), a rollout whose new fleet answered
nothing fails, a first deployment has nothing to bake, and a rollout that did not complete fails bake traffic too
(so that retrying the stage's failed actions runs it again beside the rollout).

Against moto (registry, archive, endpoint, configs, models, InvokeEndpoint, CloudWatch metrics), through the
function's real DescribeEndpoint calls. moto has no UpdateEndpoint and creates endpoints InService at once, so the
endpoint's states over time (absent, EndpointStatus, its config, PendingDeploymentSummary) are scripted onto moto's
endpoint before each DescribeEndpoint; time is simulated (every request and wait advances a fake clock).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest
from moto import mock_aws

from tests.support.staging_world import ACCOUNT, REGION, ROLE, Staging, rows_sent
from tests.support.pipeline_job_support import job_event

from deploy_smoke_test import bake, contract, handler  # lambda_src/ is on sys.path: tests/__init__.py
from shared import clients

PRODUCTION = "acme-fraud-production"
OLD, NEW = "acme-fraud-production-config-v1", "acme-fraud-production-config-v2"  # NEW: this run's version
ROLLOUT_SECONDS = 3600
ABSENT = "absent"  # the endpoint does not exist (yet)


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


class Production:
    """Production's endpoint in moto over time: from each time on (seconds from the action's start), its EndpointStatus
    (or ABSENT), the config it serves and the config a rollout in progress moves to ("" for none). Also records when
    each bake request was sent."""

    def __init__(self, world, time: Time, *script: tuple[float, str, str, str]):
        from moto.sagemaker.models import sagemaker_backends

        self.backend, self.world, self.time, self.script = sagemaker_backends[ACCOUNT][REGION], world, time, script
        self.sent_at: list[float] = []
        clients.client("sagemaker").meta.events.register("before-call.sagemaker.DescribeEndpoint", self._describe)
        clients.client("sagemaker-runtime").meta.events.register(
            "before-parameter-build.sagemaker-runtime.InvokeEndpoint", lambda **_: self.sent_at.append(self.elapsed()))

    def elapsed(self) -> float:
        return self.time.now - self.time.origin

    def at(self, elapsed: float) -> tuple[str, str, str]:
        return [step[1:] for step in self.script if step[0] <= elapsed][-1]

    def _describe(self, **_) -> None:
        status, config, pending = self.at(self.elapsed())
        if status == ABSENT:
            self.backend.endpoints.pop(PRODUCTION, None)
            return
        if PRODUCTION not in self.backend.endpoints:
            self.world.sm.create_endpoint(EndpointName=PRODUCTION, EndpointConfigName=config)
        endpoint = self.backend.endpoints[PRODUCTION]
        endpoint.endpoint_status, endpoint.endpoint_config_name = status, config
        endpoint.pending_deployment_summary = {"EndpointConfigName": pending} if pending else None

    def sent_outside_rollouts(self) -> list[float]:
        """When a request was sent while no rollout was under way (a poll sees a rollout at most POLL_SECONDS late
        and its end as late: allowed)."""
        return [t for t in self.sent_at if not any(self.at(max(0.0, t - d))[2] for d in (0, bake.POLL_SECONDS + 1))]


def _config(world, name: str, package_arn: str) -> None:
    world.sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": package_arn})
    world.sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 2, "InstanceType": "ml.m5.large"}])


@pytest.fixture
def world(monkeypatch, tmp_path):
    with mock_aws():
        clients.reset()
        w = Staging(monkeypatch, tmp_path)
        w.previous_arn = w.register(w.archive)
        _config(w, OLD, w.previous_arn)  # what production served before this run
        _config(w, NEW, w.package_arn)  # this run's version, as the production stack makes it
        w.sent = []
        runtime = clients.client("sagemaker-runtime")
        runtime.meta.events.register("before-parameter-build.sagemaker-runtime.InvokeEndpoint",
                                     lambda params, **_: w.sent.append(dict(params)))
        yield w
        clients.reset()


def run(world, time: Time, token: str | None = None, rollout_seconds: int = ROLLOUT_SECONDS) -> dict:
    event = job_event(json.dumps({"EndpointName": PRODUCTION, "ModelPackageArn": world.package_arn,
                                  "RolloutSeconds": rollout_seconds}), continuation_token=token)
    given = handler.parameters.read(handler.pipeline_job.parse(event))
    return handler.pipeline_job.run(event, handler.FUNCTION, lambda job: bake.run(
        job, given.endpoint_name, handler._package(given.package_arn), given.rollout_seconds, time.remaining_ms,
        clock=time.clock, wall=time.clock, sleep=time.sleep))


def new_fleet_answered(count: int, at: float) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
        "MetricName": "Invocations", "Value": count, "Unit": "None", "Timestamp": datetime.fromtimestamp(at, timezone.utc),
        "Dimensions": [{"Name": "EndpointName", "Value": PRODUCTION}, {"Name": "VariantName", "Value": "AllTraffic"},
                       {"Name": "EndpointConfigName", "Value": NEW}]}])


A_ROLLOUT = ((0, "InService", OLD, ""), (120, "Updating", OLD, NEW), (720, "InService", NEW, ""))
"""Two minutes before UpdateEndpoint, a ten-minute rollout, then the new config serves."""


def test_contract_requests_reach_the_endpoint_while_the_rollout_runs(world):
    time = Time()
    production = Production(world, time, *A_ROLLOUT)
    new_fleet_answered(42, time.origin + 400)
    result = run(world, time)

    name, body = world.pipeline.only_result()
    assert name == "PutJobSuccessResult" and result["decision"] == "baked", body
    assert "its new fleet answered 42 requests" in body["outputVariables"]["Summary"]
    assert 12 <= (time.now - time.start) / 60 <= 13, "it stops once the rollout is over"
    assert len(world.sent) == pytest.approx(10 * bake.REQUESTS_PER_MINUTE, rel=0.1), "for the rollout's ten minutes"
    assert production.sent_outside_rollouts() == []
    package = world.sm.describe_model_package(ModelPackageName=world.package_arn)
    request_contract = contract.load(package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])
    expected = contract.csv_body(request_contract, contract.rows(request_contract))
    assert {p["Body"] for p in world.sent} == {expected}, "only the version's own contract rows"
    assert expected.count(b"\n") == rows_sent(world)
    assert {(p["EndpointName"], p["ContentType"], p["InferenceId"]) for p in world.sent} == {
        (PRODUCTION, "text/csv", bake.INFERENCE_ID)}


def test_a_rollout_whose_new_fleet_answered_nothing_is_not_validated(world):
    time = Time()
    Production(world, time, *A_ROLLOUT)
    run(world, time)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult"
    assert body["failureDetails"]["message"].startswith(f"the new fleet of {PRODUCTION} ({NEW}) answered no request")


def test_a_rollout_longer_than_one_invocation_continues_with_a_token(world):
    time = Time(budget_s=300)
    Production(world, time, *A_ROLLOUT)
    run(world, time)
    name, body = world.pipeline.only_result()
    assert name == "PutJobSuccessResult" and "outputVariables" not in body, body
    token = body["continuationToken"]
    assert json.loads(token)["existed"] is True and len(token) <= 2048

    new_fleet_answered(7, time.origin + 400)
    while True:  # CodePipeline invokes the function again with the token until it reports without one
        world.pipeline.calls.clear()
        time.next_invocation()
        run(world, time, token)
        name, body = world.pipeline.only_result()
        if "continuationToken" not in body:
            break
        token = body["continuationToken"]
        assert json.loads(token)["sent"] == len(world.sent)
    assert name == "PutJobSuccessResult" and "its new fleet answered 7 requests" in body["outputVariables"]["Summary"]
    assert f"{len(world.sent)} bake requests sent" in body["outputVariables"]["Summary"]


# A first deployment (CreateEndpoint) has no old fleet, no traffic shifting and no canary. While the endpoint is being
# created, DescribeEndpoint's PendingDeploymentSummary names the config being created (SageMaker API reference,
# DescribeEndpoint: "only returned when the endpoint is creating or updating with a new endpoint configuration").
FIRST_DEPLOYMENTS = {
    "absent, then created": ((0, ABSENT, "", ""), (45, "Creating", NEW, NEW), (500, "InService", NEW, "")),
    "already creating": ((0, "Creating", NEW, NEW), (500, "InService", NEW, "")),
    "absent, then in service at the next poll": ((0, ABSENT, "", ""), (45, "InService", NEW, "")),
}


@pytest.mark.parametrize("script", FIRST_DEPLOYMENTS.values(), ids=FIRST_DEPLOYMENTS)
def test_a_first_deployment_has_nothing_to_bake(world, script):
    time = Time()
    production = Production(world, time, *script)
    result = run(world, time)
    name, body = world.pipeline.only_result()
    assert name == "PutJobSuccessResult" and result["decision"] == "first_deployment", body
    assert "a first deployment" in body["outputVariables"]["Summary"]
    appeared = min(t for t, status, _, _ in script if status != ABSENT)
    assert time.now - time.origin <= appeared + bake.POLL_SECONDS + 1, "it ends at the first poll that sees it"
    assert production.sent_at == []


def test_an_endpoint_never_created_has_nothing_to_bake(world):
    """The RollOut action failed before CreateEndpoint: its retry will be a first deployment, which has no canary."""
    time = Time()
    production = Production(world, time, (0, ABSENT, "", ""))
    result = run(world, time)
    assert world.pipeline.only_result()[0] == "PutJobSuccessResult" and result["decision"] == "no_rollout"
    assert bake.NO_ROLLOUT_SECONDS <= time.now - time.origin <= bake.NO_ROLLOUT_SECONDS + bake.POLL_SECONDS + 1
    assert production.sent_at == []


def test_an_endpoint_that_already_serves_the_version_has_nothing_to_bake(world):
    """A retried stage, or a Redeploy that changed no endpoint config: the RollOut action had nothing to roll out."""
    time = Time()
    production = Production(world, time, (0, "InService", NEW, ""))
    result = run(world, time)
    assert world.pipeline.only_result()[0] == "PutJobSuccessResult" and result["decision"] == "already_served"
    assert production.sent_at == []


# Every way bake traffic can end beside a rollout that did not complete on the new config (RollOut fails for each).
NOT_ROLLED_OUT = {
    "rolled back": ((0, "InService", OLD, ""), (60, "Updating", OLD, NEW), (300, "RollingBack", OLD, ""),
                    (400, "InService", OLD, "")),
    "failed": ((0, "InService", OLD, ""), (60, "Updating", OLD, NEW), (300, "Failed", OLD, "")),
    "deleted": ((0, "InService", OLD, ""), (60, "Updating", OLD, NEW), (300, ABSENT, "", "")),
    "still rolling at the deadline": ((0, "InService", OLD, ""), (60, "Updating", OLD, NEW)),
    "no rollout (RollOut failed fast)": ((0, "InService", OLD, ""),),
    "busy and no rollout (scaling)": ((0, "Updating", OLD, ""),),
}


@pytest.mark.parametrize("script", NOT_ROLLED_OUT.values(), ids=NOT_ROLLED_OUT)
def test_bake_traffic_fails_beside_a_rollout_that_did_not_complete(world, script):
    """So that retrying the stage's failed actions reruns it beside RollOut: a rollout with no bake traffic never runs."""
    time = Time()
    production = Production(world, time, *script)
    result = run(world, time, rollout_seconds=600)
    name, body = world.pipeline.only_result()
    assert name == "PutJobFailureResult", (result, body)
    assert "retrying the stage's failed actions runs bake traffic beside the rollout again" in \
        body["failureDetails"]["message"]
    assert production.sent_outside_rollouts() == [], "no request before a rollout or after it ended"
    assert time.now - time.origin <= bake.NO_ROLLOUT_SECONDS + 600 + bake.POLL_SECONDS + 1


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
