"""Lambda entry point of the deployment pipeline's Resolve action (a CodePipeline Lambda invoke action).

Environment: MODEL_PACKAGE_GROUP, the group's name. UserParameters: none (ignored).
Output variables (for #{<namespace>.<name>} in later actions' configuration):
    ModelPackageArn      the newest Approved version's ARN
    ModelPackageVersion  its version number
    CreationTime         when it was registered (UTC, ISO 8601)
    Summary              one readable line: version, creation time, headline quality metric
No Approved version left (the last one was rejected): the action fails with a message saying so, and
nothing later in the pipeline runs, so nothing is deployed or changed.
"""
from __future__ import annotations

import os

from shared import pipeline_job
from shared.pipeline_job import Failed, Job, Succeeded

from . import registry, summary

FUNCTION = "deploy_resolve"


def resolve(job: Job) -> Succeeded:  # noqa: ARG001 - the job carries nothing this decision may trust
    group = os.environ.get("MODEL_PACKAGE_GROUP", "")
    if not group:
        raise Failed("misconfigured", "the function's MODEL_PACKAGE_GROUP environment variable is not set",
                     "ConfigurationError")
    try:
        package = registry.newest_approved(group)
    except registry.RegistryChanged as exc:
        raise Failed("registry_changing", f"{exc}; try again", group=group) from None
    if package is None:
        raise Failed("none_approved", f"no Approved version left in model package group {group}; nothing was deployed",
                     group=group)
    text = summary.line(group, package, summary.quality(package))
    variables = {
        "ModelPackageArn": package["ModelPackageArn"],
        "ModelPackageVersion": str(package["ModelPackageVersion"]),
        "CreationTime": summary.created_at(package.get("CreationTime")),
        "Summary": text,
    }
    return Succeeded("resolved", variables, text, {"group": group})


def lambda_handler(event, context=None):  # noqa: ARG001 - Lambda's signature
    return pipeline_job.run(event, FUNCTION, resolve)
