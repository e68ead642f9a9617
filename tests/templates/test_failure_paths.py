"""Every way an event or a run can fail ends where an alarm watches, and the alarms never depend on what
they watch.

The notifier's dead-letter alarm once published to the very topic whose path it reported on, events the
notifier dropped as malformed were counted nowhere, and neither a failed hand-over to a dead-letter queue
(Lambda's or EventBridge's) nor a malformed event raised anything.
"""
from __future__ import annotations

import json

import pytest

from infra.config import names as names_mod
from infra.parts import delivery_failures
from infra.stacks import BUILDERS
from tests.support import log_filter
from tests.support.cfn import load


def operations_topic(pipeline_stack_name: str) -> tuple[dict, dict]:
    """How a template names the operations topic: imported from the env's pipeline stack, or its own (pipeline)."""
    return {"Fn::ImportValue": f"{pipeline_stack_name}-OperationsTopicArn"}, {"Ref": "OperationsTopic"}


def _topic(project, env):
    return operations_topic(names_mod.for_env(project, env).stack("pipeline"))


def _resources(rendered, env, rtype: str) -> dict[tuple[str, str], dict]:
    return {(stack, logical_id): r for stack in BUILDERS if f"{env}/{stack}.yaml" in rendered
            for logical_id, r in load(rendered[f"{env}/{stack}.yaml"])["Resources"].items() if r["Type"] == rtype}


def _alarms(rendered, env) -> list[dict]:
    return [a["Properties"] for a in _resources(rendered, env, "AWS::CloudWatch::Alarm").values()]


def _watched(rendered, env, namespace: str, metric: str, dimension: str) -> list:
    return [a["Dimensions"][0]["Value"] for a in _alarms(rendered, env)
            if (a["Namespace"], a["MetricName"]) == (namespace, metric) and a["Dimensions"][0]["Name"] == dimension]


def _scheduled_and_missed_when_silent(rendered, env) -> set[tuple[str, str]]:
    """(stack, function) run only by a schedule, whose run carries no event to keep: a failed or missed run is seen
    because an alarm of its stack fires when the metric it publishes (its METRICS_NAMESPACE) stops arriving."""
    functions = _resources(rendered, env, "AWS::Lambda::Function")
    alarms = _resources(rendered, env, "AWS::CloudWatch::Alarm")
    watched = set()
    for (stack, _), schedule in _resources(rendered, env, "AWS::Scheduler::Schedule").items():
        function = (stack, schedule["Properties"]["Target"]["Arn"]["Fn::GetAtt"][0])
        if function in functions:
            namespace = functions[function]["Properties"]["Environment"]["Variables"].get("METRICS_NAMESPACE")
            if any(s == stack and a["Properties"]["Namespace"] == namespace and a["Properties"]["TreatMissingData"] == "breaching"
                   for (s, _), a in alarms.items()):
                watched.add(function)
    return watched


# The one alarm that tells another topic: nobody would hear that nobody hears the operations topic on it
# (tests/iam/test_alarms_reach_someone.py holds its topic's policy and key to it).
ELSEWHERE = {("kpi", "OperationsTopicUnheardAlarm"): "ApprovalsTopicArn"}


def alarm_topic_problems(rendered, env, topic, messaging_stack: str = "") -> list[str]:
    problems = []
    for (stack, logical_id), alarm in _resources(rendered, env, "AWS::CloudWatch::Alarm").items():
        actions = alarm["Properties"].get("AlarmActions", [])
        if (stack, logical_id) in ELSEWHERE:
            topic_here = ({"Fn::ImportValue": f"{messaging_stack}-{ELSEWHERE[stack, logical_id]}"},)
        else:
            topic_here = topic
        if not actions or any(a not in topic_here for a in actions):
            problems.append(f"{env}/{stack}.yaml {logical_id} notifies {actions}, not the operations topic")
    return problems


@pytest.mark.every_env
def test_every_alarm_notifies_the_operations_topic(rendered, project, env):
    assert _alarms(rendered, env)
    problems = alarm_topic_problems(rendered, env, _topic(project, env), names_mod.for_env(project, env).stack("messaging"))
    assert not problems, "\n".join(problems)


