"""Messaging stack: who may publish to, subscribe to and read the env's approvals topic and dead-letter queues.

Administrator-only, like the IAM stacks: `make deploy` creates and changes it, before the pipeline stack, and the
pipeline never deploys it. It holds what has a resource policy and is used by a stack a push deploys: the
model-approvals topic (its policy and e-mail subscriptions), the notifier's, the KPI functions' and the deployment
functions' dead-letter queues (their policies), and the notifications key that encrypts the topic, the notifier's
queue and the deployment queue (its policy). The notifications, KPI and deployment stacks import their ARNs, and
their deploy roles hold no SNS, SQS or key-policy write: a push cannot let anyone else publish, subscribe or read.
(The operations topic and the artifact bucket and key stay in the pipeline stack, whose deploy role may not write
their policies either.)
"""
from __future__ import annotations

import awacs.kms
import awacs.sns
import awacs.sqs
from awacs.aws import (Allow, ArnEquals, ArnNotEquals, Bool, Condition, Deny, PolicyDocument, Principal, Statement,
                       StringEquals, StringNotEquals)
from troposphere import GetAtt, Ref, Sub, Template, events, kms, sns, sqs

from infra.config.names import Names
from infra.cfn import scanner_skips
from infra.cfn.exports import export, import_value
from infra.cfn.templates_common import new_template
from infra.iam.policies import VERSION, account_administers_key, deny_insecure_transport, key_use_through_iam
from infra.iam.runtime.functions import promotion_bus_arn
from infra.parts import functions, model_package_events, promotion_bus, subscribers
from infra.parts.kms_keys import customer_managed_key
from infra.parts.messaging_names import (NOTIFIER_LOG_GROUP_ARN, NOTIFIER_ROLE_ARN, NOTIFIER_RULE_ARNS, NOTIFIER_RULE_NAMES,
                                         OPERATIONS_UNHEARD_ALARM_ARN, role_arn, rule_arn, source_conditions)

SERVICE_KEY_ACTIONS = [awacs.kms.Decrypt, awacs.kms.GenerateDataKey]


def _notifications_deploy_role():
    return import_value("DeployRolesStackName", "NotificationsDeployRoleArn")


def key_policy(serves_models: bool, dead_letter_readers: tuple[str, ...] = ()) -> PolicyDocument:
    """Administered by the account alone (no deploy role: no push changes this key); used by the roles and
    services named here (the deployment functions' roles only where the env serves models)."""
    # Config's dead_letter_readers decrypt what SQS hands them, to redrive: through SQS only, and only these queues'
    # messages (SQS's encryption context names the queue), never the topic's.
    queues = ["NotifierDeadLetterQueueName", *(["DeploymentDeadLetterQueueName"] if serves_models else [])]
    readers = [Statement(
        Sid="DeadLetterReadersDecryptThroughSqs",
        Effect=Allow,
        Principal=Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]),
        Action=[awacs.kms.Decrypt],
        Resource=["*"],
        Condition=Condition([ArnEquals({"aws:PrincipalArn": Ref("DeadLetterReaders"),
                                        "kms:EncryptionContext:aws:sqs:arn": [
                                            Sub(f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:${{{q}}}")
                                            for q in queues]}),
                             StringEquals({"kms:ViaService": Sub("sqs.${AWS::Region}.amazonaws.com")})]),
    )] if dead_letter_readers else []
    # The deployment functions' dead letters (Lambda sends them with each function's role).
    deployment_functions = [key_use_through_iam(
        "DeploymentFunctionsUseThroughIam",
        [Sub(role_arn("ResolveFunctionRoleName")), Sub(role_arn("SmokeTestFunctionRoleName"))])] if serves_models else []
    return PolicyDocument(
        Version=VERSION,
        Statement=[
            account_administers_key("AccountAdministers"),
            # By ARN in a condition, not as a principal: the key does not depend on when IAM shows the role to KMS.
            key_use_through_iam("NotifierUsesThroughIam", [Sub(NOTIFIER_ROLE_ARN)]),
            # Lambda encrypts the notifier's environment with a grant made by its caller, the notifications deploy role.
            Statement(
                Sid="DeployRoleEncryptsFunctionEnvironment",
                Effect=Allow,
                Principal=Principal("AWS", [_notifications_deploy_role()]),
                Action=[awacs.kms.Encrypt, awacs.kms.Decrypt, awacs.kms.GenerateDataKey, awacs.kms.DescribeKey],
                Resource=["*"],
            ),
            Statement(
                Sid="DeployRoleGrantsToLambda",
                Effect=Allow,
                Principal=Principal("AWS", [_notifications_deploy_role()]),
                Action=[awacs.kms.CreateGrant],
                Resource=["*"],
                Condition=Condition(Bool({"kms:GrantIsForAWSResource": "true"})),
            ),
            # CloudWatch encrypts what the operations-unheard alarm publishes to the approvals topic.
            Statement(Sid="OperationsUnheardAlarmEncrypts", Effect=Allow,
                      Principal=Principal("Service", ["cloudwatch.amazonaws.com"]), Action=SERVICE_KEY_ACTIONS,
                      Resource=["*"], Condition=source_conditions(OPERATIONS_UNHEARD_ALARM_ARN)),
            # EventBridge writes the notifier rules' dead letters into the encrypted queue.
            Statement(Sid="EventBridgeDeadLetters", Effect=Allow, Principal=Principal("Service", ["events.amazonaws.com"]),
                      Action=SERVICE_KEY_ACTIONS, Resource=["*"], Condition=source_conditions(*NOTIFIER_RULE_ARNS)),
            # CloudWatch Logs encrypts the notifier's log group (its condition is the encryption context).
            Statement(
                Sid="LogsEncryptFunctionLogs",
                Effect=Allow,
                Principal=Principal("Service", [Sub("logs.${AWS::Region}.amazonaws.com")]),
                Action=[awacs.kms.Encrypt, awacs.kms.Decrypt, awacs.kms.ReEncryptFrom, awacs.kms.ReEncryptTo,
                        awacs.kms.GenerateDataKey, awacs.kms.DescribeKey],
                Resource=["*"],
                Condition=Condition(ArnEquals({"kms:EncryptionContext:aws:logs:arn": Sub(NOTIFIER_LOG_GROUP_ARN)})),
            ),
            *deployment_functions,
            *readers,
        ],
    )


