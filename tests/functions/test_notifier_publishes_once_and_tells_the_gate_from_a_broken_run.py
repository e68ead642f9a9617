"""The notifier against moto: one message per change however often SageMaker sends it, and a failed pipeline run
told apart (its quality gate's Fail step, or a broken run) with the run's link and reason.

moto has no ListPipelineExecutionSteps: botocore's Stubber answers it on the notifier's SageMaker client, holding
each answer to botocore's model of the API (PipelineExecutionStep: StepStatus, FailureReason, Metadata.Fail.ErrorMessage).
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from infra.config import names
from pipeline_def import interface
from tests.support import log_filter
from tests.support.cfn import load
from tests.support.notifier_support import sample_event
from tests.support.notifier_world import BUCKET, LEDGER_PREFIX, PIPELINE, World

from get_model_metadata import aws, handler, pipeline_run  # lambda_src/ is on sys.path: tests/__init__.py

RUN = sample_event("pipeline_execution_failed")["detail"]["pipelineExecutionArn"]
WHEN = dt.datetime(2026, 11, 26, 16, 5, tzinfo=dt.timezone.utc)
BELOW = "Model not registered: test AUC 0.61 is below the approval threshold 0.7"


@pytest.fixture
def world(monkeypatch):
    with mock_aws():
        aws.reset()
        yield World(monkeypatch)
        aws.reset()


def _decisions(capsys) -> list[str]:
    return [json.loads(line)["decision"] for line in capsys.readouterr().out.splitlines()]


# -- duplicates --------------------------------------------------------------------------------------
def test_a_repeated_approval_is_published_once_and_the_repeat_logged_as_a_duplicate(world, capsys):
    world.put_report()
    world.register(ModelApprovalStatus="Approved")
    first = handler.lambda_handler(sample_event("approved"))
    again = sample_event("approved")
    again["id"] = "another-delivery-of-the-same-change"  # SageMaker may send several events per change
    assert [first["decision"], handler.lambda_handler(again)["decision"], handler.lambda_handler(again)["decision"]] == [
        "published", "duplicate", "duplicate"]
    assert len(world.received()) == 1
    assert _decisions(capsys) == ["published", "duplicate", "duplicate"]


def _at(fixture: str, changed: str) -> dict:
    event = sample_event(fixture)
    event["detail"]["LastModifiedTime"] = changed  # the change's own time: every delivery of it carries the same
    return event


def test_a_version_that_returns_to_a_status_is_announced_again(world):
    world.register(ModelApprovalStatus="Approved")
    for event in (_at("approved", "1795687211000"), _at("rejected", "1795690811000"), _at("rejected", "1795690811000"),
                  _at("approved", "1795694411000")):
        handler.lambda_handler(event)
    assert [m["Subject"].rsplit(" ", 1)[1] for m in world.received()] == ["Approved", "Rejected", "Approved"]


def test_a_late_repeat_of_an_earlier_change_is_still_a_duplicate(world):
    """EventBridge does not order deliveries: the first approval's repeat may arrive after the rejection."""
    world.register(ModelApprovalStatus="Rejected")
    for event in (_at("approved", "1795687211000"), _at("rejected", "1795690811000"), _at("approved", "1795687211000"),
                  _at("rejected", "1795690811000")):
        handler.lambda_handler(event)
    assert [m["Subject"].rsplit(" ", 1)[1] for m in world.received()] == ["Approved", "Rejected"]


def test_a_failed_publish_raises_for_retry_and_releases_its_claim_so_the_retry_publishes(world, monkeypatch):
    """SNS throttling raises (Lambda retries, then the dead-letter queue keeps the event), and the retry publishes."""
    world.register(ModelApprovalStatus="Approved")
    sns = aws.client("sns")
    real_publish = sns.publish

    def throttled(**_):
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "Publish")

    monkeypatch.setattr(sns, "publish", throttled)
    with pytest.raises(ClientError):
        handler.lambda_handler(sample_event("approved"))
    monkeypatch.setattr(sns, "publish", real_publish)
    assert handler.lambda_handler(sample_event("approved"))["decision"] == "published"
    assert len(world.received()) == 1


