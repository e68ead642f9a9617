"""Production's rollout (lambda_src/deploy_resolve/rollout.py) ends every time in a known state.

The registry, models, endpoint configs, the endpoint's creation, metrics, alarms and autoscaling are moto's; what
moto lacks (UpdateEndpoint, the stack's outputs) is answered by tests/support/rollout_support.py, which also plays
SageMaker's side of a rollout: it completes, or SageMaker rolls it back and reports InService on the old config.
The class check: after every outcome, the version recorded for the dashboard (and make status, and Resolve) is the
one DescribeEndpoint serves, and a rolled-back version can be rolled out again.
"""
from __future__ import annotations

import datetime
import json
import re

import boto3
import pytest
from moto import mock_aws

from infra.ops import status
from infra.stacks import deployment
from tests.support import api_shapes, cfn
from tests.support.pipeline_job_support import FakeCodePipeline, FakeServiceQuotas, job_event
from tests.support.rollout_support import Production

from deploy_resolve import contract, handler, rollout  # lambda_src/ is on sys.path: tests/__init__.py
from shared import clients  # noqa: E402

ACCOUNT, REGION = "123456789012", "eu-west-1"
GROUP, ENDPOINT, STACK, NAMESPACE = "acme-fraud-staging-models", "acme-staging-production", "acme-staging-prod-ep", "MLOps/acme"
PLAN = {"InstanceType": "ml.m5.large", "MinInstances": 2, "MaxInstances": 4, "Staging": {"ml.m5.large": 1}}
ALARMS = ["acme-staging-production-5xx", "acme-staging-production-latency", "acme-staging-production-rejected"]
OUTPUTS = {"EndpointName": ENDPOINT, "RolloutType": "CANARY", "RolloutTrafficPercent": "10", "RolloutWaitSeconds": "300",
           "RolloutTimeoutSeconds": "2700", "TerminationWaitSeconds": "300", "RollbackAlarms": ",".join(ALARMS),
           "RejectedAlarm": ALARMS[-1], "MinInstances": "2", "MaxInstances": "4", "InvocationsPerInstance": "100",
           "ScalingPolicyName": "acme-staging-production-invocations"}


