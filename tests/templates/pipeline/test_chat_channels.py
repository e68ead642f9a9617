"""Chat channels hear both topics where an env names them, and nothing chat-related renders where it does not; the
channels' role and what the pipeline's deploy role may do to them stay this env's and read-only (every env and variant,
tests/support/concrete_envs.py: its "every option on" variants name a Slack and a Teams channel)."""
from __future__ import annotations

import json

import pytest

from infra import config
from infra.output import render
from infra.parts import chat_subscriptions
from tests.support.cfn import as_list
from tests.support.concrete_envs import env_renders, ids

PROJECT = config.load(config.CONFIG_DIR)
RENDERS = env_renders(PROJECT, render.render(PROJECT))
CHANNEL_TYPES = {"slack": "AWS::Chatbot::SlackChannelConfiguration", "teams": "AWS::Chatbot::MicrosoftTeamsChannelConfiguration"}
ID_PROPERTIES = {"slack": {"workspace_id": "SlackWorkspaceId", "channel_id": "SlackChannelId"},
                 "teams": {"team_id": "TeamId", "tenant_id": "TeamsTenantId", "channel_id": "TeamsChannelId"}}
WITH_CHAT = [r for r in RENDERS if r.project.env(r.env).chat]
WITHOUT_CHAT = [r for r in RENDERS if not r.project.env(r.env).chat]


def test_the_variants_cover_both_kinds_and_envs_without_chat():
    assert {kind for r in WITH_CHAT for kind in r.project.env(r.env).chat} == set(CHANNEL_TYPES) and WITHOUT_CHAT


@pytest.mark.parametrize("env", WITH_CHAT, ids=ids(WITH_CHAT))
def test_each_channel_hears_both_topics_through_a_role_that_can_do_nothing_else(env):
    n, chat = env.names, env.project.env(env.env).chat
    resources = env.template("pipeline")["Resources"]
    channels = {rid: r["Properties"] for rid, r in resources.items() if r["Type"].startswith("AWS::Chatbot::")}
    assert len(channels) == len(chat)
    for kind, ids_ in chat.items():
        (props,) = [p for rid, p in channels.items() if resources[rid]["Type"] == CHANNEL_TYPES[kind]]
        assert props["SnsTopicArns"] == [{"Ref": "OperationsTopic"}, {"Fn::ImportValue": f"{n.stack('messaging')}-ApprovalsTopicArn"}]
        assert {props[p] for p in ID_PROPERTIES[kind].values()} == {ids_[k] for k in ID_PROPERTIES[kind]}
        assert props["ConfigurationName"] == f"{n.prefix}-{kind}" and props["UserRoleRequired"] is False
        assert props["IamRoleArn"] == {"Fn::ImportValue": f"{n.stack('iam')}-ChatChannelRoleArn"}
        # Never the default (AdministratorAccess) nor anything that can act: CloudWatch read-only.
        assert json.dumps(props["GuardrailPolicies"]) == json.dumps([{"Fn::Sub": chat_subscriptions.GUARDRAIL}])
        assert chat_subscriptions.GUARDRAIL.endswith(":iam::aws:policy/CloudWatchReadOnlyAccess")
        assert props["LoggingLevel"] == "ERROR"
    role = env.template("iam")["Resources"]["ChatChannelRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": ["chatbot.amazonaws.com"]}
    (statement,) = [st for policy in role["Policies"] for st in as_list(policy["PolicyDocument"]["Statement"])]
    assert statement["Action"] == ["cloudwatch:DescribeAlarms"]
    assert json.dumps(statement["Resource"]).count(f":alarm:{n.prefix}-*") == 1


@pytest.mark.parametrize("env", WITH_CHAT, ids=ids(WITH_CHAT))
def test_a_push_cannot_create_change_or_redirect_a_channel(env):
    """The pipeline's deploy role reads and tags the env's chat configurations; it cannot create, update or delete
    one, nor pass any role to Chatbot: which channel hears which topic changes only by `make deploy`."""
    role = env.template("deploy-roles")["Resources"]["PipelineDeployRole"]["Properties"]
    statements = [st for policy in role["Policies"] for st in as_list(policy["PolicyDocument"]["Statement"])]
    chat = [st for st in statements if any(str(a).startswith("chatbot:") for a in as_list(st["Action"]))]
    actions = {a for st in chat for a in as_list(st["Action"])}
    assert chat and not any(a.split(":")[1].startswith(("Create", "Update", "Delete", "Associate")) for a in actions)
    assert "chatbot.amazonaws.com" not in json.dumps(statements)
    for st in chat:
        assert st["Resource"] == ["*"] or all(f"{env.names.prefix}-*" in json.dumps(r) for r in st["Resource"])


@pytest.mark.parametrize("env", WITHOUT_CHAT, ids=ids(WITHOUT_CHAT))
def test_without_chat_nothing_chat_related_renders(env):
    for stack in env.stacks:
        text = env.text(stack).lower()
        assert "chatbot" not in text and "chatchannel" not in text, f"{env.label}/{stack}.yaml"
