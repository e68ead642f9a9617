"""The notifier Lambda against moto: what it publishes, what it ignores, what it raises."""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.support.notifier_support import for_group, sample_event

from get_model_metadata import aws, handler, message  # lambda_src/ is on sys.path: tests/__init__.py
from tests.support.notifier_world import BUCKET, EXECUTION, GROUP, REPORT_KEY, World, configure


@pytest.fixture
def configured(monkeypatch):
    """Only the function's environment: for events that must be decided without calling AWS."""
    monkeypatch.setenv("MODEL_PACKAGE_GROUP_NAME", GROUP)
    monkeypatch.setenv("NOTIFY_ON_STATUSES", "Approved,Rejected")
    monkeypatch.setenv("TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:churn-dev-model-approvals")
    configure(monkeypatch)
    aws.reset()
    yield
    aws.reset()


@pytest.fixture
def world(monkeypatch):
    with mock_aws():
        aws.reset()
        yield World(monkeypatch)
        aws.reset()


def test_an_approval_publishes_one_readable_message_with_metrics_and_attributes(world, capsys):
    world.put_report()
    world.register(ModelApprovalStatus="Approved", ApprovalDescription="AUC above threshold; approved for staging.")
    result = handler.lambda_handler(sample_event("approved"))
    assert result["decision"] == "published"

    (note,) = world.received()
    assert note["Subject"] == f"[SageMaker] {GROUP} v1 Approved"
    body = note["Message"]
    for line in (
        f"Model package {GROUP} version 1 is now Approved.",
        "Status:        Approved",
        "Comment:       AUC above threshold; approved for staging.",
        "Changed by:    fake-user-profile-name / arn:aws:sagemaker:eu-west-1:123456789012:user-profile/fake-domain-id/fake-user-profile-name",
        "  Binary classification:",
        "    accuracy  0.88",
        "    auc       0.91",
        f"  Report: s3://{BUCKET}/{REPORT_KEY}",
        "  Container image:     141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        f"  Produced by:         {EXECUTION}",
        "  Event time:     2026-11-26 10:00:14 UTC",
        f"Open in the console: https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1#/model-registry/{GROUP}/versions/1",
    ):
        assert line in body.splitlines(), line
    assert "{" not in body  # metrics are formatted, not dumped
    attributes = {k: v["Value"] for k, v in note["MessageAttributes"].items()}
    assert attributes == {"ModelApprovalStatus": "Approved", "ModelPackageGroupName": GROUP, "ModelPackageVersion": "1"}
    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [entry["decision"] for entry in logs] == ["published"]


def test_an_event_without_optional_fields_still_makes_a_complete_message(world):
    world.register(with_report=False, ModelApprovalStatus="Approved")
    handler.lambda_handler(sample_event("approved_without_optional_fields"))
    (note,) = world.received()
    lines = note["Message"].splitlines()
    assert "Comment:       (none given)" in lines
    assert "  No quality report is attached to this model version." in lines


def test_an_event_for_a_package_describe_cannot_find_is_still_announced_from_the_event(world):
    # No package registered in moto: DescribeModelPackage fails permanently; the event carries enough.
    result = handler.lambda_handler(sample_event("approved_without_optional_fields"))
    assert result["decision"] == "published"
    (note,) = world.received()
    assert "Changed by:    not recorded" in note["Message"].splitlines()


def test_a_huge_description_keeps_the_message_under_the_sns_limit(world):
    world.register(ModelApprovalStatus="Approved")
    event = sample_event("approved")
    event["detail"]["ApprovalDescription"] = "x" * 300_000
    event["detail"]["InferenceSpecification"]["Containers"] *= 400
    msg = message.build(handler.parse(event), dict(event["detail"]), None)
    assert len(msg.body.encode()) + len(json.dumps(msg.attributes)) < message.SNS_MAX_BYTES
    assert "characters omitted" in msg.body
    handler.lambda_handler(event)
    (note,) = world.received()
    assert len(note["Message"].encode()) < message.SNS_MAX_BYTES


def test_a_huge_report_is_cut_with_a_marker_and_stays_under_the_limit(world):
    world.put_report({f"section_{i}_metrics": {f"metric_{j}": {"value": j} for j in range(150)} for i in range(120)})
    world.register(ModelApprovalStatus="Approved")
    handler.lambda_handler(sample_event("approved"))
    (note,) = world.received()
    assert len(note["Message"].encode()) <= message.BODY_MAX_BYTES
    assert "message truncated" in note["Message"]


def test_truncation_cuts_at_a_character_boundary():
    text = "é" * 300_000
    cut = message.truncate(text)
    assert len(cut.encode()) <= message.BODY_MAX_BYTES
    assert "message truncated" in cut


def test_a_report_missing_in_s3_is_noted_and_the_message_still_sent(world, capsys):
    world.register(ModelApprovalStatus="Approved")  # report URI set, object never written
    result = handler.lambda_handler(sample_event("approved"))
    assert result["decision"] == "published"
    (note,) = world.received()
    assert "  Quality report unavailable: not found in S3." in note["Message"].splitlines()
    decisions = [json.loads(line)["decision"] for line in capsys.readouterr().out.splitlines()]
    assert decisions == ["report_unavailable", "published"]


