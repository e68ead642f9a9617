"""A source env's archive pin against moto: on an approval it tags the one object version of the approved version's
archive, so the env serving it from another account (which may not write here) finds it pinned; it raises on an
archive it cannot vouch for, ignores a version no longer approved, and takes a repeated event calmly."""
from __future__ import annotations

import pytest

from tests.functions.test_deploy_resolve import _archive_key, _tags
from tests.support.pipeline_job_support import logged
from tests.support.registry_world import BUCKET, OTHER_GROUP, world  # noqa: F401 - world is a fixture

from archive_pin import handler  # lambda_src/ is on sys.path: tests/__init__.py
from shared import archives


def _approval(arn: str) -> dict:
    """As SageMaker sends it ("Events that Amazon SageMaker sends to Amazon EventBridge"); the handler reads the ARN."""
    return {"source": "aws.sagemaker", "detail-type": "SageMaker Model Package State Change",
            "detail": {"ModelPackageArn": arn, "ModelApprovalStatus": "Approved", "ModelPackageStatus": "Completed"}}


def test_an_approved_versions_archive_gets_the_tag(world, capsys):
    arn = world.register("Approved")
    assert handler.lambda_handler(_approval(arn), None)["decision"] == "pinned"
    assert _tags(world, _archive_key(world, arn)) == [[{"Key": archives.ARCHIVE_TAG, "Value": arn}]]
    assert logged(capsys)[-1]["decision"] == "pinned"


def test_a_repeated_event_puts_the_same_tag_without_error(world):
    arn = world.register("Approved")
    for _ in range(2):
        handler.lambda_handler(_approval(arn), None)
    assert _tags(world, _archive_key(world, arn)) == [[{"Key": archives.ARCHIVE_TAG, "Value": arn}]]


def test_a_rewritten_archive_raises_with_the_version_and_the_reason(world, capsys):
    arn = world.register("Approved")
    key = _archive_key(world, arn)
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=b"not what was approved")
    with pytest.raises(RuntimeError, match=r"version 1 .* not pinned .*written more than once"):
        handler.lambda_handler(_approval(arn), None)
    assert all(tags == [] for tags in _tags(world, key)), "nothing may be pinned"
    assert logged(capsys)[-1]["decision"] == "archive_rewritten"


@pytest.mark.parametrize("status", ["Rejected", "PendingManualApproval"])
def test_a_version_no_longer_approved_is_logged_and_ignored(world, capsys, status):
    arn = world.register(status)  # the event said Approved; the registry says otherwise now
    assert handler.lambda_handler(_approval(arn), None)["decision"] == "ignored"
    assert _tags(world, _archive_key(world, arn)) == [[]]
    line = logged(capsys)[-1]  # the line the notifications stack's metric filter counts
    assert (line["decision"], line["status"], line["model_package_arn"]) == ("ignored", status, arn)


def test_another_groups_version_is_ignored(world):
    arn = world.register("Approved", group=OTHER_GROUP)
    assert handler.lambda_handler(_approval(arn), None)["decision"] == "ignored"
    assert _tags(world, _archive_key(world, arn)) == [[]]
