"""A failed run of this env's SageMaker pipeline, told apart: the quality gate's Fail step (a model below the
threshold: people are told, nobody is paged) or a broken run (the paging alarm counts the log line's decision).

The event ("SageMaker Model Building Pipeline Execution Status Change", SageMaker developer guide) names the
execution, not why it failed. ListPipelineExecutionSteps does: each step's StepStatus and FailureReason, and for a
Fail step Metadata.Fail.ErrorMessage (the message the pipeline wrote). A run that failed with no failed step (an
invalid definition, a role SageMaker cannot assume) says why in DescribePipelineExecution's FailureReason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from .event import MalformedEvent
from .message import CONSOLE_HOSTS, Message, truncate, utf8

DETAIL_TYPE = "SageMaker Model Building Pipeline Execution Status Change"
# Decisions the handler logs; the notifications stack counts BROKEN into the metric the paging alarm watches.
BELOW_THRESHOLD = "below_threshold"
BROKEN = "pipeline_broken"
MAX_STEPS_PAGES = 20  # 100 steps a page: far more than any pipeline of ours has
REASON_MAX_CHARS = 1_024  # PipelineExecutionStep.FailureReason's own maximum
_EXECUTION_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]+):[0-9]{12}:pipeline/(?P<pipeline>[^/]+)"
    r"/execution/(?P<id>[A-Za-z0-9]{1,64})$")


@dataclass(frozen=True)
class Run:
    arn: str
    pipeline: str
    execution_id: str
    region: str
    partition: str
    status: str


@dataclass(frozen=True)
class Outcome:
    gate: bool  # the only failed steps are Fail steps: the pipeline stopped itself on purpose
    reasons: tuple[str, ...]  # "<step>: <why>", or the execution's own FailureReason


def parse(event: dict) -> Run:
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise MalformedEvent("detail must be an object")
    arn = detail.get("pipelineExecutionArn")
    match = _EXECUTION_ARN.match(arn) if isinstance(arn, str) else None
    if not match:
        raise MalformedEvent(f"detail.pipelineExecutionArn is not a pipeline execution ARN: {str(arn)[:200]!r}")
    return Run(arn, match["pipeline"], match["id"], match["region"], match["partition"],
               str(detail.get("currentPipelineExecutionStatus") or ""))


def _clip(text: object) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= REASON_MAX_CHARS else text[:REASON_MAX_CHARS] + " [...]"


def outcome(sagemaker, run: Run) -> Outcome:
    """Read the run's steps (and, when no step failed, the execution's FailureReason)."""
    failed, token = [], None
    for _ in range(MAX_STEPS_PAGES):
        page = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=run.arn, **({"NextToken": token} if token else {}))
        failed += [step for step in page.get("PipelineExecutionSteps", []) if step.get("StepStatus") == "Failed"]
        token = page.get("NextToken")
        if not token:
            break
    if not failed:
        reason = sagemaker.describe_pipeline_execution(PipelineExecutionArn=run.arn).get("FailureReason")
        return Outcome(False, (_clip(reason or "SageMaker recorded no failed step and no failure reason"),))
    gate = all("Fail" in (step.get("Metadata") or {}) for step in failed)
    reasons = tuple(
        f"{step.get('StepName', '?')}: "
        + _clip((step.get("Metadata") or {}).get("Fail", {}).get("ErrorMessage") or step.get("FailureReason") or "no reason recorded")
        for step in failed)
    return Outcome(gate, reasons)


def console_url(run: Run) -> str:
    host = CONSOLE_HOSTS.get(run.partition, CONSOLE_HOSTS["aws"])
    if run.partition == "aws":
        host = f"{run.region}.{host}"
    return (f"https://{host}/sagemaker/home?region={quote(run.region)}"
            f"#/pipelines/{quote(run.pipeline, safe='')}/executions/{quote(run.execution_id, safe='')}")


def build(run: Run, result: Outcome) -> Message:
    if result.gate:
        subject = f"[SageMaker] {run.pipeline}: model below threshold, not registered"
        lead = ("The pipeline's quality gate stopped this run on purpose: the model it trained did not reach the "
                "approval threshold, so no version was registered. Nothing is broken; nobody was paged.")
    else:
        subject = f"[SageMaker] {run.pipeline}: run failed"
        lead = ("This run broke before its quality gate decided (a step failed, or SageMaker could not run the "
                "pipeline): the operations topic's pipeline-failed alarm pages on it.")
    lines = [lead, "", f"Pipeline:   {run.pipeline}", f"Execution:  {run.execution_id}", "", "Why:"]
    lines += [f"  {reason}" for reason in result.reasons]
    lines += ["", f"Open in the console: {console_url(run)}", f"Execution ARN:       {run.arn}",
              f"Steps: aws sagemaker list-pipeline-execution-steps --region {run.region} --pipeline-execution-arn {run.arn}"]
    attributes = {"PipelineOutcome": {"DataType": "String", "StringValue": BELOW_THRESHOLD if result.gate else BROKEN}}
    subject = "".join(c if 32 <= ord(c) < 127 else "?" for c in subject)[:99]
    return Message(subject, truncate(utf8("\n".join(lines) + "\n")), attributes)
