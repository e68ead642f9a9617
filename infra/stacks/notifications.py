"""Notifications stack: model package state changes -> the notifier Lambda -> an SNS topic -> email.

EventBridge rule (this env's group, the configured statuses) -> Lambda (describes the package, reads
its quality report, publishes one readable message). Failures never vanish: the rule retries and
dead-letters into an SQS queue, the function's own async failures land in the same queue, and an
alarm on that queue's depth notifies the topic. One customer managed key encrypts topic, queue,
log group and the function's environment.

Email subscriptions are plain resources, one per address named in any env's config, each under a
condition that holds in the envs that list it: one template for every env, no transform, and each
subscription's logical ID is derived from its address, so removing one leaves the others alone.
"""
from __future__ import annotations

import awacs.kms
import awacs.sns
import awacs.sqs
from awacs.aws import (
    Allow,
    ArnEquals,
    ArnLike,
    Bool,
    Condition,
    Deny,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringNotEquals,
)
from troposphere import GetAtt, Join, Parameter, Ref, Sub, Template
from troposphere import awslambda, events, kms, logs, sns, sqs

from infra.cfn import parameters, scanner_skips
from infra.cfn.exports import export, import_value
from infra.cfn.templates_common import RETAIN_DELETION, RETAIN_REPLACEMENT, new_template
from infra.iam.policies import (VERSION, account_administers_key, deny_insecure_transport, deploy_role_administers_key,
                                key_use_through_iam)
from infra.parts import alarms, email_subscriptions, model_package_events
from infra.parts.kms_keys import customer_managed_key

HANDLER = "get_model_metadata.handler.lambda_handler"
RUNTIME = "python3.13"

# Names other resources (and the key policy) must know before the resources exist: building them
# from parameters instead of GetAtt keeps the key policy free of dependency cycles.
RULE_NAME = "${ResourcePrefix}-model-package-state"
ALARM_NAME = "${ResourcePrefix}-approval-notifier-dead-letters"
RULE_ARN = f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{RULE_NAME}"
# The notifier's log line for an event it drops (lambda_src/shared/log.py writes JSON lines).
MALFORMED_FILTER = '{ $.decision = "malformed" }'
MALFORMED_METRIC = "${ResourcePrefix}-notifier-malformed-events"
NOTIFIER_ROLE_ARN = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role${RolePath}${NotifierRoleName}"
LOG_GROUP = "/aws/lambda/${NotifierFunctionName}"
LOG_GROUP_ARN = f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{LOG_GROUP}"

# EventBridge: retry for a day (185 is its maximum attempts), then dead-letter.
# Lambda async invocations: 2 retries within 6 hours, then the on-failure destination.
FUNCTION_MAX_EVENT_AGE_SECONDS = 21600
FUNCTION_MAX_RETRIES = 2
DLQ_RETENTION_SECONDS = 1209600  # 14 days, SQS's maximum: time to notice the alarm and redrive

SERVICE_KEY_ACTIONS = [awacs.kms.Decrypt, awacs.kms.GenerateDataKey]


def _source_conditions(source_arn_sub: str) -> Condition:
    """Confused-deputy guard for service principals: this account, these resources (ARN pattern)."""
    return Condition([
        StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")}),
        ArnLike({"aws:SourceArn": Sub(source_arn_sub)}),
    ])


def key_policy() -> PolicyDocument:
    return PolicyDocument(
        Version=VERSION,
        Statement=[
            # Administration only: usage is granted to the named principals below, never to "kms:*".
            account_administers_key("AccountAdministers"),
            deploy_role_administers_key("DeployRoleAdministers", import_value("DeployRolesStackName", "NotificationsDeployRoleArn")),
            # The notifier's role is created in this stack seconds before the key: naming it as a principal
            # could fail with "principals must exist and be visible to KMS" (IAM propagates slowly, and
            # CloudFormation does not retry that). So the key delegates to IAM for that one role, by ARN.
            key_use_through_iam("NotifierUsesThroughIam", [Sub(NOTIFIER_ROLE_ARN)]),
            # Lambda encrypts the function's environment with the caller's (the deploy role's) grant.
            Statement(
                Sid="DeployRoleEncryptsFunctionEnvironment",
                Effect=Allow,
                Principal=Principal("AWS", [import_value("DeployRolesStackName", "NotificationsDeployRoleArn")]),
                Action=[awacs.kms.Encrypt, awacs.kms.Decrypt, awacs.kms.GenerateDataKey, awacs.kms.DescribeKey],
                Resource=["*"],
            ),
            Statement(
                Sid="DeployRoleGrantsToLambda",
                Effect=Allow,
                Principal=Principal("AWS", [import_value("DeployRolesStackName", "NotificationsDeployRoleArn")]),
                Action=[awacs.kms.CreateGrant],
                Resource=["*"],
                Condition=Condition(Bool({"kms:GrantIsForAWSResource": "true"})),
            ),
            # EventBridge writes dead letters into the encrypted queue.
            Statement(Sid="EventBridgeDeadLetters", Effect=Allow, Principal=Principal("Service", ["events.amazonaws.com"]),
                      Action=SERVICE_KEY_ACTIONS, Resource=["*"], Condition=_source_conditions(RULE_ARN)),
            # CloudWatch Logs encrypts the function's log group (its condition is the encryption context).
            Statement(
                Sid="LogsEncryptFunctionLogs",
                Effect=Allow,
                Principal=Principal("Service", [Sub("logs.${AWS::Region}.amazonaws.com")]),
                Action=[awacs.kms.Encrypt, awacs.kms.Decrypt, awacs.kms.ReEncryptFrom, awacs.kms.ReEncryptTo,
                        awacs.kms.GenerateDataKey, awacs.kms.DescribeKey],
                Resource=["*"],
                Condition=Condition(ArnEquals({"kms:EncryptionContext:aws:logs:arn": Sub(LOG_GROUP_ARN)})),
            ),
        ],
    )


