"""The "SageMaker Model Package State Change" rule → Lambda wiring both the notifier and the metrics function use.

One EventPattern shape, one retry policy and one invoke permission, so the two consumers of the same
event cannot drift apart in what they match or how patiently they retry.
"""
from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, Template, awslambda, cloudwatch, events

from infra.iam import rule_events
from infra.parts import alarms

SOURCE, DETAIL_TYPE = rule_events.MODEL_PACKAGE_STATE

# EventBridge retries a failed delivery for a day (185 attempts is its maximum), then dead-letters.
RULE_MAX_EVENT_AGE_SECONDS = 86400
RULE_MAX_RETRIES = 185


# SageMaker also reports a package InProgress (and Failed, Deleting): only a finished one is a registration or decision.
PACKAGE_COMPLETED = "Completed"


def event_pattern(statuses) -> dict:
    """This env's group, the given approval statuses (a list or a Ref to a CommaDelimitedList), finished packages
    only; keys sorted."""
    detail = {"ModelApprovalStatus": statuses, "ModelPackageGroupName": [Ref("ModelPackageGroupName")],
              "ModelPackageStatus": [PACKAGE_COMPLETED]}
    return {"detail": detail, **rule_events.pattern_head(rule_events.MODEL_PACKAGE_STATE)}


def lambda_target(target_id: str, function: awslambda.Function, dead_letter_queue_arn) -> events.Target:
    """Deliver to `function`; what still fails after a day of retries lands in the queue `dead_letter_queue_arn`
    (the messaging stack's, imported)."""
    return target(target_id, GetAtt(function, "Arn"), dead_letter_queue_arn)


def target(target_id: str, arn, dead_letter_queue_arn, **extra) -> events.Target:
    """Deliver to `arn` (with `extra`: a RoleArn), a day of retries, then the queue `dead_letter_queue_arn`."""
    return events.Target(
        Id=target_id,
        Arn=arn,
        RetryPolicy=events.RetryPolicy(MaximumEventAgeInSeconds=RULE_MAX_EVENT_AGE_SECONDS, MaximumRetryAttempts=RULE_MAX_RETRIES),
        DeadLetterConfig=events.DeadLetterConfig(Arn=dead_letter_queue_arn),
        **extra,
    )


def invoke_permission(template: Template, logical_id: str, function: awslambda.Function, rule: events.Rule) -> awslambda.Permission:
    """Only this rule, in this account, may invoke the function."""
    return template.add_resource(awslambda.Permission(
        logical_id,
        Action="lambda:InvokeFunction",
        FunctionName=GetAtt(function, "Arn"),
        Principal="events.amazonaws.com",
        SourceAccount=Ref("AWS::AccountId"),
        SourceArn=GetAtt(rule, "Arn"),
    ))


def _any_in_five_minutes(template: Template, logical_id: str, alarm_name, description: str, namespace: str, metric: str,
                         dimension: str, value, topic_arn, statistic: str = "Sum") -> cloudwatch.Alarm:
    return template.add_resource(alarms.any_in_five_minutes(
        logical_id, alarm_name, description, namespace, metric, topic_arn, (dimension, value), statistic))


def delivery_failure_alarms(template: Template, id_prefix: str, name_stub: str, function_name, rule_name, topic_arn,
                            function_metric: str = "DestinationDeliveryFailures") -> list:
    """The two ways an event can vanish on the way to a dead-letter queue, each watched: Lambda could not
    send a failed invocation to the function's dead-letter target (DestinationDeliveryFailures for an
    on-failure destination, DeadLetterErrors for a DeadLetterConfig), and EventBridge could not put an
    undeliverable event into the rule's dead-letter queue."""
    return [
        _any_in_five_minutes(
            template, f"{id_prefix}DeadLetterTargetFailuresAlarm", Sub(f"${{ResourcePrefix}}-{name_stub}-dlq-target-failures"),
            "A failed invocation could not be sent to the function's dead-letter queue: that event is lost",
            "AWS/Lambda", function_metric, "FunctionName", function_name, topic_arn),
        rule_dead_letter_failures_alarm(template, f"{id_prefix}RuleDeadLetterFailuresAlarm",
                                        Sub(f"${{ResourcePrefix}}-{name_stub}-rule-dlq-failures"), rule_name, topic_arn),
    ]


def rule_dead_letter_failures_alarm(template: Template, logical_id: str, alarm_name, rule_name, topic_arn) -> cloudwatch.Alarm:
    return _any_in_five_minutes(
        template, logical_id, alarm_name,
        "EventBridge could not put an undeliverable event into the rule's dead-letter queue: that event is lost",
        "AWS/Events", "InvocationsFailedToBeSentToDlq", "RuleName", rule_name, topic_arn)


def dead_letter_alarm(template: Template, logical_id: str, alarm_name, queue_name, topic_arn, description: str) -> cloudwatch.Alarm:
    """Alarm (and all-clear) on the topic as soon as any event waits in a consumer's dead-letter queue."""
    return template.add_resource(alarms.any_in_five_minutes(
        logical_id, alarm_name, description, "AWS/SQS", "ApproximateNumberOfMessagesVisible", topic_arn,
        ("QueueName", queue_name), statistic="Maximum"))

