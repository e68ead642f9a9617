"""An alarm acts only inside its env: every grant of cloudwatch:PutMetricAlarm holds the alarm's actions
(cloudwatch:AlarmActions, every state's) to this env's topics or this account's scaling policies, and every alarm the
stacks make fits the grant (or its deploy would be refused).

Without the condition a push could give an alarm of its own name an action that stops or terminates the account's
instances, or that tells a topic or function of another account ("Using condition keys to limit alarm actions",
CloudWatch user guide).
"""
from __future__ import annotations

import copy
import fnmatch

from tests.support.cfn import as_list
from tests.support.resolve import allow_statements

ALARM_ACTIONS_KEY = "cloudwatch:AlarmActions"
ACTION_PROPERTIES = ("AlarmActions", "OKActions", "InsufficientDataActions")
# Operators under which every value of a multi-valued key must be one of the listed ones.
ALL_VALUES = ("ForAllValues:StringEquals", "ForAllValues:StringLike", "ForAllValues:ArnEquals", "ForAllValues:ArnLike")


def _in_env(stacks) -> list[str]:
    """What an alarm of this env may act on: the env's own topics, this account's and region's scaling policies."""
    pseudo = next(iter(stacks.values())).pseudo
    region, account = pseudo["AWS::Region"], pseudo["AWS::AccountId"]
    topics = [s.physical(lid, None) for s in stacks.values() for lid in s.resources("AWS::SNS::Topic")]
    return [*topics, f"arn:aws:autoscaling:{region}:{account}:scalingPolicy:*"]


def _grants_put_alarm(st: dict) -> bool:
    return any(fnmatch.fnmatchcase("cloudwatch:PutMetricAlarm", a) for a in as_list(st.get("Action", [])))


def grant_problems(stacks) -> list[str]:
    allowed = _in_env(stacks)
    problems = []
    for where, st in allow_statements(stacks):
        if not _grants_put_alarm(st):
            continue
        held = [v for op in ALL_VALUES for v in as_list(st.get("Condition", {}).get(op, {}).get(ALARM_ACTIONS_KEY, []))]
        if not held:
            problems.append(f"{where}: PutMetricAlarm without a ForAllValues condition on {ALARM_ACTIONS_KEY}")
        outside = [v for v in held if not any(fnmatch.fnmatchcase(v, a) for a in allowed)]
        if outside:
            problems.append(f"{where}: alarms may act on {outside}, outside the env")
    return problems


def alarm_problems(stacks) -> list[str]:
    """Each alarm's actions fit a PutMetricAlarm grant of its stack's deploy role's condition (any grant will do: the
    deploy roles' names are the stacks')."""
    held = [v for _, st in allow_statements(stacks) if _grants_put_alarm(st)
            for op in ALL_VALUES for v in as_list(st.get("Condition", {}).get(op, {}).get(ALARM_ACTIONS_KEY, []))]
    problems = []
    for key, stack in stacks.items():
        for logical_id, alarm in stack.resources("AWS::CloudWatch::Alarm").items():
            for prop in ACTION_PROPERTIES:
                for action in as_list(alarm["Properties"].get(prop, [])):
                    if not any(fnmatch.fnmatchcase(str(action), pattern) for pattern in held):
                        problems.append(f"{key} {logical_id} {prop}: {action} fits no PutMetricAlarm grant")
    return problems


def test_every_put_metric_alarm_grant_holds_alarm_actions_to_the_env(stacks_by_env):
    problems = [f"{env}: {p}" for env, stacks in stacks_by_env.items() for p in grant_problems(stacks)]
    assert not problems, "\n".join(problems)


def test_every_alarm_the_stacks_make_fits_the_grant(stacks_by_env):
    problems = [f"{env}: {p}" for env, stacks in stacks_by_env.items() for p in alarm_problems(stacks)]
    assert not problems, "\n".join(problems)


def test_the_check_catches_an_unconditioned_grant_and_an_action_elsewhere(stacks_by_env):
    stacks = copy.deepcopy(next(iter(stacks_by_env.values())))
    roles = stacks["deploy-roles"].template["Resources"]
    role = next(r for r in roles.values() if r["Type"] == "AWS::IAM::Role")
    role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"] += [
        {"Sid": "Bare", "Effect": "Allow", "Action": "cloudwatch:PutMetricAlarm", "Resource": "*"},
        {"Sid": "Elsewhere", "Effect": "Allow", "Action": "cloudwatch:PutMetricAlarm", "Resource": "*",
         "Condition": {"ForAllValues:StringLike": {ALARM_ACTIONS_KEY: ["arn:aws:automate:*:ec2:terminate"]}}}]
    problems = grant_problems(stacks)
    assert any("Bare: PutMetricAlarm without" in p for p in problems), problems
    assert any("Elsewhere: alarms may act on ['arn:aws:automate:*:ec2:terminate']" in p for p in problems), problems
