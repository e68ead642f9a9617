"""Notifications stack: model package state changes and failed SageMaker pipeline runs -> the notifier Lambda ->
the approvals topic -> email.

EventBridge rules (this env's group, the configured statuses; this env's pipeline, failed runs) -> Lambda
(describes the package and reads its quality report, or reads the run's steps; publishes one readable message
per change). A run its quality gate stopped is a notification; a broken run is also counted, from the
notifier's log, into the metric the KPI stack's pipeline-failed alarm pages on. Failures never vanish: the
rules retry and dead-letter into an SQS queue, the function's own async failures land in the same queue, and
an alarm on that queue's depth notifies the operations topic.

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
from infra.iam import rule_events
from infra.parts import alarms, functions, model_package_events
from infra.parts.messaging_names import NOTIFIER_PIPELINE_RULE_NAME, NOTIFIER_RULE_NAME, PIPELINE_BROKEN_METRIC

HANDLER = "get_model_metadata.handler.lambda_handler"

ALARM_NAME = "${ResourcePrefix}-approval-notifier-dead-letters"
# The notifier's log line for an event it drops (lambda_src/shared/log.py writes JSON lines).
MALFORMED_FILTER = '{ $.decision = "malformed" }'
MALFORMED_METRIC = "${ResourcePrefix}-notifier-malformed-events"
# The notifier's log line for a broken run (lambda_src/get_model_metadata/pipeline_run.py: BROKEN).
BROKEN_RUN_FILTER = '{ $.decision = "pipeline_broken" }'
# Reading a run's steps and publishing may outlast Lambda's default; the claim budget (45 s) must fit inside.
TIMEOUT_SECONDS = 120


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
            "PIPELINE_NAME": Ref("SageMakerPipelineName"),
            # What was published is marked beside the metrics function's counts (shared/ledger.py).
            "LEDGER_BUCKET": import_value("PipelineStackName", "ArtifactBucketName"),
            "LEDGER_PREFIX": Ref("RegistryLedgerPrefix"),
        },
        on_failure_destination=True, timeout=TIMEOUT_SECONDS,
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


def pipeline_failed_rule(t: Template, fn: awslambda.Function) -> events.Rule:
    """Failed runs of this env's SageMaker pipeline: the notifier tells its quality gate from a broken run."""
    PipelineFailedRule = t.add_resource(events.Rule(
        "PipelineFailedRule",
        Name=Sub(NOTIFIER_PIPELINE_RULE_NAME),
        Description="A failed run of this environment's SageMaker pipeline",
        EventPattern={
            **rule_events.pattern_head(rule_events.PIPELINE_EXECUTION_STATUS),
            "detail": {
                "currentPipelineExecutionStatus": ["Failed"],
                "pipelineArn": [Sub("arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:pipeline/${SageMakerPipelineName}")],
            },
        },
        State="ENABLED",
        Targets=[model_package_events.lambda_target("Notifier", fn, _dead_letter_queue_arn())],
    ))
    model_package_events.invoke_permission(t, "PipelineFailedRuleInvokesNotifier", fn, PipelineFailedRule)
    return PipelineFailedRule


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
    model_package_events.rule_dead_letter_failures_alarm(
        t, "PipelineFailedRuleDeadLetterFailuresAlarm", Sub("${ResourcePrefix}-pipeline-failed-rule-dlq-failures"),
        Sub(NOTIFIER_PIPELINE_RULE_NAME), topic)
    # Events the notifier drops as malformed (logged, not retried: retrying cannot fix them) are counted too; and
    # broken runs (not the quality gate's stops), once each: the metric the pipeline-failed alarm (KPI stack) pages on.
    for logical_id, pattern, metric in (("NotifierMalformedEventsFilter", MALFORMED_FILTER, MALFORMED_METRIC),
                                        ("PipelineBrokenRunsFilter", BROKEN_RUN_FILTER, PIPELINE_BROKEN_METRIC)):
        t.add_resource(logs.MetricFilter(
            logical_id,
            LogGroupName=Ref("NotifierLogGroup"),
            FilterPattern=pattern,
            MetricTransformations=[logs.MetricTransformation(
                MetricNamespace=Ref("MetricsNamespace"), MetricName=Sub(metric), MetricValue="1", DefaultValue=0,
            )],
        ))
    t.add_resource(alarms.any_in_five_minutes(
        "NotifierMalformedEventsAlarm", Sub("${ResourcePrefix}-approval-notifier-malformed-events"),
        "The notifier dropped an event it could not read as a model package state change: see its log",
        Ref("MetricsNamespace"), Sub(MALFORMED_METRIC), topic, ok_actions=False))


def build(n: Names) -> Template:  # noqa: ARG001 - same signature as every stack
    t = new_template("Model approval notifications: SageMaker model package events to a readable email, nothing lost")

    fn = function(t)
    rule(t, fn)
    pipeline_failed_rule(t, fn)
    failure_alarms(t)
    scanner_skips.apply(t, "notifications")
    return t
