"""A failed crawl of the evaluation reports reaches the operations topic.

Glue publishes no crawler metric to alarm on. It sends "Glue Crawler State Change" to EventBridge when a crawl
starts, succeeds or fails ("Automating AWS Glue with EventBridge", AWS Glue developer guide); a failed one carries
`crawlerName`, `state: Failed` and `errorMessage`. This rule sends this env's crawler's failures to the operations
topic as a sentence; the topic's policy admits this rule (infra/parts/operations_topic.py), and a publish
EventBridge could not make is alarmed through CloudWatch (FailedInvocations), whose permissions are the alarms'.
"""
from __future__ import annotations

from troposphere import Ref, Sub, Template, events

from infra.iam import rule_events
from infra.parts import delivery_failures

RULE_NAME = "${ResourcePrefix}-kpi-crawler-failed"
MESSAGE = ("KPI crawler <crawler> failed at <time>: <error>. Reports of executions since its last good crawl are not "
           "in the evaluation table until a crawl succeeds (the crawler's log: <log>)")


def event_pattern() -> dict:
    return {**rule_events.pattern_head(rule_events.GLUE_CRAWLER_STATE),
            "detail": {"crawlerName": [Ref("CrawlerName")], "state": ["Failed"]}}


def add(t: Template, topic_arn) -> None:
    t.add_resource(events.Rule(
        "CrawlerFailedRule",
        Name=Sub(RULE_NAME),
        Description="A failed crawl of this environment's evaluation reports -> the operations topic",
        EventPattern=event_pattern(),
        State="ENABLED",
        Targets=[events.Target(
            Id="OperationsTopic",
            Arn=topic_arn,
            InputTransformer=events.InputTransformer(
                InputPathsMap={"crawler": "$.detail.crawlerName", "error": "$.detail.errorMessage", "time": "$.time",
                               "log": "$.detail.cloudWatchLogLink"},
                InputTemplate=f'"{MESSAGE}"',
            ),
            RetryPolicy=events.RetryPolicy(MaximumEventAgeInSeconds=86400, MaximumRetryAttempts=185),
        )],
    ))
    t.add_resource(delivery_failures.rule_failures_alarm(
        "CrawlerFailedRuleFailuresAlarm", RULE_NAME, topic_arn,
        "EventBridge could not publish a failed KPI crawl to the operations topic",
    ))
