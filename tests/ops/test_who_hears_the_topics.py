"""`make status` and `make deploy` say who hears the env's two topics: every subscription waiting for confirmation,
one line each, and (status) the subscriber check's alarms. Against moto, whose SNS confirms every subscription at
once: `unconfirmed_email` makes it answer as AWS does before an address's owner follows SNS's link."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from infra.config import names as names_mod
from infra.ops import deploy, status, subscriptions
from tests.functions.test_subscriber_check import unconfirmed_email


@pytest.fixture
def n(project):
    return names_mod.for_env(project, next(iter(project.environments)))


class Session:
    """What deploy.pending_subscriptions asks of a boto3 session, in moto."""

    def __init__(self, clients: dict):
        self.clients = clients

    def client(self, service: str):
        return self.clients[service]


@pytest.fixture
def aws(n):
    with mock_aws():
        clients = {s: boto3.client(s, region_name=n.env.region) for s in ("sns", "cloudwatch", "sts")}
        unconfirmed_email(clients["sns"])
        yield clients


def _topics(aws, n) -> tuple[str, str]:
    return aws["sns"].create_topic(Name=n.topic)["TopicArn"], aws["sns"].create_topic(Name=n.operations_topic)["TopicArn"]


def test_deploy_names_each_subscription_waiting_for_confirmation_in_one_line(aws, n):
    approvals, operations = _topics(aws, n)
    aws["sns"].subscribe(TopicArn=approvals, Protocol="email", Endpoint="first@example.com")
    aws["sns"].subscribe(TopicArn=operations, Protocol="email", Endpoint="second@example.com")
    aws["sns"].subscribe(TopicArn=operations, Protocol="https", Endpoint="https://chat.example.com/hook")  # confirmed
    assert deploy.pending_subscriptions(Session(aws), n) == [
        f"{n.topic}: email first@example.com waits for confirmation (the link in SNS's e-mail to it)",
        f"{n.operations_topic}: email second@example.com waits for confirmation (the link in SNS's e-mail to it)",
    ]


def test_deploy_says_nothing_when_every_subscription_is_confirmed(aws, n):
    approvals, operations = _topics(aws, n)
    for topic in (approvals, operations):
        aws["sns"].subscribe(TopicArn=topic, Protocol="https", Endpoint="https://chat.example.com/hook")
    assert deploy.pending_subscriptions(Session(aws), n) == []


def test_deploy_reports_a_listing_it_cannot_make_in_one_line_and_goes_on(aws, n):
    lines = deploy.pending_subscriptions(Session(aws), n)  # no topics: SNS answers NotFound
    assert len(lines) == 1 and lines[0].startswith("could not list the topics' subscriptions: An error occurred (NotFound)")


def test_status_counts_who_hears_each_topic_and_shows_the_alarms_on_a_topic_nobody_hears(aws, n):
    approvals, operations = _topics(aws, n)
    aws["sns"].subscribe(TopicArn=approvals, Protocol="email", Endpoint="first@example.com")
    aws["sns"].subscribe(TopicArn=operations, Protocol="email", Endpoint="second@example.com")
    aws["sns"].subscribe(TopicArn=operations, Protocol="https", Endpoint="https://chat.example.com/hook")
    unheard, _ = n.unheard_alarms
    aws["cloudwatch"].put_metric_alarm(AlarmName=unheard, MetricName="ConfirmedSubscribers", Namespace="x", Period=3600,
                                       EvaluationPeriods=1, Threshold=1, ComparisonOperator="LessThanThreshold",
                                       Statistic="Minimum")
    aws["cloudwatch"].set_alarm_state(AlarmName=unheard, StateValue="ALARM", StateReason="no confirmed subscriber")
    r = status.Report()
    r.section("Who hears the topics", lambda: status.who_hears(aws["sns"], aws["cloudwatch"], aws["sts"], n))
    text = "\n".join(r.lines)
    assert f"{n.topic:<48} 0 confirmed, 1 waiting for confirmation  (nobody hears this topic" in text
    assert f"{n.operations_topic:<48} 1 confirmed, 1 waiting for confirmation\n" in text
    assert f"{n.topic}: email first@example.com waits for confirmation" in text
    assert f"alarm {unheard:<42} ALARM" in text and f"alarm {n.unheard_alarms[1]:<42} not deployed yet" in text
    assert r.unreadable == []


def test_the_topic_arns_are_the_env_s_topics_in_its_partition_and_account(n):
    arns = subscriptions.topic_arns(n, "123456789012")
    assert set(arns) == {n.topic, n.operations_topic}
    assert all(a.startswith(f"arn:aws:sns:{n.env.region}:123456789012:") and a.endswith(name) for name, a in arns.items())