class World:
    def __init__(self, monkeypatch):
        monkeypatch.setenv("METRICS_NAMESPACE", NAMESPACE)
        monkeypatch.setenv("MODEL_PACKAGE_GROUP", GROUP)
        self.sm, self.cw = boto3.client("sagemaker"), boto3.client("cloudwatch")
        self.sm.create_model_package_group(ModelPackageGroupName=GROUP)
        for alarm in ALARMS:  # the production stack's alarms (the rejected one: its own metric)
            self.cw.put_metric_alarm(AlarmName=alarm, Namespace=NAMESPACE, MetricName=contract.REJECTED_METRIC,
                                     Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=0,
                                     ComparisonOperator="GreaterThanThreshold")
        self.pipeline = FakeCodePipeline(REGION)
        self.quotas = FakeServiceQuotas(REGION, defaults={"ml.m5.large": 20})  # quotas: tests/functions/test_endpoint_quotas.py
        monkeypatch.setenv("INSTANCES_NEEDED", json.dumps(PLAN))
        self.production = Production(ACCOUNT, REGION, ENDPOINT, STACK, OUTPUTS)

    def approved(self) -> str:
        arn = self.sm.create_model_package(ModelPackageGroupName=GROUP, InferenceSpecification={
            "Containers": [{"Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.0-5",
                            "ModelDataUrl": "s3://b/models/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]})["ModelPackageArn"]
        self.set_status(arn, "Approved")
        return arn

    def set_status(self, arn: str, value: str) -> None:
        self.sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=value)

    def deploy_stack(self, arn: str, instance_type: str = "ml.m5.large") -> str:
        config = self.production.version(arn, instance_type)
        self.production.stack_holds(arn, config)
        return config

    def act(self, arn: str, token: str = "") -> tuple[str, dict]:
        """One invocation of the RollOut action (with the token of the last, when CodePipeline asks again)."""
        self.pipeline.calls.clear()
        event = job_event(json.dumps({"RollOut": STACK, "ModelPackageArn": arn}))
        if token:
            event["CodePipeline.job"]["data"]["continuationToken"] = token
        handler.lambda_handler(event, None)
        return self.pipeline.only_result()

    def roll_out(self, arn: str, outcome: str = "rolled_out") -> tuple[str, dict]:
        """The action from its first invocation to its result, SageMaker ending the rollout with `outcome`."""
        name, body = self.act(arn)
        while name == "PutJobSuccessResult" and body.get("continuationToken"):
            if self.sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "Updating":
                self.production.settle(outcome, ALARMS[1])
            name, body = self.act(arn, body["continuationToken"])
        return name, body

    def resolve(self, token: str = "") -> tuple[str, dict]:
        """The Resolve action of the run a rejection (or approval) starts (asked again with its last token)."""
        self.pipeline.calls.clear()
        event = job_event()
        if token:
            event["CodePipeline.job"]["data"]["continuationToken"] = token
        handler.lambda_handler(event, None)
        return self.pipeline.only_result()

    def recorded(self, metric: str = contract.DEPLOYED_VERSION) -> str:
        """The last point published of a metric of production (DeployedModelVersion: what the dashboard shows).
        Read from moto's store in publishing order: CloudWatch's statistics would fold a minute's points together."""
        from moto.cloudwatch.models import cloudwatch_backends

        points = [d for d in cloudwatch_backends[ACCOUNT][REGION].get_all_metrics()
                  if d.namespace == NAMESPACE and d.name == metric
                  and [(x.name, x.value) for x in d.dimensions] == [(contract.DIMENSION, ENDPOINT)]]
        return f"{points[-1].value:g}" if points else ""

    def status_line(self) -> str:
        """What make status says production serves."""
        names = type("N", (), {"production_endpoint": ENDPOINT, "staging_endpoint": "absent-staging"})()
        return "\n".join(status.endpoints(self.sm, names)[:-1])  # the last line: staging


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("PRODUCTION_ENDPOINT", ENDPOINT)
    monkeypatch.setattr(handler.archives, "pin", lambda package, bucket, prefix: [])  # tests/functions/test_deploy_resolve.py
    monkeypatch.setattr(handler.archives, "settings", lambda: ("", ""))
    with mock_aws():
        clients.reset()
        yield World(monkeypatch)
        clients.reset()


def _agree(world: World, version: str) -> None:
    """Everything that says what production serves says `version`, which DescribeEndpoint serves."""
    assert world.production.serves() == version
    assert world.recorded() == version
    assert f"serves version {version} (" in world.status_line()


def test_the_first_deployment_creates_the_endpoint_and_autoscales_it(world):
    v1 = world.approved()
    world.deploy_stack(v1)
    name, body = world.roll_out(v1)
    assert name == "PutJobSuccessResult" and body["outputVariables"]["ServedModelPackageVersion"] == "1"
    _agree(world, "1")
    targets = boto3.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        (f"endpoint/{ENDPOINT}/variant/AllTraffic", 2, 4)]


@pytest.mark.parametrize("outcome, failure, served", [
    ("rolled_out", None, "2"),
    ("rolled_back", "rolled_back", "1"),
    ("failed", "endpoint_failed", ""),
])
def test_after_every_rollout_outcome_the_recorded_version_is_what_the_endpoint_serves(world, outcome, failure, served):
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2)
    name, body = world.roll_out(v2, outcome)
    if failure is None:
        assert name == "PutJobSuccessResult"
        _agree(world, served)
    else:
        assert name == "PutJobFailureResult"
        assert world.production.serves() == served
        if served:
            _agree(world, served)
            assert "rolled the rollout of v2 back" in body["failureDetails"]["message"]
            assert ALARMS[1] in body["failureDetails"]["message"]  # SageMaker's reason, passed on


def test_the_update_is_blue_green_with_every_rollback_alarm_and_fits_update_endpoints_shape(world):
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2)
    world.roll_out(v2)
    (update,) = world.production.updates
    api_shapes.request("sagemaker", "UpdateEndpoint", update)  # botocore already validated it; the shape holds
    config = update["DeploymentConfig"]
    assert [a["AlarmName"] for a in config["AutoRollbackConfiguration"]["Alarms"]] == ALARMS
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 10}
    assert update["RetainAllVariantProperties"] is True  # the autoscaled instance count stays


