"""Production's rollout, performed by the deployment pipeline itself (docs/endpoints.md, "Who updates the endpoint").

CloudFormation makes the version's model, endpoint config and alarms (the production-endpoint stack) and never
touches the endpoint: this module creates or updates it with the stack's rollout settings, one CodePipeline job
answered with continuation tokens (CodePipeline invokes again until a result without one, for up to 24 hours; a
rollout is at most SageMaker's 8), and ends every rollout in a known state:

- the endpoint serves the candidate config: rolled out; autoscaling applied; the served version recorded;
- the endpoint is InService on another config: SageMaker rolled it back (an alarm, or the version was rejected while
  it rolled out); autoscaling applied again to what serves, the served version recorded, the action fails with
  SageMaker's FailureReason;
- the endpoint failed: the action fails with the reason; what it serves (nothing) is recorded as nothing.
An AWS error once the rollout began also re-applies autoscaling to what serves (start() releases it before an
instance type change) before the action fails.

Before it updates, it waits (WAIT_SECONDS in all) while the endpoint is busy (an autoscaling activity, SageMaker's
own update) and while a rollback alarm is still in ALARM from an earlier rollout, and sets the rejected alarm to
OK: SageMaker would otherwise roll the new rollout back at once.

A version rejected during its rollout is stopped: its rejected alarm (one of the rollback alarms) goes to ALARM,
and SageMaker rolls back. The stack never names a config SageMaker moved away from as "served", so redeploying a
rolled-back version is a new UpdateEndpoint to its (retained, unused) config.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

from shared import clients, serving
from shared.pipeline_job import Failed, InProgress, Succeeded

from . import autoscaling, contract

BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
# The stack outputs a rollout reads (infra/stacks/production_endpoint.py rollout_outputs()).
OUTPUTS = ("EndpointName", "EndpointConfigName", "ModelPackageArn", "RolloutType", "RolloutTrafficPercent",
           "RolloutWaitSeconds", "RolloutTimeoutSeconds", "TerminationWaitSeconds", "RollbackAlarms", "RejectedAlarm",
           "MinInstances", "MaxInstances", "InvocationsPerInstance", "ScalingPolicyName")


@dataclass(frozen=True)
class Candidate:
    endpoint: str
    config: str
    package_arn: str
    previous_config: str  # "" when the endpoint did not exist
    stack: str

    def token(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def version_of(package_arn: str) -> str:
    return package_arn.rsplit("/", 1)[-1] if package_arn else ""


def stack_outputs(stack: str) -> dict[str, str]:
    (described,) = clients.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}
    missing = [key for key in OUTPUTS if key not in outputs]
    if missing:
        raise Failed("bad_stack", f"stack {stack} has no output {', '.join(missing)}: is it the production-endpoint "
                                  "template of this release?", "ConfigurationError")
    return outputs


def deployment_config(out: dict[str, str]) -> dict:
    """Blue/green by the stack's settings, rolled back by its alarms (UpdateEndpoint's DeploymentConfig)."""
    routing = {"Type": out["RolloutType"], "WaitIntervalInSeconds": int(out["RolloutWaitSeconds"])}
    step = {"Type": "CAPACITY_PERCENT", "Value": int(out["RolloutTrafficPercent"])}
    if out["RolloutType"] == "CANARY":
        routing["CanarySize"] = step
    elif out["RolloutType"] == "LINEAR":
        routing["LinearStepSize"] = step
    alarms = [name for name in out["RollbackAlarms"].split(",") if name]
    return {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing,
                                      "TerminationWaitInSeconds": int(out["TerminationWaitSeconds"]),
                                      "MaximumExecutionTimeoutInSeconds": int(out["RolloutTimeoutSeconds"])},
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarms]}}


def approval(package_arn: str) -> str:
    return clients.client("sagemaker").describe_model_package(ModelPackageName=package_arn).get("ModelApprovalStatus", "")


@dataclass(frozen=True)
class Serving:
    """What production serves now (DescribeEndpoint -> config -> model -> package), and that version's approval."""
    version: str  # "" when it serves no single model package version (absent, failed, being created)
    package_arn: str
    endpoint_status: str
    approval: str


