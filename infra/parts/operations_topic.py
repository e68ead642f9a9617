"""The operations topic: alarms of every stack of the env and releases waiting for approval, encrypted with the
artifact key, its policy (who may publish) and its subscribers.

Apart from the model-approvals topic and its key, so an alarm about that path does not depend on it."""
from __future__ import annotations

import awacs.sns
from awacs.aws import Allow, Condition, Deny, Null, PolicyDocument, Principal, Statement, StringNotEquals
from troposphere import Ref, Sub, Template, kms, sns

from infra.cfn.exports import export, import_value
from infra.iam.policies import VERSION, deny_insecure_transport
from infra.parts import crawler_failures, delivery_failures, deployment_outcomes, subscribers
from infra.parts.alarms import alarm_source_conditions


def add(t: Template, key: kms.Key, emails: tuple[str, ...], serves_models: bool, chat) -> sns.Topic:
    """`chat`: the env's chat channels (config notifications.chat), which hear both topics."""
    OperationsTopic = t.add_resource(sns.Topic(
        "OperationsTopic",
        TopicName=Ref("OperationsTopicName"),
        DisplayName="MLOps operations",
        KmsMasterKeyId=Ref(key),
    ))
    pipeline_role = Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role${RolePath}${CodePipelineRoleName}")
    publishers = [pipeline_role]
    if serves_models:
        publishers.append(Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role${RolePath}${DeploymentPipelineRoleName}"))
    t.add_resource(sns.TopicPolicy(
        "OperationsTopicPolicy",
        Topics=[Ref(OperationsTopic)],
        PolicyDocument=PolicyDocument(
            Version=VERSION,
            Statement=[
                Statement(Sid="AlarmsPublish", Effect=Allow, Principal=Principal("Service", ["cloudwatch.amazonaws.com"]),
                          Action=[awacs.sns.Publish], Resource=[Ref(OperationsTopic)], Condition=alarm_source_conditions()),
                # EventBridge: failed delivery runs and KPI crawls, and the deployment outcomes (in envs with a deployment).
                delivery_failures.topic_statement(OperationsTopic, [*crawler_failures.RULE_NAMES,
                                                                    *(deployment_outcomes.RULE_NAMES if serves_models else [])]),
                # The pipelines (approval requests) publish through their identity policies; nobody else may.
                Statement(
                    Sid="OnlyThePipelineAndAlarmsPublish",
                    Effect=Deny,
                    Principal=Principal("*"),
                    Action=[awacs.sns.Publish],
                    Resource=[Ref(OperationsTopic)],
                    Condition=Condition([StringNotEquals({"aws:PrincipalArn": publishers}),
                                         Null({"aws:PrincipalServiceName": "true"})]),
                ),
                deny_insecure_transport(Ref(OperationsTopic), action=awacs.sns.Publish),
            ],
        ),
    ))
    subscribers.add(t, [Ref(OperationsTopic)], {"email": emails})
    # A channel takes one Chatbot configuration per account: it hears both topics from here, the later stack.
    subscribers.add(t, [Ref(OperationsTopic), import_value("MessagingStackName", "ApprovalsTopicArn")], {"chat": chat})
    export(t, "OperationsTopicArn", Ref(OperationsTopic), "ARN of the topic for alarms and releases waiting for approval")
    return OperationsTopic
