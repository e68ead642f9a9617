"""A failed delivery-pipeline run reaches the operations topic.

CodePipeline publishes no failure metric to alarm on, so an EventBridge rule sends each failed execution of
this env's pipeline to the operations topic, with the execution id and a link. The topic is encrypted with the
artifact key, so EventBridge needs the topic's and the key's permission; if either is ever refused, the
rule's FailedInvocations alarm reaches the topic through CloudWatch, whose permissions are the alarms'.
"""
from __future__ import annotations

import awacs.kms
import awacs.sns
from awacs.aws import Allow, ArnEquals, Condition, Principal, Statement, StringEquals
from troposphere import Ref, Sub, Template
from troposphere import cloudwatch, events

from infra.iam import rule_events
from infra.parts import alarms

RULE_NAME = "${ResourcePrefix}-delivery-pipeline-failed"
RULE_ARN = f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{RULE_NAME}"
EVENTS = "events.amazonaws.com"
KEY_STATEMENT_SID = "FailedDeliveryRunsPublishToOperationsTopic"


def rule_arn(rule_name: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{rule_name}")


def topic_statement(topic, other_rules: list[str] = ()) -> Statement:
    """The operations topic's policy: EventBridge publishes for this rule and `other_rules` (names), of this account."""
    return Statement(
        Sid="FailedDeliveryRunsPublish",
        Effect=Allow,
        Principal=Principal("Service", [EVENTS]),
        Action=[awacs.sns.Publish],
        Resource=[Ref(topic)],
        Condition=Condition([StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")}),
                             ArnEquals({"aws:SourceArn": [rule_arn(name) for name in (RULE_NAME, *other_rules)]})]),
    )


def key_statement() -> Statement:
    """The artifact key's policy: EventBridge encrypts what it publishes to the (encrypted) operations topic.

    Unconditioned, as SNS documents it: the KMS request of an EventBridge-to-encrypted-topic publish carries no
    aws:SourceArn / aws:SourceAccount (SNS says those are not supported there), and no documented key would hold
    it. What EventBridge may publish is held by the topic policy (this rule only); the key gives it no data."""
    return Statement(
        Sid=KEY_STATEMENT_SID,
        Effect=Allow,
        Principal=Principal("Service", [EVENTS]),
        Action=[awacs.kms.Decrypt, awacs.kms.GenerateDataKey],
        Resource=["*"],
    )


def add(t: Template, topic) -> None:
    """The rule (each failed run of this env's pipeline -> the topic) and the alarm on its failed deliveries."""
    message = (
        "Delivery pipeline <pipeline> ended FAILED at <time> (a stage failed, or a release approval was rejected): "
        "https://<region>.console.aws.amazon.com/codesuite/codepipeline/pipelines/<pipeline>/executions/<execution>"
        "/timeline?region=<region>"
    )
    t.add_resource(events.Rule(
        "DeliveryFailedRule",
        Name=Sub(RULE_NAME),
        Description="Tell the operations topic when a run of the delivery pipeline fails",
        EventPattern={
            **rule_events.pattern_head(rule_events.DELIVERY_EXECUTION_STATE),
            "detail": {"pipeline": [Ref("CodePipelineName")], "state": ["FAILED"]},
        },
        State="ENABLED",
        Targets=[events.Target(
            Id="OperationsTopic",
            Arn=Ref(topic),
            InputTransformer=events.InputTransformer(
                InputPathsMap={"pipeline": "$.detail.pipeline", "execution": "$.detail.execution-id",
                               "time": "$.time", "region": "$.region"},
                InputTemplate=f'"{message}"',
            ),
            RetryPolicy=events.RetryPolicy(MaximumEventAgeInSeconds=86400, MaximumRetryAttempts=185),
        )],
    ))
    t.add_resource(rule_failures_alarm(
        "DeliveryFailedRuleFailuresAlarm", RULE_NAME, Ref(topic),
        "EventBridge could not publish a failed delivery-pipeline run to the operations topic",
    ))


def rule_failures_alarm(logical_id: str, rule_name: str, topic_arn, description: str, bus: str | None = None,
                        **kwargs) -> cloudwatch.Alarm:
    """An alarm on the times a rule could not reach its target (for rules whose target has no dead-letter queue). A
    rule on a custom bus (`bus`, its name) reports with EventBusName and RuleName ("Monitoring Amazon EventBridge")."""
    if bus:
        kwargs["Dimensions"] = [cloudwatch.MetricDimension(Name="EventBusName", Value=Sub(bus)),
                                cloudwatch.MetricDimension(Name="RuleName", Value=Sub(rule_name))]
    return alarms.any_in_five_minutes(logical_id, Sub(f"{rule_name}-failures"), description, "AWS/Events",
                                      "FailedInvocations", topic_arn, None if bus else ("RuleName", Sub(rule_name)),
                                      **kwargs)
