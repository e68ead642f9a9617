"""A CodePipeline Lambda invoke action's side of the job: read it, do the work, report exactly one result.

CodePipeline invokes the function asynchronously with
    {"CodePipeline.job": {"id": "<uuid>", "accountId": "...",
                          "data": {"actionConfiguration": {"configuration": {"FunctionName": "...",
                                                                               "UserParameters": "..."}},
                                   "inputArtifacts": [...], "artifactCredentials": {...}, ...}}}
and waits for PutJobSuccessResult or PutJobFailureResult. The event holds temporary artifact
credentials: it is never logged.

Outcomes, one JSON log line each (field `decision`):
- the work's own decision (e.g. "resolved", "passed"): success reported with output variables;
- a `Failed` raised by the work (a check failed, nothing to deploy, bad parameters): failure reported;
- "aws_error": an AWS call still failed after botocore's retries: failure reported;
- "internal_error": a bug: failure reported, then raised (Lambda's error metric, retries, dead letters);
- "malformed": no job id, nobody to report to: raised;
- "report_failed": reporting itself failed: raised, so Lambda retries and then dead-letters the event;
- "already_reported": the job is no longer open (a retry after a report that went through);
- the work's "in progress" decision (`InProgress`): success reported with a continuation token, so CodePipeline
  invokes the function again with it (`Job.continuation_token`) until a result without one; it waits at most
  20 minutes for each answer and 24 hours in all (CodePipeline quotas, "AWS Lambda invoke action").
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable

from . import clients
from .log import log

JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
# PutJobFailureResult: message 1..5000 characters. PutJobSuccessResult: variable names match
# [A-Za-z0-9@\-_]+, all of an action's output variables together at most 122,880 bytes, and the
# execution summary 1..2048 characters.
MAX_FAILURE_MESSAGE = 5000
VARIABLE_NAME = re.compile(r"[A-Za-z0-9@\-_]+\Z")
MAX_VARIABLES_BYTES = 122_880
MAX_EXECUTION_SUMMARY = 2048
MAX_CONTINUATION_TOKEN = 2048
FAILURE_TYPES = frozenset({"JobFailed", "ConfigurationError", "PermissionError", "RevisionOutOfSync",
                           "RevisionUnavailable", "SystemUnavailable"})
_JOB_CLOSED = frozenset({"InvalidJobStateException", "JobNotFoundException"})


class MalformedJob(ValueError):
    """The event is not a CodePipeline job: there is no job to report to."""


class Failed(Exception):
    """The work decided the action fails; `message` is one line for the pipeline's console."""

    def __init__(self, decision: str, message: str, failure_type: str = "JobFailed", **fields):
        super().__init__(message)
        self.decision, self.message, self.failure_type, self.fields = decision, message, failure_type, fields


@dataclass(frozen=True)
class Succeeded:
    decision: str
    variables: dict[str, str]
    summary: str
    fields: dict = field(default_factory=dict)  # extra log fields


@dataclass(frozen=True)
class InProgress:
    """Not done yet: CodePipeline invokes the function again, with `token` as the job's continuation token."""
    decision: str
    token: str
    summary: str
    fields: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    id: str
    user_parameters: str  # "" when the action has none
    continuation_token: str = ""  # what an earlier invocation of this action returned as InProgress.token


def parse(event) -> Job:
    job = event.get("CodePipeline.job") if isinstance(event, dict) else None
    if not isinstance(job, dict):
        raise MalformedJob('the event has no "CodePipeline.job" object')
    job_id = job.get("id")
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        raise MalformedJob(f'"CodePipeline.job".id is not a job id: {str(job_id)[:100]!r}')
    data = job.get("data") if isinstance(job.get("data"), dict) else {}
    action = data.get("actionConfiguration") if isinstance(data.get("actionConfiguration"), dict) else {}
    configuration = action.get("configuration") if isinstance(action.get("configuration"), dict) else {}
    parameters = configuration.get("UserParameters")
    token = data.get("continuationToken")
    return Job(job_id, parameters if isinstance(parameters, str) else "", token if isinstance(token, str) else "")


def one_line(text: str, limit: int) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def check_variables(variables: dict[str, str]) -> None:
    """Refuse (as a bug) what PutJobSuccessResult would refuse, before calling it."""
    for name, value in variables.items():
        if not VARIABLE_NAME.match(name) or not isinstance(value, str):
            raise ValueError(f"output variable {name!r} needs a [A-Za-z0-9@-_] name and a string value")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in variables.items())
    if size > MAX_VARIABLES_BYTES:
        raise ValueError(f"output variables total {size} bytes; CodePipeline accepts {MAX_VARIABLES_BYTES}")


