"""Notifications stack: model package state changes -> the notifier Lambda -> the approvals topic -> email.

EventBridge rule (this env's group, the configured statuses) -> Lambda (describes the package, reads
its quality report, publishes one readable message). Failures never vanish: the rule retries and
dead-letters into an SQS queue, the function's own async failures land in the same queue, and an
alarm on that queue's depth notifies the operations topic.

The topic, its e-mail subscriptions, the dead-letter queue, their policies and the notifications key (topic, queue,
log group and the function's environment) live in the administrator-only messaging stack: this stack, which a push
deploys, imports them and cannot change who may publish, subscribe or read.
"""
from __future__ import annotations

from troposphere import Join, Ref, Sub, Template
from troposphere import awslambda, events, logs

from infra.config.names import Names
from infra.cfn import scanner_skips
from infra.cfn.exports import import_value
from infra.cfn.templates_common import new_template
from infra.parts import alarms, functions, model_package_events
from infra.parts.messaging_names import NOTIFIER_RULE_NAME

HANDLER = "get_model_metadata.handler.lambda_handler"

ALARM_NAME = "${ResourcePrefix}-approval-notifier-dead-letters"
# The notifier's log line for an event it drops (lambda_src/shared/log.py writes JSON lines).
MALFORMED_FILTER = '{ $.decision = "malformed" }'
MALFORMED_METRIC = "${ResourcePrefix}-notifier-malformed-events"


def _key_arn():
    return import_value("MessagingStackName", "NotificationsKeyArn")


def _dead_letter_queue_arn():
    return import_value("MessagingStackName", "NotifierDeadLetterQueueArn")


def function(t: Template) -> awslambda.Function:
    return functions.add(t, functions.Function(
        "Notifier", "NotifierFunctionName", HANDLER,
        "Turns SageMaker model package state changes into readable approval notifications",
        role_arn=import_value("IamStackName", "NotifierRoleArn"),
        code=("NotifierCodeKey", "get_model_metadata", "notifier"),
        code_bucket=import_value("PipelineStackName", "ArtifactBucketName"),
        key_arn=_key_arn(), dead_letter_queue_arn=_dead_letter_queue_arn(),
        environment={
            "MODEL_PACKAGE_GROUP_NAME": Ref("ModelPackageGroupName"),
            "NOTIFY_ON_STATUSES": Join(",", Ref("NotifyOnStatuses")),
            "TOPIC_ARN": import_value("MessagingStackName", "ApprovalsTopicArn"),
        },
        on_failure_destination=True,
    ))


def rule(t: Template, fn: awslambda.Function) -> events.Rule:
    ModelPackageStateRule = t.add_resource(events.Rule(
        "ModelPackageStateRule",
        Name=Sub(NOTIFIER_RULE_NAME),
        Description="Model package registered, approved or rejected in this environment's group",
        EventPattern=model_package_events.event_pattern(Ref("NotifyOnStatuses")),
        State="ENABLED",
        Targets=[model_package_events.lambda_target("Notifier", fn, _dead_letter_queue_arn())],
    ))
    model_package_events.invoke_permission(t, "ModelPackageStateRuleInvokesNotifier", fn, ModelPackageStateRule)
    return ModelPackageStateRule


def failure_alarms(t: Template) -> None:
    """Every way the notifier can fail ends in an alarm on the operations topic (pipeline stack), never on
    the model-approvals topic whose path these alarms watch."""
    topic = import_value("PipelineStackName", "OperationsTopicArn")
    model_package_events.dead_letter_alarm(
        t, "NotifierDeadLetterAlarm", Sub(ALARM_NAME), Ref("NotifierDeadLetterQueueName"), topic,
        "Model package events the notifier could not handle wait in its dead-letter queue: to redrive them, see docs/notifications.md",
    )
    model_package_events.delivery_failure_alarms(t, "Notifier", "approval-notifier", Ref("NotifierFunctionName"),
                                                 Sub(NOTIFIER_RULE_NAME), topic)
    # Events the notifier drops as malformed (logged, not retried: retrying cannot fix them) are counted too.
    t.add_resource(logs.MetricFilter(
        "NotifierMalformedEventsFilter",
        LogGroupName=Ref("NotifierLogGroup"),
        FilterPattern=MALFORMED_FILTER,
        MetricTransformations=[logs.MetricTransformation(
            MetricNamespace=Ref("MetricsNamespace"), MetricName=Sub(MALFORMED_METRIC), MetricValue="1", DefaultValue=0,
        )],
    ))
    t.add_resource(alarms.any_in_five_minutes(
        "NotifierMalformedEventsAlarm", Sub("${ResourcePrefix}-approval-notifier-malformed-events"),
        "The notifier dropped an event it could not read as a model package state change: see its log",
        Ref("MetricsNamespace"), Sub(MALFORMED_METRIC), topic, ok_actions=False))


def build(n: Names) -> Template:  # noqa: ARG001 - same signature as every stack
    t = new_template("Model approval notifications: SageMaker model package events to a readable email, nothing lost")

    rule(t, function(t))
    failure_alarms(t)
    scanner_skips.apply(t, "notifications")
    return t
