"""The notifications template (and the approvals topic, queue and key it imports from the messaging stack): wired as
the issue asks, and its rule matches the right events."""
from __future__ import annotations

import json

import boto3
import pytest
from cfn_flip import load_yaml
from moto import mock_aws

from infra.output import lambda_package
from infra.parts import email_subscriptions
from infra.config import names
from infra.iam.runtime import functions
from infra.config import subscription_logical_id
from infra.stacks import BUILDERS
from tests.support.resolve import resolve_all
from tests.conftest import FIXTURE_CONFIG, ROOT
from tests.support.notifier_support import for_group, sample_event


@pytest.fixture
def n(project, env) -> names.Names:
    return names.for_env(project, env)


@pytest.fixture
def template(rendered, env):
    return load_yaml(rendered[f"{env}/notifications.yaml"])


@pytest.fixture
def messaging(rendered, env):
    return load_yaml(rendered[f"{env}/messaging.yaml"])


def _imported(n: names.Names, key: str, stack: str = "messaging") -> dict:
    return {"Fn::ImportValue": f"{n.stack(stack)}-{key}"}


def _resources(template, type_name):
    return {k: v for k, v in template["Resources"].items() if isinstance(v, dict) and v.get("Type") == type_name}


def test_each_env_subscribes_exactly_its_own_addresses_with_ids_derived_from_the_address(rendered, project):
    for env in project.environments:
        stack = resolve_all(rendered, project, env, list(BUILDERS))["messaging"]
        subscriptions = stack.resources("AWS::SNS::Subscription")
        assert {s["Properties"]["Endpoint"] for s in subscriptions.values()} == set(project.env(env).emails)
        for logical_id, subscription in subscriptions.items():
            assert logical_id == subscription_logical_id(subscription["Properties"]["Endpoint"])
            assert subscription["Properties"]["Protocol"] == "email"
            assert subscription["Properties"]["TopicArn"] == stack.ref("ApprovalsTopic")


@pytest.mark.every_env
def test_subscriptions_need_no_transform_and_no_parameter(messaging):
    assert "Transform" not in messaging
    assert not [k for k in messaging["Resources"] if k.startswith("Fn::")]
    assert "Parameters" not in messaging and "Conditions" not in messaging


def test_an_address_in_many_envs_is_one_subscription_in_each_env_that_lists_it_under_the_same_id():
    from troposphere import Ref, Template, sns

    envs = {f"e{i}": ("all@example.com",) + (("odd@example.com", "odd@example.com") if i % 2 else ()) for i in range(23)}
    for env, emails in envs.items():
        t = Template()
        t.add_resource(sns.Topic("Topic", TopicName="approvals"))
        email_subscriptions.add(t, [Ref(t.resources["Topic"])], emails)
        template = json.loads(t.to_json())
        subscriptions = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::SNS::Subscription"}
        # One resource per address (a repeated address is one subscription), whose ID is the address's own in every env.
        assert {k: r["Properties"]["Endpoint"] for k, r in subscriptions.items()} == {
            subscription_logical_id(email): email for email in emails}, env
        assert "Condition" not in json.dumps(template)


@pytest.mark.every_env
def test_every_env_gives_its_statuses_and_code_key(template, rendered, project, env):
    config_env = project.environments[env]
    rule = template["Resources"]["ModelPackageStateRule"]
    assert rule["Properties"]["EventPattern"]["detail"]["ModelApprovalStatus"] == list(config_env.statuses)
    (fn,) = _resources(template, "AWS::Lambda::Function").values()
    assert fn["Properties"]["Environment"]["Variables"]["NOTIFY_ON_STATUSES"] == ",".join(config_env.statuses)
    assert fn["Properties"]["Code"]["S3Key"] == lambda_package.parameters(ROOT / "lambda_src")["NotifierCodeKey"]
    assert fn["Properties"]["Code"]["S3Key"].startswith("lambda/get_model_metadata-")
    assert json.loads(rendered[f"{env}/notifications.json"])["Parameters"] == {}