def _report(job: Job, function: str, call: Callable[[], object], decision: str) -> bool:
    """Make the one PutJob*Result call; False when the job was already closed."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - logged, then raised unless the job is closed
        code = clients.error_code(exc)
        if code in _JOB_CLOSED:
            log("WARNING", "job no longer open; nothing reported", function=function, decision="already_reported",
                job_id=job.id, outcome=decision, error_code=code, error=one_line(exc, 500))
            return False
        log("ERROR", "could not report the job result; raising for Lambda's retry", function=function,
            decision="report_failed", job_id=job.id, outcome=decision, error_code=code, error=one_line(exc, 500))
        raise
    return True


def succeed(job: Job, function: str, outcome: Succeeded) -> None:
    check_variables(outcome.variables)
    pipeline = clients.client("codepipeline")
    summary = one_line(outcome.summary, MAX_EXECUTION_SUMMARY) or outcome.decision
    if _report(job, function, lambda: pipeline.put_job_success_result(
            jobId=job.id, outputVariables=outcome.variables, executionDetails={"summary": summary}), outcome.decision):
        log("INFO", summary, function=function, decision=outcome.decision, job_id=job.id,
            variables=outcome.variables, **outcome.fields)


def keep_going(job: Job, function: str, outcome: InProgress) -> None:
    if not 1 <= len(outcome.token) <= MAX_CONTINUATION_TOKEN:
        raise ValueError(f"a continuation token is 1 to {MAX_CONTINUATION_TOKEN} characters, not {len(outcome.token)}")
    pipeline = clients.client("codepipeline")
    summary = one_line(outcome.summary, MAX_EXECUTION_SUMMARY) or outcome.decision
    if _report(job, function, lambda: pipeline.put_job_success_result(
            jobId=job.id, continuationToken=outcome.token, executionDetails={"summary": summary}), outcome.decision):
        log("INFO", summary, function=function, decision=outcome.decision, job_id=job.id, **outcome.fields)


def fail(job: Job, function: str, decision: str, message: str, failure_type: str = "JobFailed", **fields) -> None:
    if failure_type not in FAILURE_TYPES:
        raise ValueError(f"unknown failure type {failure_type!r}")
    text = one_line(message, MAX_FAILURE_MESSAGE) or decision
    pipeline = clients.client("codepipeline")
    if _report(job, function, lambda: pipeline.put_job_failure_result(
            jobId=job.id, failureDetails={"type": failure_type, "message": text}), decision):
        log("WARNING" if decision != "internal_error" else "ERROR", text, function=function, decision=decision,
            job_id=job.id, failure_type=failure_type, **fields)


def run(event, function: str, work: Callable[[Job], Succeeded | InProgress]) -> dict:
    """Parse the job, run `work`, report its outcome; the return value is for tests and the console."""
    try:
        job = parse(event)
    except MalformedJob as exc:
        keys = sorted(event)[:20] if isinstance(event, dict) else type(event).__name__
        log("ERROR", str(exc), function=function, decision="malformed", event_keys=keys)
        raise
    try:
        outcome = work(job)
    except Failed as failed:
        fail(job, function, failed.decision, failed.message, failed.failure_type, **failed.fields)
        return {"decision": failed.decision, "message": failed.message}
    except Exception as exc:  # noqa: BLE001 - every error is reported to the pipeline, bugs also raised
        if clients.is_aws_error(exc):
            message = f"AWS error {clients.error_code(exc)}: {one_line(exc, 1000)}"
            fail(job, function, "aws_error", message, error_code=clients.error_code(exc))
            return {"decision": "aws_error", "message": message}
        fail(job, function, "internal_error", f"internal error {type(exc).__name__}: {one_line(exc, 1000)}")
        raise
    if isinstance(outcome, InProgress):
        keep_going(job, function, outcome)
        return {"decision": outcome.decision, "continuation_token": outcome.token}
    succeed(job, function, outcome)
    return {"decision": outcome.decision, "variables": outcome.variables}


def user_parameters_json(job: Job) -> dict:
    """UserParameters as a JSON object; a ConfigurationError failure when it is not one."""
    try:
        parameters = json.loads(job.user_parameters)
    except ValueError:
        parameters = None
    if not isinstance(parameters, dict):
        raise Failed("bad_parameters", f"UserParameters is not a JSON object: {one_line(job.user_parameters, 200)!r}",
                     "ConfigurationError")
    return parameters