def test_with_too_little_time_left_it_raises_before_claiming(world):
    world.register(ModelApprovalStatus="Approved")

    class Ending:
        def get_remaining_time_in_millis(self):
            return handler.CLAIM_BUDGET_MS - 1

    with pytest.raises(TimeoutError):
        handler.lambda_handler(sample_event("approved"), Ending())
    assert world.s3.list_objects_v2(Bucket=BUCKET, Prefix=LEDGER_PREFIX).get("KeyCount") == 0
    assert handler.lambda_handler(sample_event("approved"))["decision"] == "published"


# -- failed pipeline runs ----------------------------------------------------------------------------
def _step(name: str, status: str, **extra) -> dict:
    return {"StepName": name, "StepStatus": status, "StartTime": WHEN, "EndTime": WHEN, "AttemptCount": 1, **extra}


GATE_STEPS = [
    _step(interface.STEP_FAIL, "Failed", FailureReason=BELOW, Metadata={"Fail": {"ErrorMessage": BELOW}}),
    _step(interface.STEP_CONDITION, "Succeeded", Metadata={"Condition": {"Outcome": "False"}}),
    _step(interface.STEP_EVALUATE, "Succeeded"),
    _step(interface.STEP_TRAIN, "Succeeded"),
    _step(interface.STEP_PREPROCESS, "Succeeded"),
]
TRAIN_ERROR = "ClientError: Please ensure the training data is in the expected format: AlgorithmError: label missing"
BROKEN_STEPS = [
    _step(interface.STEP_TRAIN, "Failed", FailureReason=TRAIN_ERROR, Metadata={"TrainingJob": {
        "Arn": "arn:aws:sagemaker:eu-west-1:123456789012:training-job/pipelines-p4jn9xou8a8s-trainmodel-a1b2c3"}}),
    _step(interface.STEP_PREPROCESS, "Succeeded"),
]


def _stubbed(steps: list[dict] | None, failure_reason: str = "", reads: int = 1) -> Stubber:
    """The notifier's SageMaker client answering for the run `reads` times: its steps, and (no failed step) its
    description."""
    stub = Stubber(aws.client("sagemaker"))
    for _ in range(reads):
        stub.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": steps or []}, {"PipelineExecutionArn": RUN})
        if not any(step["StepStatus"] == "Failed" for step in steps or []):
            stub.add_response("describe_pipeline_execution", {
                "PipelineExecutionArn": RUN, "PipelineExecutionStatus": "Failed", "FailureReason": failure_reason},
                {"PipelineExecutionArn": RUN})
    stub.activate()
    return stub


def _broken_runs_counted(fixture_rendered, lines: list[str]) -> int:
    """What the notifications stack's metric filter adds to the pipeline-failed alarm's metric for these log lines."""
    counted = load(fixture_rendered["dev/notifications.yaml"])["Resources"]["PipelineBrokenRunsFilter"]["Properties"]
    return sum(log_filter.matches(counted["FilterPattern"], line) for line in lines)


def test_the_quality_gate_is_a_notification_with_its_reason_and_link_and_no_page(world, capsys, fixture_rendered):
    _stubbed(GATE_STEPS)
    assert handler.lambda_handler(sample_event("pipeline_execution_failed"))["decision"] == pipeline_run.BELOW_THRESHOLD
    (note,) = world.received()
    assert note["Subject"] == f"[SageMaker] {PIPELINE}: model below threshold, not registered"
    lines = note["Message"].splitlines()
    assert f"  {interface.STEP_FAIL}: {BELOW}" in lines
    assert ("Open in the console: https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1"
            f"#/pipelines/{PIPELINE}/executions/p4jn9xou8a8s") in lines
    assert f"Execution ARN:       {RUN}" in lines
    assert note["MessageAttributes"]["PipelineOutcome"]["Value"] == pipeline_run.BELOW_THRESHOLD
    assert _broken_runs_counted(fixture_rendered, capsys.readouterr().out.splitlines()) == 0


def test_a_broken_run_pages_once_with_the_failed_step_its_reason_and_link(world, capsys, fixture_rendered):
    _stubbed(BROKEN_STEPS, reads=2)
    assert handler.lambda_handler(sample_event("pipeline_execution_failed"))["decision"] == pipeline_run.BROKEN
    # SageMaker sends the same change again: read again, published and counted once
    assert handler.lambda_handler(sample_event("pipeline_execution_failed"))["decision"] == "duplicate"
    (note,) = world.received()
    assert note["Subject"] == f"[SageMaker] {PIPELINE}: run failed"
    assert f"  {interface.STEP_TRAIN}: {TRAIN_ERROR}" in note["Message"].splitlines()
    assert f"#/pipelines/{PIPELINE}/executions/p4jn9xou8a8s" in note["Message"]
    assert _broken_runs_counted(fixture_rendered, capsys.readouterr().out.splitlines()) == 1