def test_a_rolled_back_version_can_be_rolled_out_again(world):
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    config = world.deploy_stack(v2)
    assert world.roll_out(v2, "rolled_back")[0] == "PutJobFailureResult"
    # A later run for the same version: CloudFormation finds nothing to change; the rollout updates again.
    name, _ = world.roll_out(v2)
    assert name == "PutJobSuccessResult"
    assert [u["EndpointConfigName"] for u in world.production.updates] == [config, config]
    _agree(world, "2")


def test_a_version_rejected_during_its_rollout_trips_its_rollback_alarm(world):
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2)
    name, body = world.act(v2)
    world.set_status(v2, "Rejected")
    name, body = world.act(v2, body["continuationToken"])
    assert name == "PutJobSuccessResult" and body["continuationToken"]  # still watching: SageMaker rolls back
    (alarm,) = world.cw.describe_alarms(AlarmNames=[ALARMS[-1]])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"
    world.production.settle("rolled_back", ALARMS[-1])
    name, body = world.act(v2, body["continuationToken"])
    assert name == "PutJobFailureResult" and "rolled the rollout of v2 back" in body["failureDetails"]["message"]
    _agree(world, "1")


def test_a_version_rejected_before_its_rollout_is_not_rolled_out(world):
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2)
    world.set_status(v2, "Rejected")
    name, body = world.act(v2)
    assert name == "PutJobFailureResult" and "not rolling it out" in body["failureDetails"]["message"]
    assert not world.production.updates
    _agree(world, "1")


def test_a_version_rejected_as_its_rollout_completes_fails_the_check_after_it(world):
    """The check after the rollout checks approval: the rejection's own run takes production back."""
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2)
    name, body = world.act(v2)
    world.production.settle("rolled_out")
    world.set_status(v2, "Rejected")
    name, body = world.act(v2, body["continuationToken"])
    assert name == "PutJobFailureResult" and "Rejected now" in body["failureDetails"]["message"]
    _agree(world, "2")  # recorded as served, whatever its status: make status marks it Rejected


def test_a_stack_holding_another_version_rolls_nothing_out(world):
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    name, body = world.act(v2)
    assert name == "PutJobFailureResult" and "nothing was rolled out" in body["failureDetails"]["message"]


def test_a_new_instance_type_releases_autoscaling_before_the_update_and_restores_it_after(world):
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2, "ml.c5.xlarge")
    _, body = world.act(v2)
    scaling = boto3.client("application-autoscaling")
    assert not scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert world.production.updates[-1]["RetainAllVariantProperties"] is False
    world.production.settle("rolled_out")
    assert world.act(v2, body["continuationToken"])[0] == "PutJobSuccessResult"
    assert len(scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]) == 1


@pytest.mark.every_serving_env
def test_the_production_template_outputs_everything_the_rollout_reads(rendered, env):
    outputs = cfn.load(rendered[f"{env}/production-endpoint.yaml"])["Outputs"]
    assert set(rollout.OUTPUTS) <= set(outputs)


# -- reject means roll back -------------------------------------------------------------------------------
def test_rejecting_the_served_version_takes_production_back_through_the_fast_path(world):
    v1, v2 = world.approved(), world.approved()
    for arn in (v1, v2):
        world.deploy_stack(arn)
        world.roll_out(arn)
    world.set_status(v2, "Rejected")
    name, body = world.resolve()
    assert name == "PutJobSuccessResult"
    assert (body["outputVariables"]["ModelPackageArn"], body["outputVariables"]["FastPath"]) == (v1, "true")
    assert world.recorded(contract.SERVES_REJECTED) == "1"  # the serves-rejected alarm's metric
    world.deploy_stack(v1)  # the stack makes a new config for v1; the rollout moves production to it
    assert world.roll_out(v1)[0] == "PutJobSuccessResult"
    _agree(world, "1")
    assert world.recorded(contract.SERVES_REJECTED) == "0"