def serving_now(endpoint: str) -> Serving:
    """What `endpoint` serves now (while Updating: the config traffic is on until the rollout completes)."""
    served = serving.describe(endpoint)
    packages = sorted({arn for arns in (served.variants.values() if served else []) for arn in arns})
    status = served.status if served else "absent"
    if len(packages) != 1:
        return Serving("", "", status, "")
    return Serving(version_of(packages[0]), packages[0], status, approval(packages[0]))


def record(endpoint: str, current: Serving | None = None) -> Serving:
    """Publish what `endpoint` serves (`current`, when just read): DeployedModelVersion (the dashboard's) and
    ServesRejectedVersion (1 when that version is Rejected now: the alarm that says production serves a rejected
    model). Nothing served, nothing published."""
    current = current or serving_now(endpoint)
    if not current.version:
        return current
    namespace = os.environ.get("METRICS_NAMESPACE", "")
    if namespace and current.version.isdigit():
        dimensions = [{"Name": contract.DIMENSION, "Value": endpoint}]
        clients.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[
            {"MetricName": contract.DEPLOYED_VERSION, "Dimensions": dimensions, "Value": float(current.version), "Unit": "None"},
            {"MetricName": contract.SERVES_REJECTED, "Dimensions": dimensions,
             "Value": 1.0 if current.approval == "Rejected" else 0.0, "Unit": "None"}])
    return current


def _instance_type(config: str) -> str:
    variants = clients.client("sagemaker").describe_endpoint_config(EndpointConfigName=config).get("ProductionVariants") or []
    return variants[0].get("InstanceType", "") if variants else ""


# Before a rollout: an endpoint busy with a scaling activity (minutes: SageMaker provisions the instances) and a
# rollback alarm still in ALARM (from the last rollout: an update of an alarm keeps its state until CloudWatch
# evaluates it again, a minute or so; it would roll the new rollout back at once): wait this long in all. BakeTraffic
# waits NO_ROLLOUT_SECONDS for the rollout to begin (lambda_src/deploy_smoke_test/bake.py): keep this under it.
WAIT_SECONDS = 900


def _alarms_in_alarm(out: dict[str, str]) -> list[str]:
    names = [name for name in out["RollbackAlarms"].split(",") if name and name != out["RejectedAlarm"]]
    alarms = clients.client("cloudwatch").describe_alarms(AlarmNames=names).get("MetricAlarms") or []
    return sorted(a["AlarmName"] for a in alarms if a.get("StateValue") == "ALARM")


def _clear_rejected(endpoint: str, config: str, out: dict[str, str]) -> None:
    """The version is Approved as its rollout starts: its rejected alarm says so (it keeps its state without data)."""
    _rejected_metric(endpoint, config, 0.0)
    clients.client("cloudwatch").set_alarm_state(AlarmName=out["RejectedAlarm"], StateValue="OK",
                                                 StateReason="the version rolling out is Approved")


def _rejected_metric(endpoint: str, config: str, value: float) -> None:
    namespace = os.environ.get("METRICS_NAMESPACE", "")
    if namespace:  # the rejected alarm's own metric, so CloudWatch's next evaluation keeps the state set
        clients.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[{
            "MetricName": contract.REJECTED_METRIC, "Dimensions": [{"Name": "EndpointName", "Value": endpoint},
                                                                  {"Name": "EndpointConfigName", "Value": config}],
            "Value": value, "Unit": "Count"}])


def _wait(stack: str, package_arn: str, since: float, waiting_for: str, decision: str, failure: str) -> InProgress:
    """Ask CodePipeline again later (a continuation token naming when the wait began), or fail after WAIT_SECONDS."""
    since = since or time.time()
    if time.time() - since > WAIT_SECONDS:
        raise Failed(decision, f"{failure} for {WAIT_SECONDS // 60} minutes; nothing was rolled out")
    token = json.dumps({"wait": {"stack": stack, "package": package_arn, "since": since}}, sort_keys=True)
    return InProgress("waiting", token, f"waiting for {waiting_for} before the rollout")


