"""Lambda entry point of the deployment pipeline's Resolve action (a CodePipeline Lambda invoke action).

Environment: MODEL_PACKAGE_GROUP, the group's name; METRICS_NAMESPACE and PRODUCTION_ENDPOINT (for the record);
ARCHIVE_BUCKET and ARCHIVE_PREFIX, where this env's model archives are (shared/archives.py: each archive of the version is
checked to have been written once, then tagged so that serving may load it); SERVING_IMAGES, the comma-separated
image repositories (registry/name) a version may be served with; STAGING_ENDPOINT and INSTANCES_NEEDED (JSON:
production's InstanceType, MinInstances, MaxInstances, and Staging: instance type -> count), from which, with the
fleet production runs now, this run's rollout peak is checked against the account's endpoint quotas beside what
its other endpoints run, before anything is deployed (shared/capacity.py).
An env serving another env's models (deployment.models_from) also has MODELS_GROUP_ARN, that env's group (read by
ARN), MODELS_SOURCE_ENV and MODELS_PIN_FUNCTION (for the failure line), and ARCHIVE_BUCKET/ARCHIVE_PREFIX name that
env's bucket: the archives are only verified (shared/archives.py verify_pinned), the source's pin function tags them
on the same approval; until it has, Resolve waits (continuation tokens, up to PIN_WAIT_SECONDS). Its summary names
no quality metric (the source's evaluation reports are not granted).
UserParameters: none to resolve. {"RollOut": "<production stack>", "ModelPackageArn": "#{Resolve.ModelPackageArn}"}
in the Production stage: roll production out to the stack's endpoint config (rollout.py), answering with continuation
tokens until the endpoint settles, then record the version it serves as the DeployedModelVersion metric.
Output variables (for #{<namespace>.<name>} in later actions' configuration):
    ModelPackageArn      the newest Approved version's ARN
    ModelPackageVersion  its version number
    CreationTime         when it was registered (UTC, ISO 8601)
    Summary              one readable line: version, creation time, headline quality metric
    FastPath             "true" when production serves a Rejected version: the run skips Staging and SmokeTest
    Checks               what the run checks before a person approves, for the approval note: the smoke test on
                         staging, or (fast path) nothing: it takes production back from a rejected version
No Approved version left (the last one was rejected): the action fails with a message saying so, and
nothing later in the pipeline runs, so nothing is deployed or changed. Production already serving the newest
Approved version (an older one was approved, or one production does not serve was rejected): the action
fails the same way, "nothing to deploy", so nobody is asked to approve what production already runs, unless
UserParameters say {"Redeploy": "true"} (a run a person started to apply a template or config change).
While production is busy (a rollout, its rollback, its creation, a scaling activity) and the decision depends on how
that ends (it serves the newest Approved version, or one not Approved, or none known), Resolve waits for it
(continuation tokens, up to SETTLE_WAIT_SECONDS) and decides on the outcome: a rejection of the version rolling out
then finds production back on the version it serves, and the serves-rejected alarm sees only settled states.
"""
from __future__ import annotations

import json
import os
import time

from shared import archives, capacity, clients, pipeline_job
from shared.pipeline_job import Failed, InProgress, Job, Succeeded

from . import registry, rollout, summary

FUNCTION = "deploy_resolve"


def _redeploy(job: Job) -> bool:
    """UserParameters {"Redeploy": "true"} (the pipeline's Redeploy variable, set by a person starting a run to apply a
    template or config change): deploy even when production serves the version. It can only add a run, never pick
    a version."""
    try:
        parameters = json.loads(job.user_parameters) if job.user_parameters.strip() else {}
    except ValueError:
        return False
    return isinstance(parameters, dict) and parameters.get("Redeploy") == "true"


# Production's longest busy spell a decision waits for: a rollout's MaximumExecutionTimeoutInSeconds (at most 28800,
# infra/config/serving.py) and an hour; CodePipeline keeps invoking for up to 24 hours.
SETTLE_WAIT_SECONDS = 9 * 3600


def _settling(current: rollout.Serving | None, package: dict | None) -> bool:
    """Production is busy, and what this run should do depends on how that ends."""
    if current is None or current.endpoint_status not in rollout.BUSY:
        return False
    return (not current.version or current.approval != "Approved" or package is None
            or current.package_arn == package["ModelPackageArn"])


