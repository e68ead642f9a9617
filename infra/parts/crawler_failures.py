"""A crawl of the evaluation reports that fails, or that its schedule could not start, reaches the operations topic.

Glue publishes no crawler metric to alarm on. It sends "Glue Crawler State Change" to EventBridge when a crawl
starts, succeeds or fails (a failed one carries `crawlerName`, `state: Failed`, `errorMessage`), and "Glue Scheduled
Crawler Invocation Failure" when a scheduled crawl does not start (`crawlerName`, `errorMessage`) ("Automating AWS
Glue with EventBridge", AWS Glue developer guide). One rule per event (a rule's deploy-role grant names one detail
type: infra/iam/rule_events.py) sends this env's crawler's failures to the operations topic as a sentence; the
topic's policy admits these rules (infra/parts/operations_topic.py), and a publish EventBridge could not make is
alarmed through CloudWatch (FailedInvocations), whose permissions are the alarms'.
"""
from __future__ import annotations

from troposphere import Ref, Sub, Template, events

from infra.iam import rule_events
from infra.parts import delivery_failures

_MISSING = "Reports of executions since the last good crawl are not in the evaluation table until a crawl succeeds"
# rule logical id: (rule name, event, detail filter beside the crawler's name, the event's fields, message)
FAILURES = {
    "CrawlerFailedRule": (
        "${ResourcePrefix}-kpi-crawler-failed", rule_events.GLUE_CRAWLER_STATE, {"state": ["Failed"]},
        {"log": "$.detail.cloudWatchLogLink"},
        f"KPI crawler <crawler> failed at <time>: <error>. {_MISSING} (the crawler's log: <log>)"),
    "CrawlerNotStartedRule": (
        "${ResourcePrefix}-kpi-crawler-not-started", rule_events.GLUE_SCHEDULED_CRAWLER_FAILURE, {}, {},
        f"KPI crawler <crawler>: its scheduled crawl did not start at <time>: <error>. {_MISSING}"),
}
RULE_NAMES = [name for name, _, _, _, _ in FAILURES.values()]


def add(t: Template, topic_arn) -> None:
    for logical_id, (rule_name, event, detail, fields, message) in FAILURES.items():
        t.add_resource(events.Rule(
            logical_id,
            Name=Sub(rule_name),
            Description=f"{event[1]} of this environment's KPI crawler ({'failed' if detail else 'did not start'}) -> the operations topic",
            EventPattern={**rule_events.pattern_head(event), "detail": {"crawlerName": [Ref("CrawlerName")], **detail}},
            State="ENABLED",
            Targets=[events.Target(
                Id="OperationsTopic",
                Arn=topic_arn,
                InputTransformer=events.InputTransformer(
                    InputPathsMap={"crawler": "$.detail.crawlerName", "error": "$.detail.errorMessage", "time": "$.time",
                                   **fields},
                    InputTemplate=f'"{message}"',
                ),
                RetryPolicy=events.RetryPolicy(MaximumEventAgeInSeconds=86400, MaximumRetryAttempts=185),
            )],
        ))
        t.add_resource(delivery_failures.rule_failures_alarm(
            f"{logical_id}FailuresAlarm", rule_name, topic_arn,
            "EventBridge could not publish a failed KPI crawl to the operations topic",
        ))