def test_the_topic_check_catches_an_alarm_on_the_topic_it_watches():
    alarm = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmActions": [{"Ref": "Topic"}]}}
    broken = {f"e/{s}.yaml": "Resources: {}\n" for s in BUILDERS}
    broken["e/notifications.yaml"] = json.dumps({"Resources": {"NotifierDeadLetterAlarm": alarm}})
    assert alarm_topic_problems(broken, "e", operations_topic("p")) == [
        "e/notifications.yaml NotifierDeadLetterAlarm notifies [{'Ref': 'Topic'}], not the operations topic"]


def test_the_topic_check_catches_an_alarm_on_another_envs_operations_topic():
    alarm = {"Type": "AWS::CloudWatch::Alarm",
             "Properties": {"AlarmActions": [{"Fn::ImportValue": "other-pipeline-OperationsTopicArn"}]}}
    broken = {f"e/{s}.yaml": "Resources: {}\n" for s in BUILDERS}
    broken["e/kpi.yaml"] = json.dumps({"Resources": {"MetricsDeadLetterAlarm": alarm}})
    assert alarm_topic_problems(broken, "e", operations_topic("this-pipeline")) == [
        "e/kpi.yaml MetricsDeadLetterAlarm notifies [{'Fn::ImportValue': 'other-pipeline-OperationsTopicArn'}], "
        "not the operations topic"]