@pytest.mark.every_env
def test_function_runs_python_312_or_newer_from_the_artifact_bucket(template, n):
    (fn,) = _resources(template, "AWS::Lambda::Function").values()
    props = fn["Properties"]
    major, minor = props["Runtime"].removeprefix("python").split(".")
    assert (int(major), int(minor)) >= (3, 12)
    assert props["Handler"] == "get_model_metadata.handler.lambda_handler"
    assert props["Code"]["S3Bucket"] == _imported(n, "ArtifactBucketName", "pipeline")
    assert props["Role"] == _imported(n, "NotifierRoleArn", "iam")
    assert props["KmsKeyArn"] == _imported(n, "NotificationsKeyArn")


@pytest.mark.every_env
def test_failures_land_in_the_encrypted_dead_letter_queue_and_raise_an_alarm(template, messaging, n):
    rules = _resources(template, "AWS::Events::Rule").values()
    assert len(rules) == 2  # model package state changes, failed pipeline runs
    for rule in rules:
        (target,) = rule["Properties"]["Targets"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        assert target["DeadLetterConfig"]["Arn"] == _imported(n, "NotifierDeadLetterQueueArn")
    (invoke_config,) = _resources(template, "AWS::Lambda::EventInvokeConfig").values()
    assert invoke_config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == _imported(n, "NotifierDeadLetterQueueArn")
    queue = messaging["Resources"]["NotifierDeadLetterQueue"]
    assert messaging["Outputs"]["NotifierDeadLetterQueueArn"]["Value"] == {"Fn::GetAtt": ["NotifierDeadLetterQueue", "Arn"]}
    assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["NotificationsKey", "Arn"]}
    assert (queue["DeletionPolicy"], queue["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    props = template["Resources"]["NotifierDeadLetterAlarm"]["Properties"]
    assert props["AlarmName"].startswith(f"{n.prefix}-")
    assert (props["MetricName"], props["Threshold"], props["ComparisonOperator"]) == (
        "ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold")
    # On the operations topic: an alarm about this path must not depend on this stack's topic.
    assert props["AlarmActions"] == [_imported(n, "OperationsTopicArn", "pipeline")]


@pytest.mark.every_env
def test_key_rotates_is_retained_and_grants_no_wildcard_actions(messaging):
    key = messaging["Resources"]["NotificationsKey"]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    for statement in key["Properties"]["KeyPolicy"]["Statement"]:
        assert not any("*" in action for action in statement["Action"]), statement["Sid"]
        # Service principals carry a confused-deputy condition (alarms use the operations topic, not this key).
        if "Service" in statement["Principal"]:
            assert "Condition" in statement, statement["Sid"]


@pytest.mark.every_env
def test_topic_is_encrypted_and_exported_for_the_notifier(messaging, template, n):
    assert messaging["Resources"]["ApprovalsTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "NotificationsKey"}
    assert messaging["Outputs"]["ApprovalsTopicArn"]["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-ApprovalsTopicArn"}
    (fn,) = _resources(template, "AWS::Lambda::Function").values()
    assert fn["Properties"]["Environment"]["Variables"]["TOPIC_ARN"] == _imported(n, "ApprovalsTopicArn")


@pytest.mark.every_env
def test_topic_policy_lets_only_the_notifier_role_and_the_operations_unheard_alarm_publish(messaging, n):
    """The notifier publishes through its identity policy; the topic policy denies every other principal,
    services included (named by ARN, so the role need not exist yet), but the one alarm that says nobody hears the
    operations topic. Other alarms use the operations topic."""
    statements = messaging["Resources"]["ApprovalsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    alarm = ("arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
             f"{n.operations_topic}-unheard")
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]} and allow["Action"] == ["sns:Publish"]
    assert allow["Condition"]["ArnLike"] == {"aws:SourceArn": [{"Fn::Sub": alarm}]}
    (only,) = [s for s in statements if s["Sid"] == "OnlyTheNotifierPublishes"]
    assert only["Effect"] == "Deny" and only["Condition"] == {
        "StringNotEquals": {"aws:PrincipalArn": {
            "Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{n.role_path}{n.notifier_role}"}},
        "ArnNotEquals": {"aws:SourceArn": {"Fn::Sub": alarm}}}


def test_notifier_role_no_longer_puts_metrics_and_uses_the_key_by_alias():
    statements = json.loads(json.dumps(functions.notifier_statements(), default=lambda o: o.to_dict() if hasattr(o, "to_dict") else o.JSONrepr()))
    actions = {a for s in statements for a in s["Action"]}
    assert "cloudwatch:PutMetricData" not in actions
    (key_use,) = [s for s in statements if s["Sid"] == "NotificationsKey"]
    assert key_use["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"] == [{"Fn::Sub": "${NotificationsKeyAlias}"}]


# -- the rule's EventPattern, evaluated by moto's EventBridge ----------------------------------------
def _pattern_for(template):
    """The rule's pattern, as the env's template writes it, its account the samples' (moto's) own."""
    pattern = template["Resources"]["ModelPackageStateRule"]["Properties"]["EventPattern"]
    pattern = json.loads(json.dumps(pattern).replace('{"Ref": "AWS::AccountId"}', '"123456789012"'))
    assert "Ref" not in json.dumps(pattern) and "Fn::" not in json.dumps(pattern)
    return pattern


def _matches(pattern: dict, event: dict) -> bool:
    """Put the event on moto's bus with the rule targeting an SQS queue; did it arrive?"""
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="rule-target")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="under-test", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="under-test", Targets=[{"Id": "q", "Arn": queue_arn}])
        result = events.put_events(Entries=[{
            "Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
            "Resources": event["resources"],
        }])
        assert result["FailedEntryCount"] == 0
        return bool(sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"))


STATUS_EVENTS = {"Approved": "approved", "Rejected": "rejected", "PendingManualApproval": "registered_pending_approval"}


@pytest.mark.parametrize("status", sorted(STATUS_EVENTS))
@pytest.mark.every_env
def test_rule_matches_this_envs_group_exactly_on_the_statuses_it_notifies_on(template, rendered, project, env, status):
    group = names.for_env(project, env).model_package_group
    event = for_group(sample_event(STATUS_EVENTS[status]), group)
    assert event["detail"]["ModelApprovalStatus"] == status
    assert _matches(_pattern_for(template), event) is (status in project.env(env).statuses)


@pytest.mark.every_env
def test_rule_ignores_other_model_groups(template, rendered, project, env):
    """Other envs' groups, and one that merely contains this env's group name, on a status it notifies on."""
    group = names.for_env(project, env).model_package_group
    others = [names.for_env(project, e).model_package_group for e in project.environments if e != env] + [f"other-{group}"]
    status = project.env(env).statuses[0]
    pattern = _pattern_for(template)
    assert _matches(pattern, for_group(sample_event(STATUS_EVENTS[status]), group))  # the same event, this group: heard
    for other in others:
        assert not _matches(pattern, for_group(sample_event(STATUS_EVENTS[status]), other)), other


# The fixture config's prod notifies on Approved and Rejected, its dev on every status: both cases hold
# whatever config/ says.
def test_rule_ignores_a_status_the_env_does_not_notify_on(fixture_rendered, fixture_project):
    template = load_yaml(fixture_rendered["prod/notifications.yaml"])
    group = names.for_env(fixture_project, "prod").model_package_group
    assert "PendingManualApproval" not in fixture_project.environments["prod"].statuses
    event = for_group(sample_event("registered_pending_approval"), group)
    assert not _matches(_pattern_for(template), event)


def test_rule_hears_registrations_where_the_env_asks_for_them(fixture_rendered, fixture_project):
    template = load_yaml(fixture_rendered["dev/notifications.yaml"])
    group = names.for_env(fixture_project, "dev").model_package_group
    assert "PendingManualApproval" in fixture_project.environments["dev"].statuses
    assert _matches(_pattern_for(template), for_group(sample_event("registered_pending_approval"), group))


@pytest.mark.every_env
def test_rule_pattern_is_rendered_sorted(template):
    pattern = template["Resources"]["ModelPackageStateRule"]["Properties"]["EventPattern"]  # cfn_flip keeps file order
    assert list(pattern) == sorted(pattern) and list(pattern["detail"]) == sorted(pattern["detail"])


def test_emails_that_would_share_a_subscription_id_are_refused_naming_file_and_key(tmp_path):
    import shutil

    import yaml

    from infra import config

    shutil.copytree(FIXTURE_CONFIG, tmp_path / "config")
    dev = tmp_path / "config" / "dev.yaml"
    data = yaml.safe_load(dev.read_text())
    data["notifications"]["emails"] = ["ml-team@example.com", "mlteam@example.com"]
    dev.write_text(yaml.safe_dump(data))
    with pytest.raises(config.ConfigError) as error:
        config.load(tmp_path / "config")
    assert "dev.yaml: notifications.emails[1]:" in str(error.value) and "\n" not in str(error.value)
