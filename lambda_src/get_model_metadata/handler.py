"""Lambda entry point: decide, enrich, publish, and log one JSON line per decision.

Decisions: "malformed" (logged, not retried: retrying cannot fix it), "ignored" (another group
or a status this env does not notify on), "published". Transient AWS errors (throttling, 5xx,
timeouts) raise, so Lambda's retries and then the dead-letter queue keep the event.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from . import aws, message, report
from .event import MalformedEvent, ModelEvent, parse
from shared.log import log


@dataclass(frozen=True)
class Settings:
    group: str
    statuses: frozenset[str]
    topic_arn: str


def settings() -> Settings:
    """From the environment; a missing variable is a deployment bug and raises (dead-lettered)."""
    return Settings(
        group=os.environ["MODEL_PACKAGE_GROUP_NAME"],
        statuses=frozenset(s.strip() for s in os.environ["NOTIFY_ON_STATUSES"].split(",") if s.strip()),
        topic_arn=os.environ["TOPIC_ARN"],
    )


def describe(model: ModelEvent) -> dict:
    """The event detail overlaid with DescribeModelPackage (approver, comment, current status)."""
    try:
        described = aws.client("sagemaker").describe_model_package(ModelPackageName=model.arn)
    except Exception as exc:  # noqa: BLE001 - classified below
        if aws.is_transient(exc):
            log("WARNING", "describe failed; raising for retry", decision="retry", step="describe_model_package",
                error_code=aws.error_code(exc), error=str(exc)[:500], model_package_arn=model.arn)
            raise
        # Deleted package or denied access: the event alone still makes a useful message.
        log("WARNING", "could not describe the model package; notifying from the event alone", decision="describe_failed",
            error_code=aws.error_code(exc), error=str(exc)[:500], model_package_arn=model.arn)
        described = {}
    described.pop("ResponseMetadata", None)
    return {**model.detail, **described}


def lambda_handler(event, context=None):  # noqa: ARG001 - Lambda's signature
    config = settings()
    event_id = event.get("id") if isinstance(event, dict) else None
    try:
        model = parse(event)
    except MalformedEvent as exc:
        log("ERROR", "event malformed; dropped", decision="malformed", event_id=event_id, error=str(exc))
        return {"decision": "malformed", "reason": str(exc)}

    where = {"event_id": event_id, "group": model.group, "version": model.version, "status": model.status}
    if model.group != config.group:
        log("INFO", "event ignored", decision="ignored", reason="other model package group", expected_group=config.group, **where)
        return {"decision": "ignored", "reason": "other model package group"}
    if model.status not in config.statuses:
        log("INFO", "event ignored", decision="ignored", reason="status not notified", notified_statuses=sorted(config.statuses),
            **where)
        return {"decision": "ignored", "reason": "status not notified"}

    info = describe(model)
    uri = message.report_uri(info)
    quality = report.fetch(uri) if uri else None
    if quality is not None and quality.unavailable:
        log("WARNING", "quality report unavailable; notifying without metrics", decision="report_unavailable", report_uri=uri,
            reason=quality.unavailable, **where)
    msg = message.build(model, info, quality)
    try:
        response = aws.client("sns").publish(**msg.publish_kwargs(config.topic_arn))
    except Exception as exc:  # noqa: BLE001 - logged, then re-raised: never swallow a lost message
        log("ERROR", "publish failed; raising for retry", decision="publish_failed", error_code=aws.error_code(exc),
            error=str(exc)[:500], transient=aws.is_transient(exc), **where)
        raise
    log("INFO", "notification published", decision="published", message_id=response.get("MessageId"), subject=msg.subject,
        body_bytes=len(msg.body.encode("utf-8")), **where)
    return {"decision": "published", "message_id": response.get("MessageId")}