def test_a_run_with_no_failed_step_is_broken_and_says_sagemakers_reason(world, capsys, fixture_rendered):
    _stubbed([], failure_reason="Pipeline execution role arn:aws:iam::123456789012:role/x could not be assumed")
    assert handler.lambda_handler(sample_event("pipeline_execution_failed"))["decision"] == pipeline_run.BROKEN
    (note,) = world.received()
    assert "  Pipeline execution role arn:aws:iam::123456789012:role/x could not be assumed" in note["Message"].splitlines()
    assert _broken_runs_counted(fixture_rendered, capsys.readouterr().out.splitlines()) == 1


def test_a_run_whose_steps_cannot_be_read_is_raised_for_retry(world):
    stub = Stubber(aws.client("sagemaker"))
    stub.add_client_error("list_pipeline_execution_steps", "ThrottlingException", http_status_code=400)
    stub.activate()
    with pytest.raises(ClientError):
        handler.lambda_handler(sample_event("pipeline_execution_failed"))
    assert world.received() == []


@pytest.mark.parametrize("change, reason", [
    (lambda e: e["detail"].update(currentPipelineExecutionStatus="Succeeded"), "not a failed run"),
    (lambda e: e["detail"].update(pipelineExecutionArn=RUN.replace(PIPELINE, "someone-elses")), "other pipeline"),
])
def test_runs_it_does_not_announce_are_ignored_without_calling_aws(world, change, reason):
    event = sample_event("pipeline_execution_failed")
    change(event)
    assert handler.lambda_handler(event) == {"decision": "ignored", "reason": reason}
    assert world.received() == []


def test_an_unreadable_run_event_is_malformed(world):
    event = sample_event("pipeline_execution_failed")
    event["detail"]["pipelineExecutionArn"] = "not-an-arn"
    assert handler.lambda_handler(event)["decision"] == "malformed"


@pytest.mark.every_env
def test_the_rule_hears_failed_runs_of_this_envs_pipeline_from_this_account_only(rendered, project, env):
    from tests.support import resolve
    from tests.support.events import deliver, stranger

    n = names.for_env(project, env)
    stack = resolve.alone(rendered, project, env, "notifications")
    pattern = stack.value(stack.template["Resources"]["PipelineFailedRule"]["Properties"]["EventPattern"])
    account, region = pattern["account"][0], project.env(env).region

    def run(pipeline: str, status: str) -> dict:
        event = sample_event("pipeline_execution_failed")
        arn = f"arn:aws:sagemaker:{region}:{account}:pipeline/{pipeline}"
        event["detail"].update(pipelineArn=arn, pipelineExecutionArn=f"{arn}/execution/p4jn9xou8a8s",
                               currentPipelineExecutionStatus=status)
        return event

    sent = [run(n.sagemaker_pipeline, s) for s in ("Executing", "Stopped", "Succeeded", "Failed")]
    sent.append(run("someone-elses-pipeline", "Failed"))
    delivered = deliver(pattern, region, sent)
    assert [(d["pipelineArn"].rsplit("/", 1)[1], d["currentPipelineExecutionStatus"]) for d in delivered] == [
        (n.sagemaker_pipeline, "Failed")]
    assert deliver(pattern, region, [run(n.sagemaker_pipeline, "Failed")], account=stranger(pattern)) == []


@pytest.mark.parametrize("gate", [True, False])
def test_both_run_messages_reach_chat_channels_within_sns_limits(gate):
    from get_model_metadata import pipeline_run
    from tests.functions.test_hostile_notifier import assert_within_sns_limits
    run = pipeline_run.Run("arn:aws:sagemaker:eu-west-1:123456789012:pipeline/p/execution/e1", "p", "e1", "eu-west-1",
                           "aws", "Failed")
    msg = pipeline_run.build(run, pipeline_run.Outcome(gate, ("Train: " + "\u0001\"x" * 200_000,)))
    assert_within_sns_limits(msg.publish_kwargs("arn:aws:sns:eu-west-1:123456789012:t"))