def notifications_key(t: Template) -> kms.Key:
    return customer_managed_key(
        t, "NotificationsKey", "NotificationsAlias", "NotificationsKeyAlias",
        "Encrypts the ${ResourcePrefix} approval notifications: topic, dead letters, function environment and logs",
        key_policy(), created_by_pipeline=True,
    )


def topic(t: Template, key: kms.Key, emails_by_env: dict[str, tuple[str, ...]]) -> sns.Topic:
    Topic = t.add_resource(sns.Topic(
        "Topic",
        TopicName=Ref("TopicName"),
        DisplayName="Model approvals",
        KmsMasterKeyId=Ref(key),
    ))
    # By ARN, not as a Principal: a role made seconds earlier in this stack may not be visible to SNS
    # yet. The notifier publishes through its identity policy; this policy only keeps everyone else out.
    notifier_role = Sub(NOTIFIER_ROLE_ARN)
    t.add_resource(sns.TopicPolicy(
        "TopicPolicy",
        Topics=[Ref(Topic)],
        PolicyDocument=PolicyDocument(
            Version=VERSION,
            Statement=[
                # Only the notifier publishes here: not other identities (whatever their own policies say), not
                # services (a request from a service carries no aws:PrincipalArn, so the condition holds).
                # Alarms go to the operations topic, so they never depend on this topic's path.
                Statement(
                    Sid="OnlyTheNotifierPublishes",
                    Effect=Deny,
                    Principal=Principal("*"),
                    Action=[awacs.sns.Publish],
                    Resource=[Ref(Topic)],
                    Condition=Condition(StringNotEquals({"aws:PrincipalArn": notifier_role})),
                ),
                deny_insecure_transport(Ref(Topic), action=awacs.sns.Publish),
            ],
        ),
    ))
    email_subscriptions.add(t, Topic, emails_by_env)
    export(t, "TopicArn", Ref(Topic), "ARN of the model approval notifications topic")
    return Topic


def dead_letter_queue(t: Template, key: kms.Key) -> sqs.Queue:
    NotifierDeadLetterQueue = t.add_resource(sqs.Queue(
        "NotifierDeadLetterQueue",
        QueueName=Ref("NotifierDeadLetterQueueName"),
        KmsMasterKeyId=Ref(key),
        MessageRetentionPeriod=DLQ_RETENTION_SECONDS,
        DeletionPolicy=RETAIN_DELETION,
        UpdateReplacePolicy=RETAIN_REPLACEMENT,
    ))
    queue_arn = GetAtt(NotifierDeadLetterQueue, "Arn")
    t.add_resource(sqs.QueuePolicy(
        "NotifierDeadLetterQueuePolicy",
        Queues=[Ref(NotifierDeadLetterQueue)],
        PolicyDocument=PolicyDocument(
            Version=VERSION,
            Statement=[
                # The function's role sends its own failures through its identity policy (same account).
                Statement(Sid="RuleDeadLetters", Effect=Allow, Principal=Principal("Service", ["events.amazonaws.com"]),
                          Action=[awacs.sqs.SendMessage], Resource=[queue_arn], Condition=_source_conditions(RULE_ARN)),
                deny_insecure_transport(queue_arn, action=awacs.sqs.Action("*")),
            ],
        ),
    ))
    return NotifierDeadLetterQueue