def test_an_ordinary_run_takes_the_full_path(world):
    v1 = world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.approved()
    assert world.resolve()[1]["outputVariables"]["FastPath"] == "false"


def test_rejecting_the_last_approved_version_alerts_and_says_what_to_do(world):
    v1 = world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.set_status(v1, "Rejected")
    name, body = world.resolve()
    message = body["failureDetails"]["message"]
    assert name == "PutJobFailureResult" and message.startswith(f"ALERT: {ENDPOINT} serves version 1, which is Rejected")
    assert "make approve" in message and "delete-endpoint" in message
    assert world.recorded(contract.SERVES_REJECTED) == "1"
    assert "Rejected" in world.status_line()


def test_make_status_shows_a_rollout_under_way_and_the_last_failures_reason(world):
    """What moto's DescribeEndpoint lacks (PendingDeploymentSummary) is added to its answer here."""
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    config = world.deploy_stack(v2)
    world.act(v2)  # UpdateEndpoint sent: Updating

    def pending(parsed, **_):
        parsed["PendingDeploymentSummary"] = {"EndpointConfigName": config, "StartTime": datetime.datetime(2026, 12, 7, 9, 30)}
        parsed["FailureReason"] = "an earlier rollout was rolled back: alarm x"
    world.sm.meta.events.register("after-call.sagemaker.DescribeEndpoint", pending)
    text = world.status_line()
    assert "rolling out to version 2 (Approved)" in text and "last failure: an earlier rollout was rolled back" in text


def test_a_rollout_waits_while_a_rollback_alarm_is_still_in_alarm_and_starts_with_the_rejected_alarm_ok(world):
    """An alarm the stack just pointed at the new config keeps its old state until CloudWatch evaluates it again;
    SageMaker would roll a rollout started then back at once."""
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2)
    world.cw.set_alarm_state(AlarmName=ALARMS[1], StateValue="ALARM", StateReason="the last rollout's")
    world.cw.set_alarm_state(AlarmName=ALARMS[-1], StateValue="ALARM", StateReason="the last rollout's")
    name, body = world.act(v2)
    assert name == "PutJobSuccessResult" and not world.production.updates  # waiting, nothing sent
    assert world.cw.describe_alarms(AlarmNames=[ALARMS[-1]])["MetricAlarms"][0]["StateValue"] == "OK"
    world.cw.set_alarm_state(AlarmName=ALARMS[1], StateValue="OK", StateReason="evaluated again")
    name, body = world.act(v2, body["continuationToken"])
    assert name == "PutJobSuccessResult" and len(world.production.updates) == 1
    world.production.settle("rolled_out")
    assert world.act(v2, body["continuationToken"])[0] == "PutJobSuccessResult"
    _agree(world, "2")


def test_a_rollback_alarm_that_never_clears_fails_the_stage_and_rolls_nothing_out(world, monkeypatch):
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2)
    world.cw.set_alarm_state(AlarmName=ALARMS[0], StateValue="ALARM", StateReason="stuck")
    _, body = world.act(v2)
    monkeypatch.setattr(rollout.time, "time", lambda: 10 ** 10)  # long after
    name, body = world.act(v2, body["continuationToken"])
    assert name == "PutJobFailureResult" and f"{ALARMS[0]} stayed in ALARM" in body["failureDetails"]["message"]
    assert not world.production.updates
    _agree(world, "1")


def test_a_rollback_without_a_failure_reason_is_still_told_from_the_config(world):
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2)
    _, body = world.act(v2)
    world.production.settle("rolled_back")  # no alarm named: FailureReason empty
    name, body = world.act(v2, body["continuationToken"])
    assert name == "PutJobFailureResult" and "SageMaker gave no FailureReason" in body["failureDetails"]["message"]
    _agree(world, "1")


