"""Bake traffic: the smoke test's valid contract requests, sent to production while its rollout runs.

Why: the rollback alarms treat missing data as OK, so at low traffic a canary nobody calls bakes on no evidence.
SageMaker routes a share of requests to the new fleet by its capacity (a canary of one instance beside three takes
about a quarter; the rest reach the old fleet), so a steady REQUESTS_PER_MINUTE over every bake step reaches it
whatever clients do. The requests are the version's own contract rows (contract.py): a good model answers them, so
they cannot trip the 5xx alarm of a good version, and they carry INFERENCE_ID, so data capture marks them.

The action runs beside whatever drives the rollout (same runOrder), knowing only the endpoint, the version and the
longest the rollout may take (RolloutSeconds). It follows DescribeEndpoint every POLL_SECONDS and sends only while a
rollout is under way (PendingDeploymentSummary names the new endpoint config): nothing before, so a driver that
fails before UpdateEndpoint sends no request anywhere. Each invocation works until the function is about to time
out, then reports success with a continuation token holding its state; CodePipeline invokes it again
(pipeline_job.py). How it ends:
- the endpoint is being created, or did not exist when the action began: a first deployment, with no old fleet, no
  traffic shifting and no canary: success, nothing to bake. While it does not exist yet, the action waits;
- the rollout ended on the new config: success if CloudWatch counted invocations on it since the action began, else
  a failure (a rollout the new fleet saw no request of was not validated);
- the rollout ended elsewhere (rolled back, failed), or did not end within NO_ROLLOUT_SECONDS + RolloutSeconds:
  failure;
- no rollout started within NO_ROLLOUT_SECONDS (the driver failed before UpdateEndpoint, or had nothing to change):
  success when the endpoint never existed (the driver's retry is a first deployment) or already serves this
  version on every variant; otherwise failure.
It fails whenever a rollout it was beside did not complete, so that retrying the stage's failed actions (which the
driver's failure calls for) runs it again beside the new rollout; its message says the driver's failure is the cause.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from shared import clients, serving
from shared.pipeline_job import Failed, InProgress, Job, Succeeded

from . import contract

REQUESTS_PER_MINUTE = 60
POLL_SECONDS = 30  # how often the endpoint's state is read
# The rollout action may wait up to 15 minutes for rollback alarms to leave ALARM, or for a busy endpoint, before it
# calls UpdateEndpoint (lambda_src/deploy_resolve/rollout.py, WAIT_SECONDS): a rollout not seen by then is not coming.
NO_ROLLOUT_SECONDS = 1200
# Stop this long before the function's timeout: the slowest step is the last poll, which may read what the endpoint
# serves (DescribeEndpoint, its config, its model: up to 33 s each with retries, shared/clients.py), then the report;
# an invocation that timed out unreported would be retried by Lambda and then dead-lettered, which alarms.
RESERVE_MS = 120_000
INFERENCE_ID = "deployment-bake-traffic"
ROLLING = ("Updating", "RollingBack", "SystemUpdating")
AGAIN = ("The RollOut action's failure says why. This action fails too, so that retrying the stage's failed actions "
         "runs bake traffic beside the rollout again")


@dataclass
class State:
    started: float  # epoch seconds of the first invocation
    sent: int = 0
    failed: int = 0
    config: str = ""  # the new endpoint config, once a rollout was seen
    existed: bool | None = None  # whether the endpoint existed at the first poll
    rolling: bool = False  # the last poll saw the rollout under way (not yet ending or rolling back)

    def token(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _state(job: Job, now: float) -> State:
    if not job.continuation_token:
        return State(now)
    try:
        return State(**json.loads(job.continuation_token))
    except (ValueError, TypeError):
        raise Failed("bad_parameters", f"continuation token is not this action's state: {job.continuation_token[:100]!r}",
                     "ConfigurationError") from None


def _send(endpoint_name: str, body: bytes, state: State) -> None:
    try:
        clients.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint_name, ContentType="text/csv", Accept="text/csv", Body=body, InferenceId=INFERENCE_ID)
        state.sent += 1
    except Exception as exc:  # noqa: BLE001 - a failed request is the alarms' evidence, not this action's failure
        if not clients.is_aws_error(exc):
            raise
        state.failed += 1


def new_fleet_invocations(endpoint_name: str, config: str, since: float, until: float) -> int:
    """Invocations CloudWatch counted on the fleet of `config` (SageMaker publishes the EndpointConfigName dimension
    once a new fleet takes traffic: SageMaker developer guide, Auto-Rollback Configuration and Monitoring)."""
    answer = clients.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="Invocations", StartTime=datetime.fromtimestamp(since - 60, timezone.utc),
        EndTime=datetime.fromtimestamp(until, timezone.utc), Period=60, Statistics=["Sum"],
        Dimensions=[{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": "AllTraffic"},
                    {"Name": "EndpointConfigName", "Value": config}])
    return int(sum(point.get("Sum", 0) for point in answer.get("Datapoints") or []))


def _where(endpoint_name: str, state: State) -> dict:
    return {"endpoint": endpoint_name, "sent": state.sent, "failed": state.failed, "new_config": state.config}


def _first_deployment(endpoint_name: str, status: str, state: State) -> Succeeded:
    line = (f"{endpoint_name} is {status}, a first deployment: no old fleet, no traffic shifting, no canary; "
            "nothing to bake (the RollOut action follows the creation)")
    return Succeeded("first_deployment", {"Summary": line}, line, _where(endpoint_name, state))


def _no_rollout(endpoint_name: str, package_arn: str, state: State) -> Succeeded:
    """No rollout began within NO_ROLLOUT_SECONDS: nothing to bake only when there is no fleet to shift from, or the
    endpoint already serves this version (a retried stage, a Redeploy that changed no config)."""
    served, minutes = serving.describe(endpoint_name), NO_ROLLOUT_SECONDS // 60
    if served is None and not state.existed:
        line = (f"{endpoint_name} was not created within {minutes} min: nothing to bake (the RollOut action failed "
                "before CreateEndpoint; its retry is a first deployment, which has no canary)")
        return Succeeded("no_rollout", {"Summary": line}, line, _where(endpoint_name, state))
    if served is not None and (served.status == "Creating" or not state.existed):
        return _first_deployment(endpoint_name, served.status, state)
    if served is not None and served.status == "InService" and served.variants and \
            all(arns == [package_arn] for arns in served.variants.values()):
        line = (f"no rollout of {endpoint_name} began within {minutes} min and it already serves {package_arn} "
                f"({served.config_name}): nothing to bake")
        return Succeeded("already_served", {"Summary": line}, line, _where(endpoint_name, state))
    now_serving = f"{served.status} on {served.config_name}" if served else "absent"
    raise Failed("no_rollout", f"no rollout of {endpoint_name} began within {minutes} min ({endpoint_name} is "
                               f"{now_serving}). {AGAIN}", **_where(endpoint_name, state))


def _finish(endpoint_name: str, status: str, serving_config: str, state: State, now: float) -> Succeeded:
    minutes = round((now - state.started) / 60)
    where = _where(endpoint_name, state)
    if serving_config != state.config or status not in ("InService", "Updating", "SystemUpdating"):
        raise Failed("not_rolled_out", f"the rollout of {endpoint_name} to {state.config} did not complete "
                                       f"({endpoint_name} is {status or 'absent'} on {serving_config or 'nothing'} after "
                                       f"{minutes} min; {state.sent} bake requests sent, {state.failed} failed). {AGAIN}",
                     **where)
    seen = new_fleet_invocations(endpoint_name, state.config, state.started, now)
    if seen == 0:
        raise Failed("unobserved", f"the new fleet of {endpoint_name} ({state.config}) answered no request during its "
                                   f"rollout although {state.sent} were sent: it was not validated by traffic", **where)
    line = (f"{endpoint_name} rolled out to {state.config}: its new fleet answered {seen} requests; {state.sent} bake "
            f"requests sent over {minutes} min, {state.failed} failed")
    return Succeeded("baked", {"Summary": line}, line, {**where, "new_fleet_invocations": seen})


def _poll(endpoint_name: str, package_arn: str, rollout_seconds: int, state: State, now: float) -> Succeeded | None:
    """Follow the endpoint one step; the action's outcome once it is known (a Failed raised), else None."""
    elapsed = now - state.started
    if not state.config and elapsed > NO_ROLLOUT_SECONDS:
        return _no_rollout(endpoint_name, package_arn, state)
    described = serving.describe_endpoint(endpoint_name)  # None: not created yet (the RollOut action creates it)
    if state.existed is None:
        state.existed = described is not None
    described = described or {}
    status, serving_config = described.get("EndpointStatus", ""), described.get("EndpointConfigName", "")
    # Creating: DescribeEndpoint's PendingDeploymentSummary names the config being created, which is no rollout.
    if described and (status == "Creating" or not state.existed):
        return _first_deployment(endpoint_name, status, state)
    pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName", "")
    state.rolling = bool(pending)
    if pending:
        state.config = pending
    if (state.config and not pending and status not in ROLLING) or elapsed > NO_ROLLOUT_SECONDS + rollout_seconds:
        return _finish(endpoint_name, status, serving_config, state, now)
    return None


def run(job: Job, endpoint_name: str, package: dict, rollout_seconds: int, remaining_ms, clock=time.monotonic,
        wall=time.time, sleep=time.sleep) -> Succeeded | InProgress:
    state = _state(job, wall())
    request_contract = contract.load(package["model_data_url"])
    body = contract.csv_body(request_contract, contract.rows(request_contract))
    interval, polled = 60.0 / REQUESTS_PER_MINUTE, None
    while remaining_ms() > RESERVE_MS:
        tick = clock()
        if polled is None or tick - polled >= POLL_SECONDS:
            polled = tick
            outcome = _poll(endpoint_name, package["arn"], rollout_seconds, state, wall())
            if outcome is not None:
                return outcome
        if state.rolling:  # only while a rollout is under way: before or after, they would reach the old fleet alone
            _send(endpoint_name, body, state)
            sleep(max(0.0, interval - (clock() - tick)))
        else:
            sleep(max(0.0, POLL_SECONDS - (clock() - polled)))
    return InProgress("baking", state.token(), f"sending bake traffic to {endpoint_name}: {state.sent} requests so far, "
                                                f"{state.failed} failed")