def approvals_topic(t: Template, key: kms.Key, emails: tuple[str, ...]) -> sns.Topic:
    ApprovalsTopic = t.add_resource(sns.Topic(
        "ApprovalsTopic",
        TopicName=Ref("TopicName"),
        DisplayName="Model approvals",
        KmsMasterKeyId=Ref(key),
    ))
    t.add_resource(sns.TopicPolicy(
        "ApprovalsTopicPolicy",
        Topics=[Ref(ApprovalsTopic)],
        PolicyDocument=PolicyDocument(
            Version=VERSION,
            Statement=[
                # Alarms go to the operations topic, so they never depend on this topic's path; all but the one that
                # says nobody hears the operations topic, which must reach people some other way.
                Statement(Sid="OperationsUnheardAlarmPublishes", Effect=Allow,
                          Principal=Principal("Service", ["cloudwatch.amazonaws.com"]), Action=[awacs.sns.Publish],
                          Resource=[Ref(ApprovalsTopic)], Condition=source_conditions(OPERATIONS_UNHEARD_ALARM_ARN)),
                # Only the notifier and that alarm publish here: not other identities (whatever their own policies
                # say), not other services (a request from a service carries no aws:PrincipalArn, and no
                # identity's request carries aws:SourceArn, so both conditions hold for them).
                Statement(
                    Sid="OnlyTheNotifierPublishes",
                    Effect=Deny,
                    Principal=Principal("*"),
                    Action=[awacs.sns.Publish],
                    Resource=[Ref(ApprovalsTopic)],
                    Condition=Condition([StringNotEquals({"aws:PrincipalArn": Sub(NOTIFIER_ROLE_ARN)}),
                                         ArnNotEquals({"aws:SourceArn": Sub(OPERATIONS_UNHEARD_ALARM_ARN)})]),
                ),
                deny_insecure_transport(Ref(ApprovalsTopic), action=awacs.sns.Publish),
            ],
        ),
    ))
    subscribers.add(t, [Ref(ApprovalsTopic)], {"email": emails})
    export(t, "ApprovalsTopicArn", Ref(ApprovalsTopic), "ARN of the model approval notifications topic")
    return ApprovalsTopic


def _rule_dead_letters(queue: sqs.Queue, *rule_name_subs: str) -> Statement:
    """Only this env's rules, in this account, may send their undeliverable events in; the functions send theirs
    through their roles (same account)."""
    return Statement(Sid="RuleDeadLetters", Effect=Allow, Principal=Principal("Service", ["events.amazonaws.com"]),
                     Action=[awacs.sqs.SendMessage], Resource=[GetAtt(queue, "Arn")],
                     Condition=Condition([StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")}),
                                          ArnEquals({"aws:SourceArn": [Sub(rule_arn(name)) for name in rule_name_subs]})]))


def _queue_policy(t: Template, logical_id: str, queue: sqs.Queue, statements: list) -> None:
    """The queue's policy: what `statements` allow, over TLS only."""
    t.add_resource(sqs.QueuePolicy(
        logical_id,
        Queues=[Ref(queue)],
        PolicyDocument=PolicyDocument(Version=VERSION, Statement=[
            *statements, deny_insecure_transport(GetAtt(queue, "Arn"), action=awacs.sqs.Action("*"))]),
    ))