def scale_what_serves(endpoint: str, out: dict[str, str]) -> str:
    """Autoscaling as configured on the fleet that serves, after a rollout that did not complete (start() may have
    released it). "" when applied or when nothing serves; else why not, for the failure message."""
    try:
        described = serving.describe(endpoint)
        if described is not None and described.status in BUSY and out["MinInstances"] != out["MaxInstances"] \
                and not autoscaling.registered(endpoint):  # SageMaker blocks autoscaling during an update
            return "; autoscaling stays released until a rollout completes (start a run with Redeploy=true)"
        if described is None or described.status != "InService":
            return ""  # nothing serves (Failed): nothing to scale
        autoscaling.apply(endpoint, int(out["MinInstances"]), int(out["MaxInstances"]),
                          float(out["InvocationsPerInstance"]), out["ScalingPolicyName"])
        return ""
    except Exception as exc:  # noqa: BLE001 - an AWS error is reported with the rollout's outcome
        if not clients.is_aws_error(exc):
            raise
        return (f"; autoscaling could not be applied again ({clients.error_code(exc)}): start a run with "
                "Redeploy=true once the endpoint is InService")


def start(stack: str, package_arn: str, waiting_since: float = 0.0) -> InProgress | Succeeded:
    """Create or update the endpoint to the stack's config for `package_arn` (this run's resolved version)."""
    out = stack_outputs(stack)
    if out["ModelPackageArn"] != package_arn:
        raise Failed("stale_stack", f"stack {stack} holds {out['ModelPackageArn']}, this run resolved {package_arn}; "
                                    "nothing was rolled out")
    status = approval(package_arn)
    if status != "Approved":
        raise Failed("not_approved", f"{package_arn} is {status} now, not Approved: not rolling it out")
    sagemaker, endpoint, config = clients.client("sagemaker"), out["EndpointName"], out["EndpointConfigName"]
    described = serving.describe(endpoint)
    candidate = Candidate(endpoint, config, package_arn, described.config_name if described else "", stack)
    if described is None:  # the first deployment ever: nothing to shift traffic from
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        return InProgress("creating", candidate.token(), f"creating {endpoint} on {config} (v{version_of(package_arn)})")
    if described.status in BUSY:  # SageMaker refuses UpdateEndpoint then; a scaling activity ends in minutes
        return _wait(stack, package_arn, waiting_since, f"{endpoint} ({described.status}) to be InService", "endpoint_busy",
                     f"{endpoint} stayed {described.status} (a scaling change or another rollout)")
    if described.status != "InService":
        reason = f": {described.failure_reason[:500]}" if described.failure_reason else ""
        raise Failed("endpoint_failed", f"{endpoint} is {described.status}{reason}; delete it "
                                        f"(aws sagemaker delete-endpoint --endpoint-name {endpoint}) and retry the stage")
    if described.config_name == config:
        return finish(candidate, out)  # already serves it (a retried stage): nothing to shift
    _clear_rejected(endpoint, config, out)
    in_alarm = _alarms_in_alarm(out)
    if in_alarm:  # a rollout started now would be rolled back at once
        return _wait(stack, package_arn, waiting_since, f"{', '.join(in_alarm)} to leave ALARM", "alarm_in_alarm",
                     f"{', '.join(in_alarm)} stayed in ALARM")
    new_type = _instance_type(config) != _instance_type(described.config_name)
    if new_type:  # SageMaker refuses to change the instance type of an autoscaled variant
        autoscaling.release(endpoint)
    keep_count = out["MinInstances"] != out["MaxInstances"] and not new_type
    request = {"EndpointName": endpoint, "EndpointConfigName": config, "DeploymentConfig": deployment_config(out),
               "RetainAllVariantProperties": keep_count}
    if keep_count:  # keep the autoscaled instance count, take the new data capture setting
        request["ExcludeRetainedVariantProperties"] = [{"VariantPropertyType": "DataCaptureConfig"}]
    try:
        sagemaker.update_endpoint(**request)
    except Exception:
        if new_type:  # released above, and nothing changes: scaling back as it was
            scale_what_serves(endpoint, out)
        raise
    return InProgress("updating", candidate.token(), f"rolling {endpoint} out to {config} (v{version_of(package_arn)}) "
                                                    f"from {described.config_name}")


def _stop_rejected(candidate: Candidate, out: dict[str, str]) -> None:
    """The version was rejected while it rolls out: its rejected alarm trips, so SageMaker rolls back."""
    _rejected_metric(candidate.endpoint, candidate.config, 1.0)
    clients.client("cloudwatch").set_alarm_state(AlarmName=out["RejectedAlarm"], StateValue="ALARM",
                                                 StateReason=f"{candidate.package_arn} was rejected during its rollout")