# A source env's pin function runs on the approval that starts this run; it is done in seconds, or retrying.
PIN_WAIT_SECONDS = 15 * 60


def _archives(package: dict, waiting: dict) -> list[str] | InProgress:
    """Pin this env's archives; or, serving another env's models, verify that env pinned them, waiting for it."""
    source = os.environ.get("MODELS_SOURCE_ENV", "")
    if not source:
        return archives.pin(package, *archives.settings())
    try:
        return archives.verify_pinned(package, *archives.settings())
    except archives.NotPinned as exc:
        since = waiting.get("pin") or time.time()
        if time.time() - since > PIN_WAIT_SECONDS:
            raise Failed("not_pinned", f"{exc} after {PIN_WAIT_SECONDS // 60} minutes: {source}'s pin function "
                                       f"{os.environ.get('MODELS_PIN_FUNCTION', '')} has not pinned it; see its "
                                       f"dead-letter queue and alarms in {source}'s account; nothing was deployed") from None
        return InProgress("waiting_for_pin", json.dumps({"resolve": {**waiting, "pin": since}}),
                          f"waiting for {source} to pin version {package.get('ModelPackageVersion')}'s archive")


def _wait_for(production: str, current: rollout.Serving, since: float) -> InProgress:
    since = since or time.time()
    if time.time() - since > SETTLE_WAIT_SECONDS:
        raise Failed("production_busy", f"{production} stayed {current.endpoint_status} for "
                                        f"{SETTLE_WAIT_SECONDS // 3600} hours; nothing was deployed: start a run "
                                        "again once it is InService")
    return InProgress("waiting", json.dumps({"resolve": {"since": since}}),
                      f"waiting for {production} ({current.endpoint_status}) to settle before deciding what to deploy")


def resolve(job: Job, waiting: dict | None = None) -> Succeeded | InProgress:
    """The version comes from the registry only; the job may only ask to redeploy. `waiting`: since when Resolve
    waits for production to settle ("since") or for the source env's pin ("pin")."""
    waiting = waiting or {}
    group = os.environ.get("MODELS_GROUP_ARN") or os.environ.get("MODEL_PACKAGE_GROUP", "")
    if not group:
        raise Failed("misconfigured", "the function's MODEL_PACKAGE_GROUP environment variable is not set",
                     "ConfigurationError")
    try:
        package = registry.newest_approved(group)
    except registry.RegistryChanged as exc:
        raise Failed("registry_changing", f"{exc}; try again", group=group) from None
    production = os.environ.get("PRODUCTION_ENDPOINT", "")
    current = rollout.serving_now(production) if production else None
    if _settling(current, package):
        return _wait_for(production, current, waiting.get("since", 0.0))
    if current is not None:
        rollout.record(production, current)  # what serves now, published for the dashboard
    rejected_served = current is not None and current.approval == "Rejected"
    if package is None and rejected_served:
        raise Failed("rejected_served_none_approved", (
            f"ALERT: {production} serves version {current.version}, which is Rejected, and no Approved version of "
            f"{group} is left, so it keeps serving it. Approve a version that may serve (make approve ENV=<env> "
            f"VERSION=<n>) or register and approve a new one; to stop serving now, delete the endpoint "
            f"(aws sagemaker delete-endpoint --endpoint-name {production})"), group=group)
    if package is None:
        raise Failed("none_approved", f"no Approved version left in model package group {group}; nothing was deployed",
                     group=group)
    if not _redeploy(job) and current is not None and current.endpoint_status == "InService" and \
            current.package_arn == package["ModelPackageArn"]:
        # An approval of an older version, or a rejection of one production does not serve: nothing to change.
        raise Failed("up_to_date", f"{production} already serves version {package['ModelPackageVersion']}, the newest "
                                   f"Approved version of {group}; nothing to deploy", group=group)
    _check_capacity()  # before anything changes: a rollout short of instances fails only once SageMaker provisions
    pinned = _archives(package, waiting)  # the archive is the one registered, and serving may load only it
    if isinstance(pinned, InProgress):
        return pinned
    source = os.environ.get("MODELS_SOURCE_ENV", "")
    text = summary.line(group, package, f"quality: see {source}'s registry" if source else summary.quality(package))
    variables = {
        "ModelPackageArn": package["ModelPackageArn"],
        "ModelPackageVersion": str(package["ModelPackageVersion"]),
        "CreationTime": summary.created_at(package.get("CreationTime")),
        "Summary": text,
        # Production serves a rejected version: back to the newest approved one without staging and the smoke test
        # (the stages' entry conditions skip them); a person's approval and the guarded rollout still apply.
        "FastPath": "true" if rejected_served else "false",
        "Checks": (f"Production serves version {current.version}, which is Rejected: this run skipped staging and the "
                   "smoke test to take it back." if rejected_served else
                   f"It passed the smoke test on {os.environ.get('STAGING_ENDPOINT') or 'the staging endpoint'}."),
    }
    return Succeeded("resolved", variables, text, {"group": group, "archives": pinned})


