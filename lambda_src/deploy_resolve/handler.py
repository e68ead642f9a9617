"""Lambda entry point of the deployment pipeline's Resolve action (a CodePipeline Lambda invoke action).

Environment: MODEL_PACKAGE_GROUP, the group's name; METRICS_NAMESPACE and PRODUCTION_ENDPOINT (for the record);
ARCHIVE_BUCKET and ARCHIVE_PREFIX, where this env's model archives are (archive.py: each archive of the version is
checked to have been written once, then tagged so that serving may load it); SERVING_IMAGES, the comma-separated
image repositories (registry/name) a version may be served with; STAGING_ENDPOINT and INSTANCES_NEEDED (JSON:
instance type -> the most instances the env's endpoints run at once), checked against the account's endpoint
quotas beside what its other endpoints run, before anything is deployed (shared/capacity.py).
UserParameters: none to resolve. {"RollOut": "<production stack>", "ModelPackageArn": "#{Resolve.ModelPackageArn}"}
in the Production stage: roll production out to the stack's endpoint config (rollout.py), answering with continuation
tokens until the endpoint settles, then record the version it serves as the DeployedModelVersion metric.
Output variables (for #{<namespace>.<name>} in later actions' configuration):
    ModelPackageArn      the newest Approved version's ARN
    ModelPackageVersion  its version number
    CreationTime         when it was registered (UTC, ISO 8601)
    Summary              one readable line: version, creation time, headline quality metric
    FastPath             "true" when production serves a Rejected version: the run skips Staging and SmokeTest
No Approved version left (the last one was rejected): the action fails with a message saying so, and
nothing later in the pipeline runs, so nothing is deployed or changed. Production already serving the newest
Approved version (an older one was approved, or one production does not serve was rejected): the action
fails the same way, "nothing to deploy", so nobody is asked to approve what production already runs, unless
UserParameters say {"Redeploy": "true"} (a run a person started to apply a template or config change).
"""
from __future__ import annotations

import json
import os

from shared import capacity, clients, pipeline_job
from shared.pipeline_job import Failed, InProgress, Job, Succeeded

from . import archive, registry, rollout, summary

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


def resolve(job: Job) -> Succeeded:  # the version comes from the registry only; the job may only ask to redeploy
    group = os.environ.get("MODEL_PACKAGE_GROUP", "")
    if not group:
        raise Failed("misconfigured", "the function's MODEL_PACKAGE_GROUP environment variable is not set",
                     "ConfigurationError")
    try:
        package = registry.newest_approved(group)
    except registry.RegistryChanged as exc:
        raise Failed("registry_changing", f"{exc}; try again", group=group) from None
    production = os.environ.get("PRODUCTION_ENDPOINT", "")
    current = rollout.record(production) if production else None  # what serves now, published for the dashboard
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
    pinned = archive.pin(package)  # the archive is the one registered, and serving may load only it
    text = summary.line(group, package, summary.quality(package))
    variables = {
        "ModelPackageArn": package["ModelPackageArn"],
        "ModelPackageVersion": str(package["ModelPackageVersion"]),
        "CreationTime": summary.created_at(package.get("CreationTime")),
        "Summary": text,
        # Production serves a rejected version: back to the newest approved one without staging and the smoke test
        # (the stages' entry conditions skip them); a person's approval and the guarded rollout still apply.
        "FastPath": "true" if rejected_served else "false",
    }
    return Succeeded("resolved", variables, text, {"group": group, "archives": pinned})


def _instances_needed() -> dict[str, int]:
    try:
        needed = json.loads(os.environ.get("INSTANCES_NEEDED", ""))
    except ValueError:
        needed = None
    if not isinstance(needed, dict) or not needed or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v > 0 for k, v in needed.items()):
        raise Failed("misconfigured", "the function's INSTANCES_NEEDED environment variable is not a JSON object of "
                                      "instance types and positive counts", "ConfigurationError")
    return needed


def _check_capacity() -> None:
    """The account's endpoint quotas hold what this env needs at its peak beside its other endpoints."""
    needed = _instances_needed()
    own = {os.environ.get("PRODUCTION_ENDPOINT", ""), os.environ.get("STAGING_ENDPOINT", "")}
    quota = capacity.quotas(clients.client("service-quotas"), needed)
    used = capacity.in_use(clients.client("sagemaker"), needed, own)
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


def work(job: Job) -> Succeeded | InProgress:
    if job.continuation_token:  # CodePipeline asking how a rollout this function started goes
        return rollout.poll(job.continuation_token)
    request = _request(job)
    if request is None:
        return resolve(job)
    stack, package = request["RollOut"], request.get("ModelPackageArn")
    if not isinstance(stack, str) or not isinstance(package, str) or not package.startswith("arn:"):
        raise Failed("bad_parameters", "RollOut needs the production stack's name and ModelPackageArn, the resolved "
                                       f"version: {job.user_parameters[:300]!r}", "ConfigurationError")
    return rollout.start(stack, package)


def lambda_handler(event, context=None):  # noqa: ARG001 - Lambda's signature
    return pipeline_job.run(event, FUNCTION, work)
