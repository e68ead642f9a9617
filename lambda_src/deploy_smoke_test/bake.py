"""Bake traffic: the smoke test's valid contract requests, sent to production for as long as its rollout runs.

Why: the rollback alarms treat missing data as OK, so at low traffic a canary nobody calls bakes on no evidence.
SageMaker routes a share of requests to the new fleet by its capacity (a canary of one instance beside three takes
about a quarter), so a steady REQUESTS_PER_MINUTE over every bake step reaches it whatever clients do. The requests
are the version's own contract rows (contract.py): a good model answers them, so they cannot trip the 5xx alarm of a
good version, and they carry INFERENCE_ID, so data capture marks them.

The action runs beside whatever drives the rollout (same runOrder), knowing only the endpoint and the longest the
rollout may take (RolloutSeconds). Each invocation sends until the function is about to time out, then reports
success with a continuation token holding its state; CodePipeline invokes it again (pipeline_job.py). It ends:
- when the endpoint is no longer updating after a rollout was seen (DescribeEndpoint's PendingDeploymentSummary names
  the new endpoint config). If the endpoint then serves that config, the action fails unless CloudWatch counted
  invocations on it since the action began: a rollout the new fleet saw no request of was not validated.
  A rollback (the endpoint back on its old config) is the driver's failure to report, not this action's;
- when no rollout started within NO_ROLLOUT_SECONDS (the driver failed before UpdateEndpoint, or changed nothing);
- after NO_ROLLOUT_SECONDS + RolloutSeconds, by when SageMaker has stopped any rollout.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from shared import clients
from shared.pipeline_job import Failed, InProgress, Job, Succeeded

from . import contract

REQUESTS_PER_MINUTE = 60
POLL_SECONDS = 30  # how often the endpoint's state is read
# The rollout action may wait up to 15 minutes for rollback alarms to leave ALARM before it calls UpdateEndpoint
# (lambda_src/deploy_resolve/rollout.py, ALARM_WAIT_SECONDS): a rollout not seen by then is not coming.
NO_ROLLOUT_SECONDS = 1200
# Stop sending this long before the function's timeout: a hung request (shared/clients.py: 32 s) and a slow
# DescribeEndpoint (33 s with retries) still leave time to report; an invocation that timed out unreported would be
# retried by Lambda and then dead-lettered, which alarms.
RESERVE_MS = 80_000
INFERENCE_ID = "deployment-bake-traffic"
ROLLING = ("Updating", "RollingBack", "SystemUpdating")


@dataclass
class State:
    started: float  # epoch seconds of the first invocation
    sent: int = 0
    failed: int = 0
    config: str = ""  # the new endpoint config, once a rollout was seen

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


def _rollout(endpoint_name: str) -> tuple[str, str, str]:
    """(EndpointStatus, the config it serves, the config a rollout in progress moves to or "")."""
    described = clients.client("sagemaker").describe_endpoint(EndpointName=endpoint_name)
    pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName", "")
    return described.get("EndpointStatus", ""), described.get("EndpointConfigName", ""), pending


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


def _finish(endpoint_name: str, serving_config: str, state: State, now: float) -> Succeeded:
    minutes = round((now - state.started) / 60)
    where = {"endpoint": endpoint_name, "sent": state.sent, "failed": state.failed, "new_config": state.config}
    if not state.config:
        line = f"no rollout of {endpoint_name} started; sent {state.sent} requests over {minutes} min"
        return Succeeded("no_rollout", {"Summary": line}, line, where)
    if serving_config != state.config:
        line = (f"{endpoint_name} is back on {serving_config} (the rollout to {state.config} did not complete); "
                f"sent {state.sent} requests, {state.failed} failed")
        return Succeeded("rolled_back", {"Summary": line}, line, where)
    seen = new_fleet_invocations(endpoint_name, state.config, state.started, now)
    if seen == 0:
        raise Failed("unobserved", f"the new fleet of {endpoint_name} ({state.config}) answered no request during its "
                                   f"rollout although {state.sent} were sent: it was not validated by traffic", **where)
    line = (f"{endpoint_name} rolled out to {state.config}: its new fleet answered {seen} requests; {state.sent} bake "
            f"requests sent over {minutes} min, {state.failed} failed")
    return Succeeded("baked", {"Summary": line}, line, {**where, "new_fleet_invocations": seen})


def run(job: Job, endpoint_name: str, package: dict, rollout_seconds: int, remaining_ms, clock=time.monotonic,
        wall=time.time, sleep=time.sleep) -> Succeeded | InProgress:
    state = _state(job, wall())
    request_contract = contract.load(package["model_data_url"])
    body = contract.csv_body(request_contract, contract.rows(request_contract))
    interval, polled = 60.0 / REQUESTS_PER_MINUTE, None
    while remaining_ms() > RESERVE_MS:
        tick, now = clock(), wall()
        if polled is None or tick - polled >= POLL_SECONDS:
            polled = tick
            status, serving_config, pending = _rollout(endpoint_name)
            if pending:
                state.config = pending
            elif state.config and status not in ROLLING:
                return _finish(endpoint_name, serving_config, state, now)
            if (not state.config and now - state.started > NO_ROLLOUT_SECONDS) or now - state.started > NO_ROLLOUT_SECONDS + rollout_seconds:
                return _finish(endpoint_name, serving_config, state, now)
        _send(endpoint_name, body, state)
        sleep(max(0.0, interval - (clock() - tick)))
    return InProgress("baking", state.token(), f"sending bake traffic to {endpoint_name}: {state.sent} requests so far, "
                                                f"{state.failed} failed")