def _positive(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _plan() -> dict:
    """INSTANCES_NEEDED: infra/config/serving.py instances_needed."""
    try:
        plan = json.loads(os.environ.get("INSTANCES_NEEDED", ""))
    except ValueError:
        plan = None
    if not (isinstance(plan, dict) and isinstance(plan.get("InstanceType"), str) and _positive(plan.get("MinInstances"))
            and _positive(plan.get("MaxInstances")) and isinstance(plan.get("Staging"), dict)
            and all(isinstance(k, str) and _positive(v) for k, v in plan["Staging"].items())):
        raise Failed("misconfigured", "the function's INSTANCES_NEEDED environment variable is not a JSON object of "
                                      "InstanceType, MinInstances, MaxInstances and Staging (instance type -> count)",
                     "ConfigurationError")
    return plan


def _check_capacity() -> None:
    """The account's endpoint quotas hold this run's rollout at its peak beside the account's other endpoints."""
    plan = _plan()
    production = os.environ.get("PRODUCTION_ENDPOINT", "")
    needed = capacity.peak(clients.client("sagemaker"), plan, production)
    quota = capacity.quotas(clients.client("service-quotas"), needed)
    used = capacity.in_use(clients.client("sagemaker"), needed, {production, os.environ.get("STAGING_ENDPOINT", "")})
    short = capacity.shortfalls(needed, quota, used, os.environ.get("AWS_REGION", "this region"))
    if short:
        raise Failed("quota", "; ".join(short) + "; nothing was deployed", needed=needed, in_use=used)


def _request(job: Job) -> dict | None:
    """UserParameters naming RollOut; anything else is no request (resolving reads nothing from the job)."""
    try:
        parameters = json.loads(job.user_parameters) if job.user_parameters.strip() else None
    except ValueError:
        return None
    return parameters if isinstance(parameters, dict) and "RollOut" in parameters else None


def _resolve_waiting(token: str) -> dict | None:
    """When Resolve's waits began ("since": production settling, "pin": the source's pin), from its token; None for a
    rollout's token."""
    try:
        data = json.loads(token)
        if not (isinstance(data, dict) and isinstance(data.get("resolve"), dict)):
            return None
        return {key: float(value) for key, value in data["resolve"].items() if key in ("since", "pin")}
    except (TypeError, ValueError):
        return None


def work(job: Job) -> Succeeded | InProgress:
    if job.continuation_token:  # CodePipeline asking again: Resolve waiting for production, or a rollout
        waiting = _resolve_waiting(job.continuation_token)
        return rollout.poll(job.continuation_token) if waiting is None else resolve(job, waiting)
    request = _request(job)
    if request is None:
        return resolve(job)
    stack, package = request["RollOut"], request.get("ModelPackageArn")
    if not isinstance(stack, str) or not isinstance(package, str) or not package.startswith("arn:"):
        raise Failed("bad_parameters", "RollOut needs the production stack's name and ModelPackageArn, the resolved "
                                       f"version: {job.user_parameters[:300]!r}", "ConfigurationError")
    if os.environ.get("MODELS_GROUP_ARN"):
        _still_pinned(package)
    return rollout.start(stack, package)


def _still_pinned(arn: str) -> None:
    """Across accounts the archive is in the source's bucket: check it again right before production's new fleet
    loads it (after staging, the smoke test and a person's approval), so a rewrite since Resolve stops here."""
    package = clients.client("sagemaker").describe_model_package(ModelPackageName=arn)
    try:
        archives.verify_pinned(package, *archives.settings())
    except archives.NotPinned as exc:
        raise Failed("not_pinned", f"{exc}; nothing was rolled out") from None


def lambda_handler(event, context=None):  # noqa: ARG001 - Lambda's signature
    return pipeline_job.run(event, FUNCTION, work)
