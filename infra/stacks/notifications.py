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

from infra.cfn import parameters, scanner_skips
from infra.cfn.exports import import_value
from infra.cfn.templates_common import RETAIN_DELETION, RETAIN_REPLACEMENT, new_template
from infra.parts import alarms, functions, model_package_events
from infra.parts.messaging_names import NOTIFIER_LOG_GROUP, NOTIFIER_RULE_NAME

HANDLER = "get_model_metadata.handler.lambda_handler"

ALARM_NAME = "${ResourcePrefix}-approval-notifier-dead-letters"
# The notifier's log line for an event it drops (lambda_src/shared/log.py writes JSON lines).
MALFORMED_FILTER = '{ $.decision = "malformed" }'
MALFORMED_METRIC = "${ResourcePrefix}-notifier-malformed-events"

# EventBridge: retry for a day (185 is its maximum attempts), then dead-letter.
# Lambda async invocations: 2 retries within 6 hours, then the on-failure destination.
FUNCTION_MAX_EVENT_AGE_SECONDS = 21600
FUNCTION_MAX_RETRIES = 2


def _key_arn():
    return import_value("MessagingStackName", "NotificationsKeyArn")


def _dead_letter_queue_arn():
    return import_value("MessagingStackName", "NotifierDeadLetterQueueArn")


def function(t: Template) -> tuple[awslambda.Function, logs.LogGroup]:
    functions.code_key_parameter(t, "NotifierCodeKey", "get_model_metadata", "notifier")
    NotifierLogGroup = t.add_resource(logs.LogGroup(
        "NotifierLogGroup",
        LogGroupName=Sub(NOTIFIER_LOG_GROUP),
        RetentionInDays=Ref("LogRetentionDays"),
        KmsKeyId=_key_arn(),
        DeletionPolicy=RETAIN_DELETION,
        UpdateReplacePolicy=RETAIN_REPLACEMENT,
    ))
    NotifierFunction = t.add_resource(awslambda.Function(
        "NotifierFunction",
        FunctionName=Ref("NotifierFunctionName"),
        Description="Turns SageMaker model package state changes into readable approval notifications",
        Runtime=functions.RUNTIME,
        Architectures=["arm64"],
        Handler=HANDLER,
        Code=awslambda.Code(
            S3Bucket=import_value("PipelineStackName", "ArtifactBucketName"),
            S3Key=Ref("NotifierCodeKey"),
        ),
        Role=import_value("IamStackName", "NotifierRoleArn"),
        MemorySize=256,
        Timeout=60,
        KmsKeyArn=_key_arn(),
        LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref(NotifierLogGroup)),
        Environment=awslambda.Environment(Variables={
            "MODEL_PACKAGE_GROUP_NAME": Ref("ModelPackageGroupName"),
            "NOTIFY_ON_STATUSES": Join(",", Ref("NotifyOnStatuses")),
            "TOPIC_ARN": import_value("MessagingStackName", "ApprovalsTopicArn"),
        }),
    ))
    t.add_resource(awslambda.EventInvokeConfig(
        "NotifierEventInvokeConfig",
        FunctionName=Ref(NotifierFunction),
        Qualifier="$LATEST",
        MaximumEventAgeInSeconds=FUNCTION_MAX_EVENT_AGE_SECONDS,
        MaximumRetryAttempts=FUNCTION_MAX_RETRIES,
        DestinationConfig=awslambda.DestinationConfig(
            OnFailure=awslambda.OnFailure(Destination=_dead_letter_queue_arn()),
        ),
    ))
    return NotifierFunction, NotifierLogGroup


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


def failure_alarms(t: Template, log_group: logs.LogGroup) -> None:
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
        LogGroupName=Ref(log_group),
        FilterPattern=MALFORMED_FILTER,
        MetricTransformations=[logs.MetricTransformation(
            MetricNamespace=Ref("MetricsNamespace"), MetricName=Sub(MALFORMED_METRIC), MetricValue="1", DefaultValue=0,
        )],
    ))
    t.add_resource(alarms.any_in_five_minutes(
        "NotifierMalformedEventsAlarm", Sub("${ResourcePrefix}-approval-notifier-malformed-events"),
        "The notifier dropped an event it could not read as a model package state change: see its log",
        Ref("MetricsNamespace"), Sub(MALFORMED_METRIC), topic, ok_actions=False))


def build(project) -> Template:  # noqa: ARG001 - same signature as every stack
    t = new_template("Model approval notifications: SageMaker model package events to a readable email, nothing lost")

    NotifierFunction, NotifierLogGroup = function(t)
    rule(t, NotifierFunction)
    failure_alarms(t, NotifierLogGroup)
    scanner_skips.apply(t, "notifications")
    parameters.declare_used(t)
    return t