def poll(token: str) -> InProgress | Succeeded:
    try:
        data = json.loads(token)
        if isinstance(data, dict) and "wait" in data:  # not started yet: a rollback alarm was in ALARM
            return start(data["wait"]["stack"], data["wait"]["package"], float(data["wait"]["since"]))
        candidate = Candidate(**data)
    except (TypeError, ValueError, KeyError):
        raise Failed("bad_token", f"continuation token is not this function's: {token[:200]!r}", "ConfigurationError") from None
    try:
        return _follow(candidate, token)
    except Exception as exc:
        if not clients.is_aws_error(exc):
            raise
        note = scale_what_serves(candidate.endpoint, stack_outputs(candidate.stack))
        raise Failed("aws_error", f"AWS error {clients.error_code(exc)} following the rollout of "
                                  f"v{version_of(candidate.package_arn)}: {str(exc)[:800]}{note}",
                     error_code=clients.error_code(exc)) from None


def _follow(candidate: Candidate, token: str) -> InProgress | Succeeded:
    described = serving.describe(candidate.endpoint)
    if described is not None and described.status in BUSY:
        out = stack_outputs(candidate.stack)
        if approval(candidate.package_arn) != "Rejected":
            return InProgress("in_progress", token, f"{candidate.endpoint} is {described.status}")
        if not candidate.previous_config:  # CreateEndpoint takes no rollback alarms: finish() fails it once created
            return InProgress("creating_rejected", token, f"v{version_of(candidate.package_arn)} was rejected while "
                                                          f"{candidate.endpoint} is created; a new endpoint cannot roll "
                                                          "back: the action fails once it is InService")
        _stop_rejected(candidate, out)
        return InProgress("stopping", token, f"v{version_of(candidate.package_arn)} was rejected: its rollback alarm "
                                             f"is in ALARM, SageMaker rolls {candidate.endpoint} back")
    out = stack_outputs(candidate.stack)
    if described is not None and described.status == "InService" and described.config_name == candidate.config:
        return finish(candidate, out)
    note = scale_what_serves(candidate.endpoint, out)  # the fleet rolled back to, or nothing (failed)
    current = record(candidate.endpoint)
    # SageMaker may leave FailureReason empty after a rollback (terraform-provider-aws #49020): the config says it.
    reason = (described.failure_reason if described else "") or ("SageMaker gave no FailureReason: see the rollback "
                                                                  "alarms' history and the endpoint's CloudWatch logs")
    if described is not None and described.status == "InService":
        raise Failed("rolled_back", f"SageMaker rolled the rollout of v{version_of(candidate.package_arn)} back: "
                                    f"{candidate.endpoint} serves v{current.version or '?'} ({described.config_name}) "
                                    f"again; {reason[:800]}{note}", endpoint=candidate.endpoint, served=current.version)
    raise Failed("endpoint_failed", f"{candidate.endpoint} is {current.endpoint_status} after the rollout of "
                                    f"v{version_of(candidate.package_arn)}: {reason[:800]}{note}", endpoint=candidate.endpoint)


def finish(candidate: Candidate, out: dict[str, str]) -> Succeeded:
    """The endpoint serves the candidate: autoscaling as configured, the version recorded, and still Approved."""
    autoscaling.apply(candidate.endpoint, int(out["MinInstances"]), int(out["MaxInstances"]),
                      float(out["InvocationsPerInstance"]), out["ScalingPolicyName"])
    current = record(candidate.endpoint)
    if current.approval != "Approved":  # rejected too late to stop: the rejection's own run takes production back
        raise Failed("serves_rejected", f"{candidate.endpoint} serves v{current.version}, which is {current.approval} "
                                        "now; the rejection started a run that takes production back to the newest "
                                        "Approved version")
    text = f"{candidate.endpoint} serves v{current.version} ({candidate.config})"
    return Succeeded("rolled_out", {"ServedModelPackageVersion": current.version, "EndpointConfigName": candidate.config}, text,
                     {"endpoint": candidate.endpoint, "finished": int(time.time())})
