"""Every alarm action reaches its topic, and no alarm that a topic is unheard tells that same topic.

An alarm publishes to SNS as cloudwatch.amazonaws.com, with aws:SourceArn its own ARN: the topic's policy must allow
that (an Allow for the service, no Deny that holds) and, for a topic encrypted with a customer managed key, the key's
policy must let CloudWatch use it ("Encrypting Amazon SNS topics", CloudWatch user guide: kms:Decrypt and
kms:GenerateDataKey*). Otherwise the alarm fires into nothing. An alarm about a topic's subscribers (its dimension
names the topic) that tells that topic cannot be heard by anyone when it fires."""
from __future__ import annotations

import re

from tests.support.policy_eval import Request, allowed


def _topics(stacks) -> dict[str, dict]:
    """topic ARN -> {"name", "policy", "key_policy"} over the env's stacks."""
    out = {}
    keys = {lid: r for stack in stacks.values() for lid, r in stack.resources("AWS::KMS::Key").items()}
    for stack in stacks.values():
        for lid, topic in stack.resources("AWS::SNS::Topic").items():
            arn = stack.physical(lid, None)
            marker = re.fullmatch(r"<Ref (\w+)>", str(topic["Properties"].get("KmsMasterKeyId", "")))
            key = keys.get(marker.group(1)) if marker else None
            out[arn] = {"name": topic["Properties"]["TopicName"], "policy": None,
                        "key_policy": key["Properties"]["KeyPolicy"] if key else None}
    for stack in stacks.values():
        for policy in stack.resources("AWS::SNS::TopicPolicy").values():
            for arn in policy["Properties"]["Topics"]:
                arn = stack.physical(re.fullmatch(r"<Ref (\w+)>", arn).group(1), None) if str(arn).startswith("<Ref ") else arn
                out[arn]["policy"] = policy["Properties"]["PolicyDocument"]
    return out


def test_every_alarm_action_is_let_in_by_its_topic_and_key_and_no_unheard_alarm_tells_its_topic(stacks_by_env):
    problems, checked = [], 0
    for label, stacks in stacks_by_env.items():
        topics = _topics(stacks)
        for stack in stacks.values():
            account, region = stack.pseudo["AWS::AccountId"], stack.pseudo["AWS::Region"]
            for lid, alarm in stack.resources("AWS::CloudWatch::Alarm").items():
                props = alarm["Properties"]
                alarm_arn = stack.physical(lid, "Arn")
                dims = {str(d["Value"]) for d in props.get("Dimensions", [])}
                for action in {a for k in ("AlarmActions", "OKActions", "InsufficientDataActions") for a in props.get(k, [])}:
                    if not str(action).startswith("arn:aws:sns:"):
                        continue
                    checked += 1
                    topic = topics.get(action)
                    if topic is None:
                        problems.append(f"{label}: {lid} tells {action}, which no stack of the env creates")
                        continue
                    if topic["name"] in dims:
                        problems.append(f"{label}: {lid} says nobody hears {topic['name']}, and tells that same topic")
                    context = {"aws:SourceArn": alarm_arn, "aws:SourceAccount": account}
                    publish = Request("", "sns:Publish", action, context, service="cloudwatch.amazonaws.com")
                    if topic["policy"] is None or not allowed(topic["policy"], publish):
                        problems.append(f"{label}: {lid}'s topic policy does not let the alarm publish")
                    for kms_action in ("kms:Decrypt", "kms:GenerateDataKey"):
                        use = Request("", kms_action, f"arn:aws:kms:{region}:{account}:key/k", context,
                                      service="cloudwatch.amazonaws.com")
                        if topic["key_policy"] is not None and not allowed(topic["key_policy"], use):
                            problems.append(f"{label}: {lid}'s topic key does not let CloudWatch {kms_action}")
    assert checked, "no alarm action was checked"
    assert not problems, "\n".join(sorted(set(problems)))
