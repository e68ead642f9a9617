"""`make status ENV=…`: where an environment stands, in one screen, with the caller's read-only credentials.

    python -m infra.ops.status --env dev

Sections: the stacks (status, last change), the delivery pipeline (each stage's latest result, the last
runs), the SageMaker pipeline's last executions, the model versions with their approval status, and who hears the
two topics (confirmed subscribers, subscriptions waiting for confirmation, the alarm on a topic nobody hears); where the env
serves models, the model-deployment pipeline, which version each endpoint serves, and whether the account's
endpoint-instance quotas hold the env's peak (a rollout runs both production fleets: infra/ops/quotas.py). A part
that is not deployed yet says so; a part that cannot be read says why, and the command then exits 1.
"""
from __future__ import annotations

import argparse
from datetime import datetime

from infra.ops import quotas, subscriptions
from infra.ops.common import aws_session, env_names, run
from infra.stacks import BUILDERS

RECENT = 5
VERSIONS = 10


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value or "-")


def _not_found(exc: Exception) -> bool:
    text = str(exc)
    return any(s in text for s in ("does not exist", "not found", "NotFound", "Could not find"))


def _unreachable(exc: Exception) -> bool:
    """No connection, or no answer in time: the endpoint, not the request."""
    from botocore.exceptions import ConnectionError as EndpointUnreachable, ReadTimeoutError

    return isinstance(exc, (EndpointUnreachable, ReadTimeoutError))


class Report:
    def __init__(self):
        self.lines: list[str] = []
        self.unreadable: list[str] = []
        self.unreachable = ""

    def section(self, title: str, read) -> None:
        self.lines.append(f"\n{title}")
        if self.unreachable:  # each further call would wait out the same timeouts
            self.lines.append(f"  skipped: {self.unreachable}")
            self.unreadable.append(title)
            return
        try:
            self.lines += [f"  {line}" for line in read()]
        except Exception as exc:  # noqa: BLE001 - one part failing must not hide the others
            if _not_found(exc):
                self.lines.append("  not deployed yet")
            else:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self.lines.append(f"  cannot read: {reason}")
                self.unreadable.append(title)
                if _unreachable(exc):
                    self.unreachable = f"AWS did not answer ({reason})"


def stacks(cfn, n) -> list[str]:
    out = []
    for stack in BUILDERS:
        name = n.stack(stack)
        try:
            (described,) = cfn.describe_stacks(StackName=name)["Stacks"]
        except Exception as exc:  # noqa: BLE001
            if not _not_found(exc):
                raise
            out.append(f"{name:<48} not deployed")
            continue
        changed = described.get("LastUpdatedTime") or described.get("CreationTime")
        reason = f"  ({described['StackStatusReason']})" if described.get("StackStatusReason") else ""
        out.append(f"{name:<48} {described['StackStatus']:<22} {_when(changed)}{reason}")
    return out


def delivery_pipeline(codepipeline, n) -> list[str]:
    return pipeline_runs(codepipeline, n.codepipeline)


def pipeline_runs(codepipeline, name: str) -> list[str]:
    state = codepipeline.get_pipeline_state(name=name)
    out = []
    for stage in state.get("stageStates", []):
        latest = stage.get("latestExecution", {})
        out.append(f"{stage['stageName']:<26} {latest.get('status', 'not run')}")
        for action in stage.get("actionStates", []):  # why it failed: the action's own message (a rollback's reason)
            execution = action.get("latestExecution", {})
            if execution.get("status") == "Failed" and (execution.get("errorDetails") or {}).get("message"):
                message = " ".join(execution["errorDetails"]["message"].split())[:300]
                out.append(f"{'':<26} {action.get('actionName', '?')} failed: {message}")
    runs = codepipeline.list_pipeline_executions(pipelineName=name, maxResults=RECENT)["pipelineExecutionSummaries"]
    for execution in runs:
        revisions = ", ".join(r.get("revisionId", "")[:12] for r in execution.get("sourceRevisions", []))
        out.append(f"run {execution['pipelineExecutionId'][:8]}  {execution['status']:<11} {_when(execution.get('startTime'))}"
                   f"  {revisions}".rstrip())
    return out or ["no runs yet"]


def sagemaker_pipeline(sm, n) -> list[str]:
    executions = sm.list_pipeline_executions(PipelineName=n.sagemaker_pipeline, SortBy="CreationTime", SortOrder="Descending",
                                             MaxResults=RECENT)["PipelineExecutionSummaries"]
    return [f"{e['PipelineExecutionArn'].rsplit('/', 1)[-1]:<14} {e.get('PipelineExecutionStatus', '?'):<11} "
            f"{_when(e.get('StartTime'))}" for e in executions] or ["no executions yet (make run ENV=…)"]


def model_versions(sm, n) -> list[str]:
    packages = sm.list_model_packages(ModelPackageGroupName=n.model_package_group, SortBy="CreationTime",
                                      SortOrder="Descending", MaxResults=VERSIONS)["ModelPackageSummaryList"]
    return [f"v{p.get('ModelPackageVersion', '?'):<5} {p.get('ModelApprovalStatus', '?'):<22} {_when(p.get('CreationTime'))}"
            for p in packages] or ["none registered yet"]