def dead_letter_queues(t: Template, key: kms.Key, serves_models: bool) -> None:
    # The notifier's: model package events (encrypted with the notifications key, as the topic they were for).
    notifier = functions.dead_letter_queue(t, "NotifierDeadLetterQueue", "NotifierDeadLetterQueueName", GetAtt(key, "Arn"))
    _queue_policy(t, "NotifierDeadLetterQueuePolicy", notifier, [_rule_dead_letters(notifier, *NOTIFIER_RULE_NAMES)])
    export(t, "NotifierDeadLetterQueueArn", GetAtt(notifier, "Arn"), "ARN of the notifier's dead-letter queue")
    # The KPI functions': SSE-SQS (EventBridge cannot deliver to a queue encrypted with an AWS managed key, and they
    # hold only SageMaker event envelopes).
    for prefix, rule_param in (("Metrics", "MetricsRuleName"), ("Partitions", "PartitionsRuleName")):
        queue = functions.dead_letter_queue(t, f"{prefix}DeadLetterQueue", f"{prefix}DeadLetterQueueName")
        _queue_policy(t, f"{prefix}DeadLetterQueuePolicy", queue, [_rule_dead_letters(queue, f"${{{rule_param}}}")])
        export(t, f"{prefix}DeadLetterQueueArn", GetAtt(queue, "Arn"), f"ARN of the {prefix.lower()} function's dead-letter queue")
    # The deployment functions': a CodePipeline job event carries temporary credentials for the run's artifacts, so
    # only roles the key's policy lets use it can read what lands here. No service sends in. Only where the env serves
    # models: turning serving on is an administrator's `make deploy`, as for the serving roles.
    if not serves_models:
        return
    deployment = functions.dead_letter_queue(t, "DeploymentDeadLetterQueue", "DeploymentDeadLetterQueueName",
                                             GetAtt(key, "Arn"))
    _queue_policy(t, "DeploymentDeadLetterQueuePolicy", deployment, [])
    export(t, "DeploymentDeadLetterQueueArn", GetAtt(deployment, "Arn"), "ARN of the deployment functions' dead-letter queue")


PROMOTED_STATUSES = ["Approved", "Rejected"]  # the serving env's deployment hears decisions, never registrations


def promotion(t: Template, taker: Names) -> None:
    """A source env's part of the promotion (docs/promotion.md): one dead-letter queue (SSE-SQS: it holds SageMaker event
    envelopes only) for the archive pin's events and for the decisions the rule could not put on the serving env's bus
    (that bus not there yet: the operator redrives them), and the rule forwarding this group's decisions there with the
    promotion role, whose one permission is events:PutEvents on that bus. Here because the target is another account's:
    a push-deployed stack's deploy role may target only the env's own functions and pipeline."""
    queue = functions.dead_letter_queue(t, "ArchivePinDeadLetterQueue", "ArchivePinDeadLetterQueueName")
    _queue_policy(t, "ArchivePinDeadLetterQueuePolicy", queue,
                  [_rule_dead_letters(queue, "${ArchivePinRuleName}", "${PromotionRuleName}")])
    export(t, "ArchivePinDeadLetterQueueArn", GetAtt(queue, "Arn"), "ARN of the archive pin's and the promotion rule's "
                                                                     "dead-letter queue")
    t.add_resource(events.Rule(
        "PromotionRule",
        Name=Ref("PromotionRuleName"),
        Description="This environment's approvals and rejections -> the serving environment's promotion bus",
        EventPattern=model_package_events.event_pattern(PROMOTED_STATUSES),
        State="ENABLED",
        Targets=[model_package_events.target("ServingBus", promotion_bus_arn(taker), GetAtt(queue, "Arn"),
                                             RoleArn=import_value("IamStackName", "PromotionRoleArn"))],
    ))


def build(n: Names) -> Template:
    t = new_template("Messaging of the SageMaker MLOps project: the approvals topic, the dead-letter queues, their "
                     "policies and key; changed only by an administrator")
    NotificationsKey = customer_managed_key(
        t, "NotificationsKey", "NotificationsAlias", "NotificationsKeyAlias",
        "Encrypts the ${ResourcePrefix} approval notifications and dead letters: approvals topic, the notifier's and "
        "the deployment functions' dead-letter queues, the notifier's environment and logs",
        key_policy(n.env.deployment is not None, n.env.dead_letter_readers),
    )
    export(t, "NotificationsKeyArn", GetAtt(NotificationsKey, "Arn"), "ARN of the notifications key")
    approvals_topic(t, NotificationsKey, n.env.emails)
    dead_letter_queues(t, NotificationsKey, n.env.deployment is not None)
    if n.models_source:  # its source env's approval decisions arrive on this env's promotion bus
        promotion_bus.add(t)
    if n.models_taker:  # this env's decisions go to the env serving its versions
        promotion(t, n.models_taker)
    scanner_skips.apply(t, "messaging")
    return t
