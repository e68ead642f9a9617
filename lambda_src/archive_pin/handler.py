"""Lambda entry point: an approval of this env's group -> check and pin the version's archives (shared/archives.py).

Another account serves this env's approved versions and may not write to this bucket, so the pin its Resolve puts on
an archive in an env serving its own models is put here, on the approval event (the notifications stack's rule).
The event is never trusted: the version is described. Still Approved: its archives are checked (written once, before
registration, in this env's models/ folder, an image the endpoints may pull) and tagged; a failed check raises, naming
the version and why, so Lambda's retries, the dead-letter queue and its alarm catch it (and the serving env's Resolve
never finds the tag, so it deploys nothing). No longer Approved, or not this env's group: logged (decision "ignored",
counted by a metric filter) and ignored. A repeated event puts the same tag again.
"""
from __future__ import annotations

import os

from shared import archives, clients
from shared.log import log
from shared.pipeline_job import Failed

APPROVED = "Approved"


def lambda_handler(event, context):  # noqa: ARG001 - Lambda's signature
    arn = ((event or {}).get("detail") or {}).get("ModelPackageArn")
    if not isinstance(arn, str) or not arn:
        log("WARNING", "not a model package state change: ignored", decision="ignored", reason="malformed")
        return {"decision": "ignored"}
    package = clients.client("sagemaker").describe_model_package(ModelPackageName=arn)
    status, group = package.get("ModelApprovalStatus"), package.get("ModelPackageGroupName")
    if status != APPROVED or group != os.environ["MODEL_PACKAGE_GROUP"]:
        log("INFO", "version not approved (any more) in this env's group: nothing pinned", decision="ignored",
            model_package_arn=arn, status=status, group=group)
        return {"decision": "ignored"}
    bucket, prefix = archives.settings()
    try:
        pinned = archives.pin(package, bucket, prefix)
    except Failed as failed:
        log("ERROR", failed.message, decision=failed.decision, model_package_arn=arn)
        raise RuntimeError(f"version {package.get('ModelPackageVersion')} ({arn}) was not pinned for the serving env: "
                           f"{failed.message}") from None
    log("INFO", "archives pinned", decision="pinned", model_package_arn=arn, pinned=pinned)
    return {"decision": "pinned", "pinned": pinned}