# -- autoscaling after every outcome -------------------------------------------------------------------------------
def _targets() -> list[tuple[str, int, int]]:
    targets = boto3.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    return [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets]


def _refuse(operation: str, code: str = "ThrottlingException"):
    """Make the function's next `operation` call fail as AWS would after botocore's retries."""
    from botocore.exceptions import ClientError

    def refuse(**_):
        clients.client("sagemaker").meta.events.unregister(f"before-call.sagemaker.{operation}", refuse)
        raise ClientError({"Error": {"Code": code, "Message": "Rate exceeded"}}, operation)
    clients.client("sagemaker").meta.events.register_first(f"before-call.sagemaker.{operation}", refuse)


@pytest.mark.parametrize("ending", ["rolled_back", "aws_error_after_rollback", "update_refused", "failed"])
def test_a_rollout_that_does_not_complete_leaves_autoscaling_on_what_serves(world, ending):
    """An instance type change releases the scalable target first; every ending puts it back on the fleet that
    serves (none on a failed endpoint, which serves nothing)."""
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2, "ml.c5.xlarge")
    if ending == "update_refused":
        _refuse("UpdateEndpoint", "ValidationException")
        name, _ = world.act(v2)
    else:
        _, body = world.act(v2)
        assert not _targets()  # released for the new type
        world.production.settle("failed" if ending == "failed" else "rolled_back")
        if ending == "aws_error_after_rollback":
            _refuse("DescribeModelPackage")
        name, _ = world.act(v2, body["continuationToken"])
    assert name == "PutJobFailureResult"
    serving_now = world.sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "InService"
    assert _targets() == ([(f"endpoint/{ENDPOINT}/variant/AllTraffic", 2, 4)] if serving_now else [])
    assert serving_now == (ending != "failed")


# -- a busy endpoint is waited for ---------------------------------------------------------------------------------
def test_a_rollout_waits_while_the_endpoint_is_busy_then_rolls_out(world, monkeypatch):
    """A scaling activity puts the endpoint in Updating; SageMaker refuses UpdateEndpoint then."""
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2)
    endpoint = world.production.backend.endpoints[ENDPOINT]
    endpoint.endpoint_status = "Updating"
    name, body = world.act(v2)
    assert name == "PutJobSuccessResult" and body["continuationToken"] and not world.production.updates
    endpoint.endpoint_status = "InService"
    name, body = world.act(v2, body["continuationToken"])
    assert name == "PutJobSuccessResult" and len(world.production.updates) == 1
    world.production.settle("rolled_out")
    assert world.act(v2, body["continuationToken"])[0] == "PutJobSuccessResult"
    _agree(world, "2")


def test_an_endpoint_busy_for_too_long_fails_the_stage_and_rolls_nothing_out(world, monkeypatch):
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2)
    world.production.backend.endpoints[ENDPOINT].endpoint_status = "SystemUpdating"
    _, body = world.act(v2)
    monkeypatch.setattr(rollout.time, "time", lambda: 10 ** 10)
    name, body = world.act(v2, body["continuationToken"])
    assert name == "PutJobFailureResult" and "stayed SystemUpdating" in body["failureDetails"]["message"]
    assert not world.production.updates


# -- a first deployment rejected while it is created ----------------------------------------------------------------
def test_a_first_deployment_rejected_while_created_says_it_cannot_roll_back(world):
    v1 = world.approved()
    world.deploy_stack(v1)
    name, body = world.act(v1)
    world.production.backend.endpoints[ENDPOINT].endpoint_status = "Creating"
    world.set_status(v1, "Rejected")
    name, body = world.act(v1, body["continuationToken"])
    said = body["executionDetails"]["summary"]
    assert name == "PutJobSuccessResult" and "cannot roll back" in said and "rolls" not in said, said
    (alarm,) = world.cw.describe_alarms(AlarmNames=[ALARMS[-1]])["MetricAlarms"]
    assert alarm["StateValue"] != "ALARM"  # CreateEndpoint has no rollback alarms: nothing to trip
    world.production.backend.endpoints[ENDPOINT].endpoint_status = "InService"
    name, body = world.act(v1, body["continuationToken"])
    assert name == "PutJobFailureResult" and "Rejected now" in body["failureDetails"]["message"]