def test_a_sagemaker_5xx_raises(world, monkeypatch):
    sagemaker = aws.client("sagemaker")

    def unavailable(**_):
        raise ClientError({"Error": {"Code": "InternalFailure", "Message": "oops"},
                           "ResponseMetadata": {"HTTPStatusCode": 500}}, "DescribeModelPackage")

    monkeypatch.setattr(sagemaker, "describe_model_package", unavailable)
    with pytest.raises(ClientError):
        handler.lambda_handler(sample_event("approved"))
    assert world.received() == []


@pytest.mark.parametrize("fixture, reason", [
    ("approved_in_other_group", "other model package group"),
    ("registered_pending_approval", "status not notified"),
])
def test_ignorable_events_publish_nothing(configured, capsys, fixture, reason):
    result = handler.lambda_handler(sample_event(fixture))
    assert result == {"decision": "ignored", "reason": reason}
    assert aws._clients == {}  # no AWS call at all, so nothing can be published
    (entry,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (entry["decision"], entry["reason"]) == ("ignored", reason)


@pytest.mark.parametrize("event", [sample_event("malformed_missing_arn"), {"detail": "nope"}, [], None,
                                   {**sample_event("approved"), "detail-type": "Something Else"}])
def test_a_malformed_event_is_logged_as_an_error_and_not_retried(configured, capsys, event):
    result = handler.lambda_handler(event)
    assert result["decision"] == "malformed"
    assert aws._clients == {}
    (entry,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert entry["level"] == "ERROR" and entry["decision"] == "malformed"


def test_a_rejection_names_who_rejected_and_why(world):
    world.register(ModelApprovalStatus="Rejected", ApprovalDescription="Recall too low.")
    handler.lambda_handler(sample_event("rejected"))
    (note,) = world.received()
    assert note["Subject"].endswith(" v1 Rejected")
    assert "Comment:       Recall too low." in note["Message"].splitlines()


def test_a_newer_status_than_the_event_is_pointed_out_and_its_author_not_taken_for_this_changes(world):
    world.register(ModelApprovalStatus="Rejected", ApprovalDescription="the later rejection's reason")
    event = sample_event("approved")
    event["detail"]["ApprovalDescription"] = "this approval's reason"
    handler.lambda_handler(event)
    (note,) = world.received()
    lines = note["Message"].splitlines()
    assert "               (its status has since changed to Rejected)" in lines
    assert "Changed by:    not known: a later change replaced it" in lines
    assert "Comment:       this approval's reason" in lines and "the later rejection's reason" not in note["Message"]


def test_a_late_event_of_a_status_set_again_names_neither_the_later_author_nor_comment(world):
    world.register(ModelApprovalStatus="Approved", ApprovalDescription="the second approval's reason")
    event = sample_event("approved")
    event["detail"]["LastModifiedTime"] = "1600000000000"  # the first approval, long before describe's latest change
    event["detail"].pop("ApprovalDescription", None)
    handler.lambda_handler(event)
    (note,) = world.received()
    assert "Changed by:    not known: a later change replaced it" in note["Message"].splitlines()
    assert "the second approval's reason" not in note["Message"]


def test_subject_stays_under_100_ascii_characters_for_the_longest_group():
    event = handler.parse(for_group(sample_event("registered_pending_approval"), "g" * 63, version=123456))
    subject = message.subject(event)
    assert len(subject) < 100 and subject.isascii()


def test_console_links_follow_the_partition():
    china = handler.parse(for_group(sample_event("approved"), GROUP))
    china = type(china)(**{**china.__dict__, "arn": china.arn.replace("arn:aws:", "arn:aws-cn:"), "region": "cn-north-1"})
    assert message.console_url(china).startswith("https://console.amazonaws.cn/sagemaker/home?region=cn-north-1#")


def test_a_missing_environment_variable_raises_rather_than_dropping_events(monkeypatch):
    monkeypatch.delenv("TOPIC_ARN", raising=False)
    with pytest.raises(KeyError):
        handler.lambda_handler(sample_event("approved"))


def test_the_developer_guides_sample_event_verbatim_produces_one_notification(world, monkeypatch):
    """The SageMaker developer guide's "model package state change" sample, byte for byte (its `source`
    key appears twice, the second time as a list): the rule matched it, so the notifier must handle it."""
    event = sample_event("developer_guide_sample")
    assert event["source"] == ["aws.sagemaker"]  # json keeps the last of the duplicate keys, as Lambda's parser does
    monkeypatch.setenv("MODEL_PACKAGE_GROUP_NAME", event["detail"]["ModelPackageGroupName"])
    result = handler.lambda_handler(event)
    assert result["decision"] == "published"
    (received,) = world.received()
    assert "versionedmp-p-idy6c3e1fiqj" in received["Message"] and "Rejected" in received["Subject"]
