"""Lambda entry point: decide, enrich, publish, and log one JSON line per decision.

Two events: a model package state change, and a failed run of this env's SageMaker pipeline (pipeline_run.py).
Decisions: "malformed" (logged, not retried: retrying cannot fix it), "ignored" (another group or pipeline, a
status this env does not notify on), "duplicate" (SageMaker may send several events per change: the ledger,
shared/ledger.py, lets one through), "published" (a model package), "below_threshold" or "pipeline_broken" (a
failed run). Transient AWS errors (throttling, 5xx, timeouts) raise, so Lambda's retries and then the
dead-letter queue keep the event.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from . import aws, message, pipeline_run, report
from .event import MalformedEvent, ModelEvent, parse
from shared.ledger import Ledger
from shared.log import log

# Claiming and publishing take a few calls; with less time left, retry the event
# instead: a claim cut off by the timeout before its publish would make the retry a "duplicate".
CLAIM_BUDGET_MS = 45_000


@dataclass(frozen=True)
class Settings:
    group: str
    statuses: frozenset[str]
    topic_arn: str
    pipeline: str
    ledger: Ledger


def settings() -> Settings:
    """From the environment; a missing variable is a deployment bug and raises (dead-lettered)."""
    return Settings(
        group=os.environ["MODEL_PACKAGE_GROUP_NAME"],
        statuses=frozenset(s.strip() for s in os.environ["NOTIFY_ON_STATUSES"].split(",") if s.strip()),
        topic_arn=os.environ["TOPIC_ARN"],
        pipeline=os.environ["PIPELINE_NAME"],
        ledger=Ledger(os.environ["LEDGER_BUCKET"], os.environ["LEDGER_PREFIX"]),
    )


def publish_once(config: Settings, marker: str, msg: message.Message, remaining_ms, **where) -> dict | None:
    """Publish `msg` unless `marker` was claimed before (then None). Claimed last, after every read; released
    again when publishing fails, so the retry publishes."""
    if remaining_ms() < CLAIM_BUDGET_MS:
        log("WARNING", "too little time left to claim and publish; raising for retry", decision="retry", **where)
        raise TimeoutError(f"{remaining_ms()} ms left, fewer than the {CLAIM_BUDGET_MS} ms claiming and publishing may take")
    s3 = aws.client("s3")
    claimed = config.ledger.claim(s3, marker)
    if claimed is None:
        log("INFO", "event ignored", decision="duplicate", reason="already published (a repeated event)", marker=marker, **where)
        return None
    try:
        return aws.client("sns").publish(**msg.publish_kwargs(config.topic_arn))
    except Exception as exc:  # noqa: BLE001 - logged, then re-raised: never swallow a lost message
        log("ERROR", "publish failed; raising for retry", decision="publish_failed", error_code=aws.error_code(exc),
            error=str(exc)[:500], transient=aws.is_transient(exc), **where)
        try:
            config.ledger.release(s3, [claimed])
        except Exception as release_exc:  # noqa: BLE001 - the original error is raised anyway
            log("ERROR", "could not release the claim; the retry will see a duplicate", marker=marker,
                error=str(release_exc)[:500], **where)
        raise


def pipeline_failed(event: dict, config: Settings, remaining_ms, event_id) -> dict:
    run = pipeline_run.parse(event)
    where = {"event_id": event_id, "pipeline": run.pipeline, "execution": run.execution_id}
    if run.pipeline != config.pipeline or run.status != "Failed":
        reason = "other pipeline" if run.pipeline != config.pipeline else "not a failed run"
        log("INFO", "event ignored", decision="ignored", reason=reason, status=run.status, **where)
        return {"decision": "ignored", "reason": reason}
    try:
        result = pipeline_run.outcome(aws.client("sagemaker"), run)
    except Exception as exc:  # noqa: BLE001 - a run we cannot read is raised: retried, then dead-lettered
        log("WARNING", "could not read the run's steps; raising for retry", decision="retry", error_code=aws.error_code(exc),
            error=str(exc)[:500], **where)
        raise
    decision = pipeline_run.BELOW_THRESHOLD if result.gate else pipeline_run.BROKEN
    response = publish_once(config, f"executions/{run.execution_id}/notified/{run.status}", pipeline_run.build(run, result),
                            remaining_ms, **where)
    if response is None:
        return {"decision": "duplicate"}
    log("WARNING" if decision == pipeline_run.BROKEN else "INFO", "failed run announced", decision=decision,
        message_id=response.get("MessageId"), reasons=list(result.reasons), **where)
    return {"decision": decision, "message_id": response.get("MessageId")}


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


def changed_at(model: ModelEvent) -> str:
    """"-<the change's own time>" (detail.LastModifiedTime): every delivery of one change carries it, so it is
    announced once, late repeats included; a version that returns to a status it had is a new change. Without it,
    "": the status alone, so repeats stay one message (a return to the status is then not announced again)."""
    stamp = "".join(c for c in str(model.detail.get("LastModifiedTime") or "") if c.isascii() and c.isalnum())[:32]
    return f"-{stamp}" if stamp else ""


def lambda_handler(event, context=None):
    config = settings()
    remaining_ms = context.get_remaining_time_in_millis if context is not None else (lambda: CLAIM_BUDGET_MS)
    event_id = event.get("id") if isinstance(event, dict) else None
    try:
        if isinstance(event, dict) and event.get("detail-type") == pipeline_run.DETAIL_TYPE:
            return pipeline_failed(event, config, remaining_ms, event_id)
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
    response = publish_once(config, f"{model.version}/notified/{model.status}{changed_at(model)}", msg, remaining_ms, **where)
    if response is None:
        return {"decision": "duplicate"}
    log("INFO", "notification published", decision="published", message_id=response.get("MessageId"), subject=msg.subject,
        body_bytes=len(msg.body.encode("utf-8")), **where)
    return {"decision": "published", "message_id": response.get("MessageId")}