def function(t: Template, key: kms.Key, topic_resource: sns.Topic, dlq: sqs.Queue) -> tuple[awslambda.Function, logs.LogGroup]:
    t.add_parameter(Parameter(
        "NotifierCodeKey",
        Type="String",
        Description="S3 key of the notifier's zip in the artifact bucket (a hash of its sources)",
        AllowedPattern=r"^lambda/[A-Za-z0-9_.-]+\.zip$",
    ))
    NotifierLogGroup = t.add_resource(logs.LogGroup(
        "NotifierLogGroup",
        LogGroupName=Sub(LOG_GROUP),
        RetentionInDays=Ref("LogRetentionDays"),
        KmsKeyId=GetAtt(key, "Arn"),
        DeletionPolicy=RETAIN_DELETION,
        UpdateReplacePolicy=RETAIN_REPLACEMENT,
    ))
    NotifierFunction = t.add_resource(awslambda.Function(
        "NotifierFunction",
        FunctionName=Ref("NotifierFunctionName"),
        Description="Turns SageMaker model package state changes into readable approval notifications",
        Runtime=RUNTIME,
        Architectures=["arm64"],
        Handler=HANDLER,
        Code=awslambda.Code(
            S3Bucket=import_value("PipelineStackName", "ArtifactBucketName"),
            S3Key=Ref("NotifierCodeKey"),
        ),
        Role=import_value("IamStackName", "NotifierRoleArn"),
        MemorySize=256,
        Timeout=60,
        KmsKeyArn=GetAtt(key, "Arn"),
        LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref(NotifierLogGroup)),
        Environment=awslambda.Environment(Variables={
            "MODEL_PACKAGE_GROUP_NAME": Ref("ModelPackageGroupName"),
            "NOTIFY_ON_STATUSES": Join(",", Ref("NotifyOnStatuses")),
            "TOPIC_ARN": Ref(topic_resource),
        }),
    ))
    t.add_resource(awslambda.EventInvokeConfig(
        "NotifierEventInvokeConfig",
        FunctionName=Ref(NotifierFunction),
        Qualifier="$LATEST",
        MaximumEventAgeInSeconds=FUNCTION_MAX_EVENT_AGE_SECONDS,
        MaximumRetryAttempts=FUNCTION_MAX_RETRIES,
        DestinationConfig=awslambda.DestinationConfig(
            OnFailure=awslambda.OnFailure(Destination=GetAtt(dlq, "Arn")),
        ),
    ))
    return NotifierFunction, NotifierLogGroup


def rule(t: Template, fn: awslambda.Function, dlq: sqs.Queue) -> events.Rule:
    ModelPackageStateRule = t.add_resource(events.Rule(
        "ModelPackageStateRule",
        Name=Sub(RULE_NAME),
        Description="Model package registered, approved or rejected in this environment's group",
        EventPattern=model_package_events.event_pattern(Ref("NotifyOnStatuses")),
        State="ENABLED",
        Targets=[model_package_events.lambda_target("Notifier", fn, dlq)],
    ))
    model_package_events.invoke_permission(t, "ModelPackageStateRuleInvokesNotifier", fn, ModelPackageStateRule)
    return ModelPackageStateRule


def failure_alarms(t: Template, dlq: sqs.Queue, log_group: logs.LogGroup) -> None:
    """Every way the notifier can fail ends in an alarm on the operations topic (pipeline stack), never on
    the model-approvals topic whose path these alarms watch."""
    topic = import_value("PipelineStackName", "OperationsTopicArn")
    model_package_events.dead_letter_alarm(
        t, "NotifierDeadLetterAlarm", Sub(ALARM_NAME), GetAtt(dlq, "QueueName"), topic,
        "Model package events the notifier could not handle wait in its dead-letter queue: to redrive them, see docs/notifications.md",
    )
    model_package_events.delivery_failure_alarms(t, "Notifier", "approval-notifier", Ref("NotifierFunctionName"),
                                                 Sub(RULE_NAME), topic)
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


def build(project) -> Template:
    t = new_template("Model approval notifications: SageMaker model package events to a readable email, nothing lost")

    NotificationsKey = notifications_key(t)
    Topic = topic(t, NotificationsKey, {env.name: env.emails for env in project.environments.values()})
    NotifierDeadLetterQueue = dead_letter_queue(t, NotificationsKey)
    NotifierFunction, NotifierLogGroup = function(t, NotificationsKey, Topic, NotifierDeadLetterQueue)
    rule(t, NotifierFunction, NotifierDeadLetterQueue)
    failure_alarms(t, NotifierDeadLetterQueue, NotifierLogGroup)
    scanner_skips.apply(t, "notifications")
    parameters.declare_used(t)
    return t
