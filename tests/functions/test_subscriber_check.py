"""A topic nobody hears raises an alarm that needs no e-mail: the subscriber check (lambda_src/subscriber_check) against
moto, and its schedule, function and alarms as every env and variant renders them.

moto confirms every subscription at once; AWS lists one waiting for its e-mail's link with SubscriptionArn
"PendingConfirmation" (ListSubscriptionsByTopic), so `unconfirmed_email` makes moto's answer say so for e-mail."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from infra import config
from infra.output import render
from infra.stacks import kpi
from lambda_src.shared import clients
from lambda_src.subscriber_check import contract, handler
from tests.support.concrete_envs import env_renders, ids

REGION = "eu-west-1"
NAMESPACE = "MLOps/any-project"
OPERATORS = {"LessThanThreshold": lambda value, threshold: value < threshold,
             "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
             "GreaterThanThreshold": lambda value, threshold: value > threshold}


def _renders():
    project = config.load(config.CONFIG_DIR)
    return env_renders(project, render.render(project))


RENDERS = _renders()


def unconfirmed_email(sns) -> None:
    """Answer as AWS does before an address's owner follows SNS's link."""
    def rewrite(parsed, **_):
        for s in parsed.get("Subscriptions", []):
            if s["Protocol"] == "email":
                s["SubscriptionArn"] = "PendingConfirmation"
    sns.meta.events.register("after-call.sns.ListSubscriptionsByTopic", rewrite)


@pytest.fixture
def aws(monkeypatch):
    clients.reset()
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        unconfirmed_email(sns)
        monkeypatch.setattr(handler, "client", lambda service: sns if service == "sns" else clients.client(service))
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        monkeypatch.setenv("METRICS_NAMESPACE", NAMESPACE)
        yield sns, boto3.client("cloudwatch", region_name=REGION)
    clients.reset()


def _published(cloudwatch, topic: str) -> list[float]:
    now = datetime.now(timezone.utc)
    stats = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE, MetricName=contract.METRIC, Dimensions=[{"Name": contract.DIMENSION, "Value": topic}],
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=5), Period=3600, Statistics=["Minimum"])
    return [p["Minimum"] for p in stats["Datapoints"]]


def _alarm() -> dict:
    """An unheard-topic alarm as config/'s first env renders it (every env's have this shape: the last test)."""
    return next(a["Properties"] for a in RENDERS[0].template("kpi")["Resources"].values()
                if a["Type"] == "AWS::CloudWatch::Alarm" and a["Properties"]["MetricName"] == contract.METRIC)


def test_a_topic_whose_only_subscription_waits_for_confirmation_counts_zero_and_raises_its_alarm(aws, monkeypatch):
    sns, cloudwatch = aws
    unheard = sns.create_topic(Name="unheard")["TopicArn"]
    heard = sns.create_topic(Name="heard")["TopicArn"]
    sns.subscribe(TopicArn=unheard, Protocol="email", Endpoint="nobody-clicked@example.com")
    sns.subscribe(TopicArn=heard, Protocol="email", Endpoint="waits@example.com")
    sns.subscribe(TopicArn=heard, Protocol="https", Endpoint="https://chat.example.com/hook")
    monkeypatch.setenv("TOPIC_ARNS", f"{unheard},{heard}")
    assert handler.lambda_handler({}, None) == {"unheard": 0, "heard": 1}
    for topic, fires in (("unheard", True), ("heard", False)):
        (value,) = _published(cloudwatch, topic)
        alarm = _alarm()
        assert OPERATORS[alarm["ComparisonOperator"]](value, alarm["Threshold"]) is fires, topic


def test_a_topic_with_no_subscription_at_all_counts_zero(aws, monkeypatch):
    sns, cloudwatch = aws
    monkeypatch.setenv("TOPIC_ARNS", sns.create_topic(Name="empty")["TopicArn"])
    assert handler.lambda_handler({}, None) == {"empty": 0}
    assert _published(cloudwatch, "empty") == [0.0]


def test_a_topic_it_cannot_read_fails_the_run_so_the_alarm_sees_no_count(aws, monkeypatch):
    monkeypatch.setenv("TOPIC_ARNS", f"arn:aws:sns:{REGION}:123456789012:missing")
    with pytest.raises(Exception, match="NotFound|does not exist"):
        handler.lambda_handler({}, None)
    assert _published(aws[1], "missing") == []




@pytest.mark.parametrize("env", RENDERS, ids=ids(RENDERS))
def test_each_topic_of_every_env_has_an_alarm_when_nobody_hears_it(env):
    """Every env and variant: the schedule runs the function, which counts both of the env's topics into the namespace
    its alarms read; one alarm per topic, named as `make status` reads them, fires below one and when no count
    arrives, tells the other topic (nobody would hear it on its own) and is on the dashboard."""
    n = env.names
    resources = env.template("kpi")["Resources"]
    function = resources["SubscriberCheckFunction"]["Properties"]
    variables = function["Environment"]["Variables"]
    assert variables["TOPIC_ARNS"] == {"Fn::Join": [",", [{"Fn::ImportValue": f"{n.stack('messaging')}-ApprovalsTopicArn"},
                                                          {"Fn::ImportValue": f"{n.stack('pipeline')}-OperationsTopicArn"}]]}
    (schedule,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Scheduler::Schedule"]
    assert schedule["Target"]["Arn"] == {"Fn::GetAtt": ["SubscriberCheckFunction", "Arn"]}
    assert schedule["ScheduleExpression"] == kpi.SUBSCRIBER_CHECK_SCHEDULE and schedule["State"] == "ENABLED"
    alarms = {a["Properties"]["Dimensions"][0]["Value"]: (rid, a["Properties"]) for rid, a in resources.items()
              if a["Type"] == "AWS::CloudWatch::Alarm" and a["Properties"]["MetricName"] == contract.METRIC}
    assert set(alarms) == {n.topic, n.operations_topic}
    other_topic = {n.topic: {"Fn::ImportValue": f"{n.stack('pipeline')}-OperationsTopicArn"},
                   n.operations_topic: {"Fn::ImportValue": f"{n.stack('messaging')}-ApprovalsTopicArn"}}
    dashboard = str(resources["KpiDashboard"]["Properties"]["DashboardBody"])
    for topic, (logical_id, alarm) in alarms.items():
        assert alarm["AlarmName"] in n.unheard_alarms and alarm["Namespace"] == variables["METRICS_NAMESPACE"]
        assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["TreatMissingData"]) == ("LessThanThreshold", 1, "breaching")
        assert alarm["AlarmActions"] == [other_topic[topic]] == alarm["OKActions"]
        assert f"alarm:${{{logical_id}}}" in dashboard or f"alarm:{alarm['AlarmName']}" in dashboard