def _approval(sm, arn: str, n) -> str:
    """A version's approval; a version of the source env's registry (docs/promotion.md) is not this account's to read:
    only the deployment's roles are granted it."""
    source = n.models_source
    if source is not None and arn.split(":")[4:5] == [source.env.account_id]:
        return f"{source.env_name}'s registry: make status ENV={source.env_name}"
    return sm.describe_model_package(ModelPackageName=arn).get("ModelApprovalStatus", "?") if arn else "?"


def _served(sm, config_name: str, n) -> list[str]:
    """"v7 (Approved)" for each model package version a config's variants serve."""
    out = []
    for variant in sm.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]:
        model = sm.describe_model(ModelName=variant["ModelName"])
        for container in model.get("Containers") or [model.get("PrimaryContainer", {})]:
            arn = container.get("ModelPackageName", "")
            approval = _approval(sm, arn, n)
            out.append(f"{arn.rsplit('/', 1)[-1] or '?'} ({approval})")
    return out


def endpoints(sm, n) -> list[str]:
    """Each endpoint's status and the model package version it serves (endpoint -> config -> model -> package), with
    that version's approval (a Rejected one is called out), a rollout under way and the last failure's reason."""
    out = []
    for label, name in (("production", n.production_endpoint), ("staging", n.staging_endpoint)):
        try:
            endpoint = sm.describe_endpoint(EndpointName=name)
        except Exception as exc:  # noqa: BLE001
            if not _not_found(exc):
                raise
            out.append(f"{label:<11} {name:<36} not deployed")
            continue
        served = _served(sm, endpoint["EndpointConfigName"], n)
        out.append(f"{label:<11} {name:<36} {endpoint['EndpointStatus']:<12} {_when(endpoint.get('LastModifiedTime'))}"
                   f"  serves version {', '.join(served)}")
        if any("(Rejected)" in v for v in served):
            out.append(f"{'':<11} WARNING: it serves a Rejected version (the deployment run's Resolve says what is done)")
        pending = endpoint.get("PendingDeploymentSummary") or {}
        if pending.get("EndpointConfigName"):
            out.append(f"{'':<11} rolling out to version {', '.join(_served(sm, pending['EndpointConfigName'], n))}"
                       f" since {_when(pending.get('StartTime'))}")
        if endpoint.get("FailureReason"):
            out.append(f"{'':<11} last failure: {' '.join(endpoint['FailureReason'].split())[:300]}")
    return out


def who_hears(sns, cloudwatch, sts, n) -> list[str]:
    """Each topic's confirmed subscribers, every subscription waiting for confirmation, and the subscriber check's
    alarms (a topic nobody hears), which reach no one by e-mail when that topic is the operations topic."""
    out = subscriptions.lines(sns, n, sts.get_caller_identity()["Account"])
    alarms = {a["AlarmName"]: a["StateValue"] for a in cloudwatch.describe_alarms(AlarmNames=list(n.unheard_alarms))["MetricAlarms"]}
    out += [f"alarm {name:<42} {alarms.get(name, 'not deployed yet')}" for name in n.unheard_alarms]
    return out


def report(clients: dict, n) -> Report:
    r = Report()
    r.section(f"Stacks ({n.env_name}, {n.env.region})", lambda: stacks(clients["cloudformation"], n))
    r.section(f"Delivery pipeline {n.codepipeline}", lambda: delivery_pipeline(clients["codepipeline"], n))
    r.section(f"SageMaker pipeline {n.sagemaker_pipeline}", lambda: sagemaker_pipeline(clients["sagemaker"], n))
    r.section(f"Model versions in {n.model_package_group}", lambda: model_versions(clients["sagemaker"], n))
    if n.models_source is not None:
        r.lines.append(f"(the endpoints serve versions approved in {n.models_source.model_package_group}, "
                       f"{n.models_source.env_name}'s registry in account {n.models_source.env.account_id})")
    r.section("Who hears the topics", lambda: who_hears(clients["sns"], clients["cloudwatch"], clients["sts"], n))
    if n.env.deployment is not None:
        r.section(f"Model deployment pipeline {n.deployment_pipeline}",
                  lambda: pipeline_runs(clients["codepipeline"], n.deployment_pipeline))
        r.section("Endpoints", lambda: endpoints(clients["sagemaker"], n))
        r.section("Endpoint quotas", lambda: quotas.lines(clients["service-quotas"], clients["sagemaker"], n))
    return r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.ops.status", description="Where an environment stands")
    parser.add_argument("--env", required=True)
    args = parser.parse_args(argv)

    def command() -> int:
        env, n = env_names(args.env)
        s = aws_session(env)
        r = report({service: s.client(service) for service in ("cloudformation", "codepipeline", "sagemaker",
                                                                 "service-quotas", "sns", "cloudwatch", "sts")}, n)
        print("\n".join(r.lines).lstrip("\n"))
        return 1 if r.unreadable else 0

    return run(command)


if __name__ == "__main__":
    raise SystemExit(main())
