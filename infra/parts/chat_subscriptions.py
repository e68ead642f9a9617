"""Chat channels that hear the topics: an AWS Chatbot (Amazon Q Developer in chat applications) channel configuration
per channel the env names (`notifications.chat`), each subscribed to every topic it is given.

Chatbot takes one configuration per channel and account (the config refuses two envs that may share both), so one
configuration holds both topics: the pipeline stack's operations topic and the messaging stack's approvals topic.
Its role (the IAM stack's ChatChannelRole) reads this env's alarms and nothing else, and the guardrail is CloudWatch
read-only, so no one in the channel can act on AWS through it; the default guardrail would be AdministratorAccess
(AWS::Chatbot::SlackChannelConfiguration, GuardrailPolicies). Errors are logged (LoggingLevel ERROR) to
/aws/chatbot/<configuration name> in us-east-1, where Chatbot writes.
"""
from __future__ import annotations

from collections.abc import Mapping

from troposphere import Sub, Template, chatbot

from infra.cfn.exports import import_value

# kind -> (resource class, logical ID, its channel properties from config)
CHANNELS = {
    "slack": (chatbot.SlackChannelConfiguration, "SlackChannel",
              lambda ids: {"SlackWorkspaceId": ids["workspace_id"], "SlackChannelId": ids["channel_id"]}),
    "teams": (chatbot.MicrosoftTeamsChannelConfiguration, "TeamsChannel",
              lambda ids: {"TeamId": ids["team_id"], "TeamsTenantId": ids["tenant_id"], "TeamsChannelId": ids["channel_id"]}),
}
GUARDRAIL = "arn:${AWS::Partition}:iam::aws:policy/CloudWatchReadOnlyAccess"


def configuration_name(kind: str) -> str:
    return f"${{ResourcePrefix}}-{kind}"


def add(t: Template, topics: list, channels: Mapping[str, Mapping[str, str]]) -> None:
    """e.g. {"slack": {"workspace_id": "T0123ABCD", "channel_id": "C0123ABCD"}} -> SlackChannel."""
    for kind, ids in sorted(channels.items()):
        resource, logical_id, properties = CHANNELS[kind]
        t.add_resource(resource(
            logical_id,
            ConfigurationName=Sub(configuration_name(kind)),
            IamRoleArn=import_value("IamStackName", "ChatChannelRoleArn"),
            GuardrailPolicies=[Sub(GUARDRAIL)],
            LoggingLevel="ERROR",
            SnsTopicArns=list(topics),
            UserRoleRequired=False,
            **properties(ids),
        ))
