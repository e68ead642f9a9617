"""What an EventBridge rule with a rendered pattern delivers, on moto's EventBridge: the rule gets an SQS queue
standing in for its target, the events are put on the default bus, and the queue says which arrived.

moto stamps each event with the caller's account (MOTO_ACCOUNT_ID): the events come from the account the pattern
pins (every rule pins its env's), or from `account` to show what a stranger's events do."""
from __future__ import annotations

import json
import os
from unittest import mock

import boto3
from moto import mock_aws


def stranger(pattern: dict) -> str:
    """An account the pattern does not pin."""
    return next(a for a in ("999999999999", "000000000000") if [a] != pattern.get("account"))


def deliver(pattern: dict, region: str, events: list[dict], account: str | None = None) -> list[dict]:
    """The `detail` of each of `events` ({"source", "detail-type", "detail"}) the pattern lets through, put by
    `account` (default: the one the pattern pins)."""
    sender = account or pattern.get("account", ["123456789012"])[0]
    with mock.patch.dict(os.environ, {"MOTO_ACCOUNT_ID": sender}), mock_aws():
        sqs = boto3.client("sqs", region_name=region)
        queue = sqs.create_queue(QueueName="probe")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus = boto3.client("events", region_name=region)
        bus.put_rule(Name="probe", EventPattern=json.dumps(pattern))
        bus.put_targets(Rule="probe", Targets=[{"Id": "q", "Arn": queue_arn}])
        for start in range(0, len(events), 10):  # PutEvents takes 10 entries at a time
            bus.put_events(Entries=[{"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"])}
                                    for e in events[start:start + 10]])
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"])["detail"] for m in messages]