@pytest.mark.every_env
def test_every_dead_letter_queue_and_every_hand_over_to_one_is_watched(rendered, project, env):
    queues = {k[1]: r for k, r in _resources(rendered, env, "AWS::SQS::Queue").items()}
    assert queues
    depth = _watched(rendered, env, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName")
    for logical_id in queues:
        assert {"Fn::GetAtt": [logical_id, "QueueName"]} in depth or queues[logical_id]["Properties"]["QueueName"] in depth, \
            f"{env}: no alarm on the depth of {logical_id}"
    rule_hand_overs = _watched(rendered, env, "AWS/Events", "InvocationsFailedToBeSentToDlq", "RuleName")
    for (stack, logical_id), rule in _resources(rendered, env, "AWS::Events::Rule").items():
        if any("DeadLetterConfig" in t for t in rule["Properties"]["Targets"]):
            assert rule["Properties"]["Name"] in rule_hand_overs, f"{stack}.yaml {logical_id}: no alarm when its DLQ refuses an event"
    functions = {k: r["Properties"] for k, r in _resources(rendered, env, "AWS::Lambda::Function").items()}
    invoke_configs = [r["Properties"] for r in _resources(rendered, env, "AWS::Lambda::EventInvokeConfig").values()]
    destination_failures = _watched(rendered, env, "AWS/Lambda", "DestinationDeliveryFailures", "FunctionName")
    dead_letter_errors = _watched(rendered, env, "AWS/Lambda", "DeadLetterErrors", "FunctionName")
    scheduled = _scheduled_and_missed_when_silent(rendered, env)
    for (stack, logical_id), fn in functions.items():
        if (stack, logical_id) in scheduled:
            continue
        on_failure = any(c["FunctionName"] == {"Ref": logical_id} and "OnFailure" in c.get("DestinationConfig", {})
                         for c in invoke_configs)
        assert on_failure or "DeadLetterConfig" in fn, f"{stack}.yaml {logical_id}: failed invocations go nowhere"
        if on_failure:
            assert fn["FunctionName"] in destination_failures, f"{stack}.yaml {logical_id}: DestinationDeliveryFailures unwatched"
        if "DeadLetterConfig" in fn:
            assert fn["FunctionName"] in dead_letter_errors, f"{stack}.yaml {logical_id}: DeadLetterErrors unwatched"


@pytest.mark.every_env
def test_events_the_notifier_drops_are_counted_and_alarmed(rendered, env, monkeypatch, capsys):
    from tests.support.notifier_support import sample_event
    from tests.support.notifier_world import configure

    from get_model_metadata import handler  # lambda_src/ is on sys.path: tests/__init__.py

    template = load(rendered[f"{env}/notifications.yaml"])
    metric_filter = template["Resources"]["NotifierMalformedEventsFilter"]["Properties"]
    assert metric_filter["LogGroupName"] == {"Ref": "NotifierLogGroup"}
    monkeypatch.setenv("MODEL_PACKAGE_GROUP_NAME", "g")
    monkeypatch.setenv("NOTIFY_ON_STATUSES", "Approved")
    monkeypatch.setenv("TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:t")
    configure(monkeypatch)
    assert handler.lambda_handler(sample_event("malformed_missing_arn"))["decision"] == "malformed"
    (line,) = capsys.readouterr().out.splitlines()
    assert log_filter.matches(metric_filter["FilterPattern"], line), f"{metric_filter['FilterPattern']} misses {line}"
    handler.lambda_handler(sample_event("approved_in_other_group"))
    (ignored,) = capsys.readouterr().out.splitlines()
    assert not log_filter.matches(metric_filter["FilterPattern"], ignored)
    (transform,) = metric_filter["MetricTransformations"]
    alarm = template["Resources"]["NotifierMalformedEventsAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (transform["MetricNamespace"], transform["MetricName"])


# Key-policy statements for a service whose requests carry no key a condition could hold, each with the reason.
UNCONDITIONED_SERVICE_STATEMENTS = {
    ("pipeline", delivery_failures.KEY_STATEMENT_SID):
        "EventBridge publishing to an encrypted topic: SNS documents aws:SourceArn/aws:SourceAccount as unsupported "
        "in that KMS request; the topic policy holds EventBridge to this env's one rule",
}


@pytest.mark.every_env
@pytest.mark.parametrize("stack", ["notifications", "pipeline"])
def test_no_key_lets_a_service_use_it_without_a_condition(rendered, env, stack):
    for logical_id, resource in load(rendered[f"{env}/{stack}.yaml"])["Resources"].items():
        if resource["Type"] != "AWS::KMS::Key":
            continue
        for statement in resource["Properties"]["KeyPolicy"]["Statement"]:
            if isinstance(statement, dict) and "Service" in statement.get("Principal", {}):
                if (stack, statement["Sid"]) in UNCONDITIONED_SERVICE_STATEMENTS:
                    assert "Condition" not in statement and statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
                    continue
                assert "Condition" in statement, f"{env}/{stack}.yaml {logical_id} {statement['Sid']}: a service with no condition"


@pytest.mark.every_env
def test_every_rule_target_that_can_fail_is_watched(rendered, env):
    """A target with a dead-letter queue is watched through it (above); any other target's failures
    (FailedInvocations: the target refused, its role or key denied) raise an alarm in the stack of the rule, so the
    alarm exists whenever the rule does."""
    failed = {(stack, a["Properties"]["Dimensions"][0]["Value"])
              for (stack, _), a in _resources(rendered, env, "AWS::CloudWatch::Alarm").items()
              if (a["Properties"]["Namespace"], a["Properties"]["MetricName"]) == ("AWS/Events", "FailedInvocations")}
    for (stack, logical_id), rule in _resources(rendered, env, "AWS::Events::Rule").items():
        if any("DeadLetterConfig" not in t for t in rule["Properties"]["Targets"]):
            assert (stack, rule["Properties"]["Name"]) in failed, \
                f"{env}/{stack}.yaml {logical_id}: a target without a dead-letter queue and no FailedInvocations alarm"


@pytest.mark.every_env
def test_a_failed_pipeline_run_reaches_the_operations_topic(rendered, project, env):
    """Every CodePipeline the templates make (delivery, model deployment) has one rule sending its failed runs to
    the operations topic (in the pipeline stack, or imported from it), and the topic's policy and key let
    EventBridge publish for those rules (and nothing else)."""
    pipelines = _resources(rendered, env, "AWS::CodePipeline::Pipeline")
    assert len(pipelines) == (2 if project.env(env).deployment else 1)  # delivery; model deployment where it serves
    home = load(rendered[f"{env}/pipeline.yaml"])["Resources"]
    policy = next(r["Properties"]["PolicyDocument"] for r in home.values()
                  if r["Type"] == "AWS::SNS::TopicPolicy" and {"Ref": "OperationsTopic"} in r["Properties"]["Topics"])
    publishers = [s for s in policy["Statement"] if s["Effect"] == "Allow" and s["Principal"] == {"Service": ["events.amazonaws.com"]}]
    assert len(publishers) == 1 and publishers[0]["Action"] == ["sns:Publish"]
    admitted = [arn["Fn::Sub"] for arn in publishers[0]["Condition"]["ArnEquals"]["aws:SourceArn"]]
    imported_topic, own_topic = _topic(project, env)
    for (stack, logical_id), pipeline in pipelines.items():
        resources = load(rendered[f"{env}/{stack}.yaml"])["Resources"]
        rules = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Events::Rule"
                 and r["Properties"]["EventPattern"].get("source") == ["aws.codepipeline"]
                 and r["Properties"]["EventPattern"]["detail"].get("pipeline") == [pipeline["Properties"]["Name"]]
                 and "FAILED" in r["Properties"]["EventPattern"]["detail"].get("state", [])]
        assert len(rules) == 1, f"{env}/{stack}.yaml {logical_id}: no rule reports its failed runs"
        rule = rules[0]
        assert [t["Arn"] for t in rule["Targets"]] in ([own_topic], [imported_topic])
        rule_arn_suffix = ":rule/" + rule["Name"]
        assert any(arn.endswith(rule_arn_suffix) for arn in admitted), f"the topic admits {admitted}, not {rule_arn_suffix}"
    key_id = home["OperationsTopic"]["Properties"]["KmsMasterKeyId"]["Ref"]
    key_users = [s for s in home[key_id]["Properties"]["KeyPolicy"]["Statement"]
                 if s.get("Principal") == {"Service": ["events.amazonaws.com"]}]
    assert len(key_users) == 1 and set(key_users[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}


# What Glue sends when a crawl fails (the EventBridge user guide's sample) and when a scheduled crawl does not start
# ("Automating AWS Glue with EventBridge": crawlerName, errorMessage), renamed per case.
FAILED_CRAWL = {"source": "aws.glue", "detail-type": "Glue Crawler State Change",
                "detail": {"crawlerName": "test-crawler-notification", "errorMessage": "Internal Service Exception",
                           "accountId": "1234", "state": "Failed", "message": "Crawler Failed",
                           "cloudWatchLogLink": "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1"
                                                "#logEventViewer:group=/aws-glue/crawlers;stream=test-crawler-notification"}}
UNSTARTED_CRAWL = {"source": "aws.glue", "detail-type": "Glue Scheduled Crawler Invocation Failure",
                   "detail": {"customerId": "1234", "crawlerName": "test-crawler-notification",
                              "errorMessage": "Service is unable to assume provided role"}}


def test_a_failed_or_unstarted_crawl_of_every_crawler_reaches_the_operations_topic(project, rendered):
    """Glue has no crawler metric to alarm on: a crawl that failed (an unreadable report, a denied key) or that its
    schedule could not start left the table without every report since, silently. Every crawler the templates make,
    in every env and variant, has rules that send exactly those events to the operations topic, which admits them."""
    from tests.support.concrete_envs import env_renders
    from tests.support.events import deliver
    from tests.support.resolve import resolve_all

    def crawl(sample: dict, crawler: str, **changes) -> dict:
        return {**sample, "detail": {**sample["detail"], "crawlerName": crawler, **changes}}

    checked = 0
    for env in env_renders(project, rendered):
        stacks = resolve_all(env.rendered, env.project, env.env, list(BUILDERS))
        policies = [r["Properties"]["PolicyDocument"] for r in stacks["pipeline"].resources("AWS::SNS::TopicPolicy").values()]
        topic = stacks["pipeline"].physical("OperationsTopic", None)
        admitted = [arn for policy in policies for s in policy["Statement"]
                    if s["Effect"] == "Allow" and s["Principal"] == {"Service": ["events.amazonaws.com"]}
                    for arn in s["Condition"]["ArnEquals"]["aws:SourceArn"]]
        for stack in stacks.values():
            for crawler in stack.resources("AWS::Glue::Crawler").values():
                name = crawler["Properties"]["Name"]
                rules = [r["Properties"] for r in stack.resources("AWS::Events::Rule").values()
                         if r["Properties"]["EventPattern"].get("source") == ["aws.glue"]
                         and [t["Arn"] for t in r["Properties"]["Targets"]] == [topic]]
                sent = [crawl(FAILED_CRAWL, name), crawl(FAILED_CRAWL, name, state="Succeeded"),
                        crawl(FAILED_CRAWL, name, state="Started"), crawl(FAILED_CRAWL, f"{name}-other"),
                        crawl(UNSTARTED_CRAWL, name), crawl(UNSTARTED_CRAWL, f"{name}-other")]
                reached = sorted([d["crawlerName"], d.get("state", "not started")] for rule in rules
                                 for d in deliver(rule["EventPattern"], "eu-west-1", sent))
                assert reached == [[name, "Failed"], [name, "not started"]], f"{env.label}: crawler {name}: the topic hears {reached}"
                for rule in rules:
                    arn = f"arn:aws:events:{stack.pseudo['AWS::Region']}:{stack.pseudo['AWS::AccountId']}:rule/{rule['Name']}"
                    assert arn in admitted, f"{env.label}: the operations topic admits {admitted}, not {arn}"
                checked += 1
    assert checked >= len(project.environments)
