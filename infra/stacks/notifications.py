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

In an env whose approved versions another account serves (docs/promotion.md), the archive pin too: approvals of this
env's group -> the pin function, which tags each approved version's archive; and the alarms of the messaging stack's
rule forwarding decisions to the serving env (it deploys before the operations topic exists).
"""
from __future__ import annotations

from troposphere import Join, Ref, Sub, Template
from troposphere import awslambda, events, logs

from infra.config.names import Names
from infra.cfn import scanner_skips
from infra.cfn.exports import import_value
from infra.cfn.mappings import add_image_registries
from infra.cfn.templates_common import new_template
from infra.iam import rule_events
from infra.iam.policies import MODEL_ARCHIVES
from infra.iam.runtime.jobs import serving_images
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


# The pin function's log line for an event it ignores (lambda_src/archive_pin/handler.py), counted.
PIN_IGNORED_FILTER = '{ $.decision = "ignored" }'
PIN_IGNORED_METRIC = "${ResourcePrefix}-archive-pin-ignored-events"


def archive_pin(t: Template) -> None:
    """The pin function, its rule (approvals of this env's group) and alarms; the promotion rule's alarms."""
    topic = import_value("PipelineStackName", "OperationsTopicArn")
    queue = import_value("MessagingStackName", "ArchivePinDeadLetterQueueArn")
    bucket = import_value("PipelineStackName", "ArtifactBucketName")
    fn = functions.add(t, functions.Function(
        "ArchivePin", "ArchivePinFunctionName", "archive_pin.handler.lambda_handler",
        "Pins each approved version's model archive for the environment serving it from another account",
        role_arn=import_value("IamStackName", "ArchivePinFunctionRoleArn"),
        code=("ArchivePinCodeKey", "archive_pin", "archive pin"), code_bucket=bucket,
        key_arn=import_value("PipelineStackName", "ArtifactKeyArn"), dead_letter_queue_arn=queue,
        environment={"MODEL_PACKAGE_GROUP": Ref("ModelPackageGroupName"), "ARCHIVE_BUCKET": bucket,
                     "ARCHIVE_PREFIX": Sub(MODEL_ARCHIVES), "SERVING_IMAGES": serving_images()},
        memory=128))
    ArchivePinRule = t.add_resource(events.Rule(
        "ArchivePinRule",
        Name=Ref("ArchivePinRuleName"),
        Description="Approvals of this environment's group -> the archive pin",
        EventPattern=model_package_events.event_pattern(["Approved"]),
        State="ENABLED",
        Targets=[model_package_events.lambda_target("ArchivePin", fn, queue)],
    ))
    model_package_events.invoke_permission(t, "ArchivePinRuleInvokesFunction", fn, ArchivePinRule)
    model_package_events.dead_letter_alarm(
        t, "ArchivePinDeadLetterAlarm", Sub("${ResourcePrefix}-archive-pin-dead-letters"),
        Ref("ArchivePinDeadLetterQueueName"), topic,
        "An approval was not pinned or not forwarded to the serving env: the serving env will not deploy that version "
        "until it is (docs/promotion.md)")
    model_package_events.delivery_failure_alarms(t, "ArchivePin", "archive-pin", Ref("ArchivePinFunctionName"),
                                                 Ref("ArchivePinRuleName"), topic, "DeadLetterErrors")
    model_package_events.rule_dead_letter_failures_alarm(
        t, "PromotionRuleDeadLetterFailuresAlarm", Sub("${ResourcePrefix}-promotion-rule-dlq-failures"),
        Ref("PromotionRuleName"), topic)
    t.add_resource(alarms.any_in_five_minutes(
        "PromotionRuleFailedInvocationsAlarm", Sub("${ResourcePrefix}-promotion-rule-failed-invocations"),
        "A decision could not be put on the serving env's promotion bus (retried, then dead-lettered)",
        "AWS/Events", "FailedInvocations", topic, ("RuleName", Ref("PromotionRuleName"))))
    t.add_resource(logs.MetricFilter(
        "ArchivePinIgnoredFilter", LogGroupName=Ref("ArchivePinLogGroup"), FilterPattern=PIN_IGNORED_FILTER,
        MetricTransformations=[logs.MetricTransformation(
            MetricNamespace=Ref("MetricsNamespace"), MetricName=Sub(PIN_IGNORED_METRIC), MetricValue="1", DefaultValue=0)]))


def build(n: Names) -> Template:
    t = new_template("Model approval notifications: SageMaker model package events to a readable email, nothing lost")

    fn = function(t)
    rule(t, fn)
    pipeline_failed_rule(t, fn)
    failure_alarms(t)
    if n.models_taker:
        archive_pin(t)
        add_image_registries(t, n.env.region)  # SERVING_IMAGES names AWS's registry of the region
    scanner_skips.apply(t, "notifications")
    return t