# -- a run started while production rolls out ------------------------------------------------------------------
@pytest.mark.parametrize("rejected, outcome, decision", [
    ("rolling", "rolled_back", "up_to_date"),  # back on v1, which serves: no rollout of it again
    ("rolling", "rolled_out", "resolved"),  # rejected too late to stop: the fast path takes production back to v1
    ("served", "rolled_out", "up_to_date"),  # v1 rejected while v2 replaced it: no serves-rejected page, nothing to do
])
def test_a_run_started_during_a_rollout_decides_on_how_the_rollout_ends(world, rejected, outcome, decision):
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2)
    _, rolling = world.act(v2)  # Updating
    world.set_status(v2 if rejected == "rolling" else v1, "Rejected")  # the rejection starts a run
    name, resolving = world.resolve()
    assert name == "PutJobSuccessResult" and resolving.get("continuationToken"), "Resolve waits for the rollout"
    assert world.recorded(contract.SERVES_REJECTED) == "0", "nothing published while production is busy"
    if outcome == "rolled_out":
        world.production.settle("rolled_out")
    else:
        _, rolling = world.act(v2, rolling["continuationToken"])  # sees the rejection: the rejected alarm trips
        world.production.settle("rolled_back", ALARMS[-1])
    world.act(v2, rolling.get("continuationToken", ""))  # the rollout's action ends
    name, body = world.resolve(resolving["continuationToken"])
    if decision == "up_to_date":
        assert name == "PutJobFailureResult" and "nothing to deploy" in body["failureDetails"]["message"]
        assert world.recorded(contract.SERVES_REJECTED) == "0"
    else:
        assert name == "PutJobSuccessResult" and body["outputVariables"]["ModelPackageArn"] == v1
        assert body["outputVariables"]["FastPath"] == "true"


def test_resolve_waits_for_a_busy_production_only_so_long(world, monkeypatch):
    v1 = world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.production.backend.endpoints[ENDPOINT].endpoint_status = "RollingBack"
    _, body = world.resolve()
    monkeypatch.setattr(handler.time, "time", lambda: 10 ** 10)
    name, body = world.resolve(body["continuationToken"])
    assert name == "PutJobFailureResult" and "stayed RollingBack" in body["failureDetails"]["message"]


# -- the approval note ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fast_path", [False, True])
def test_the_approval_note_claims_only_what_the_run_checked(world, fast_path):
    """The fast path skips Staging: the note a person approves on must not say the version passed its smoke test."""
    v1, v2 = world.approved(), world.approved()
    for arn in (v1, v2):
        world.deploy_stack(arn)
        world.roll_out(arn)
    if fast_path:
        world.set_status(v2, "Rejected")
    else:
        world.approved()
    name, body = world.resolve()
    variables = body["outputVariables"]
    assert variables["FastPath"] == ("true" if fast_path else "false")
    note = re.sub(r"#\{" + deployment.RESOLVE + r"\.(\w+)\}", lambda m: variables[m.group(1)], deployment.APPROVAL_NOTE)
    assert ("passed the smoke test" in note) == (not fast_path), note
    assert ("skipped staging and the smoke test" in note) == fast_path, note


def test_an_aws_error_while_the_endpoint_still_updates_says_autoscaling_stays_released(world):
    v1, v2 = world.approved(), world.approved()
    world.deploy_stack(v1)
    world.roll_out(v1)
    world.deploy_stack(v2, "ml.c5.xlarge")
    _, body = world.act(v2)
    _refuse("DescribeModelPackage")  # the approval check while SageMaker still updates
    name, body = world.act(v2, body["continuationToken"])
    assert name == "PutJobFailureResult" and "autoscaling stays released" in body["failureDetails"]["message"]
