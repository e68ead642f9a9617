"""Lambda entry point: on a finished execution of this environment's SageMaker pipeline, catalogue its report.

Triggered by the KPI stack's rule on "SageMaker Model Building Pipeline Execution Status Change" with
currentPipelineExecutionStatus Succeeded, Failed or Stopped (a failed execution may still have evaluated,
e.g. below the approval threshold). If the execution wrote a report under the evaluation prefix, its
folder becomes a partition of the crawled table at once; before the first crawl there is no table yet, so
the crawler is started instead. A transient error, or a crawler that is already running, raises: Lambda
retries, then the dead-letter queue keeps the event and its alarm fires. Events that can never give a
partition (another pipeline, a running execution, no report) are logged and ignored.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

import boto3
from botocore.exceptions import ClientError

from shared.log import log

DETAIL_TYPE = "SageMaker Model Building Pipeline Execution Status Change"
SOURCE = "aws.sagemaker"
FINISHED = ("Failed", "Stopped", "Succeeded")
# arn:<partition>:sagemaker:<region>:<account>:pipeline/<name>/execution/<id>
_EXECUTION_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:pipeline/(?P<pipeline>[^/]+)/execution/(?P<id>[a-z0-9]{1,64})$")


class Ignored(Exception):
    """The event is understood and gives no partition."""


@dataclass(frozen=True)
class Settings:
    pipeline: str  # SageMaker lower-cases the name in ARNs; ours is lower case already
    bucket: str
    prefix: str  # the evaluation prefix, ending in "/"
    database: str
    table: str
    crawler: str


@lru_cache(maxsize=None)
def client(service: str):
    return boto3.client(service)


def execution_id(event: object, pipeline: str) -> str:
    """The finished execution's id, or raise Ignored saying why not."""
    if not isinstance(event, dict) or event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise Ignored("not a pipeline execution status change")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise Ignored("event has no detail object")
    status = detail.get("currentPipelineExecutionStatus")
    if status not in FINISHED:
        raise Ignored(f"execution status {str(status)[:100]!r} is not finished")
    match = _EXECUTION_ARN.match(str(detail.get("pipelineExecutionArn", ""))[:2048])
    if not match:
        raise Ignored("event has no pipeline execution ARN")
    if match["pipeline"] != pipeline.lower():
        raise Ignored(f"pipeline {match['pipeline']!r} is not {pipeline!r}")
    return match["id"]


def _has_report(settings: Settings, execution: str) -> bool:
    listing = client("s3").list_objects_v2(Bucket=settings.bucket, Prefix=f"{settings.prefix}{execution}/", MaxKeys=1)
    return listing.get("KeyCount", 0) > 0


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _add_partition(settings: Settings, execution: str, table: dict) -> str:
    """The execution's folder as a partition, described like the crawler describes the others."""
    storage = dict(table["StorageDescriptor"])
    storage["Location"] = f"{storage['Location'].rstrip('/')}/{execution}/"
    try:
        client("glue").create_partition(
            DatabaseName=settings.database, TableName=settings.table,
            PartitionInput={"Values": [execution], "StorageDescriptor": storage},
        )
    except ClientError as exc:
        if _code(exc) == "AlreadyExistsException":
            return "partition already there"
        raise
    return "partition added"


def catalogue(settings: Settings, execution: str) -> str:
    try:
        table = client("glue").get_table(DatabaseName=settings.database, Name=settings.table)["Table"]
    except ClientError as exc:
        if _code(exc) != "EntityNotFoundException":
            raise
        # No table before the first crawl: the crawler makes it, with this execution's partition.
        return _crawl(settings)
    if len(table.get("PartitionKeys", [])) != 1:
        return _crawl(settings)  # a layout the crawler must sort out
    return _add_partition(settings, execution, table)


def _crawl(settings: Settings) -> str:
    """Start the crawler. One already running is no failure: the first crawl can outlast Lambda's retries
    (and would dead-letter a healthy event); the next event or the scheduled crawl catalogues this one."""
    try:
        client("glue").start_crawler(Name=settings.crawler)
    except ClientError as exc:
        if _code(exc) == "CrawlerRunningException":
            return "crawler already running"
        raise
    return "crawler started"


def handle(event: object, settings: Settings) -> dict:
    try:
        execution = execution_id(event, settings.pipeline)
    except Ignored as exc:
        log("INFO", "event ignored", reason=str(exc), event_id=event.get("id") if isinstance(event, dict) else None)
        return {"catalogued": False, "ignored": str(exc)}
    try:
        if not _has_report(settings, execution):
            log("INFO", "event ignored", reason="the execution wrote no evaluation report", execution=execution)
            return {"catalogued": False, "ignored": "no report"}
        outcome = catalogue(settings, execution)
    except Exception as exc:
        code = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        log("WARNING", "AWS call failed; raising for retry", code=code, error=str(exc)[:500], execution=execution)
        raise
    log("INFO", "report catalogued", execution=execution, outcome=outcome, table=f"{settings.database}.{settings.table}")
    return {"catalogued": True, "outcome": outcome}


def lambda_handler(event, context):  # noqa: ARG001 - Lambda's signature
    env = os.environ
    return handle(event, Settings(env["PIPELINE_NAME"], env["REPORTS_BUCKET"], env["REPORTS_PREFIX"],
                                  env["GLUE_DATABASE"], env["GLUE_TABLE"], env["CRAWLER_NAME"]))
