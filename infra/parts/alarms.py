"""The alarm shapes every stack uses: anything above zero in five minutes tells the operations topic (or, for a count
that must not drop to zero, nothing in an hour).

`ok_actions`: also send the all-clear (for conditions that clear by themselves, such as a queue's depth).
"""
from __future__ import annotations

from awacs.aws import ArnLike, Condition, StringEquals
from troposphere import Ref, Sub, cloudwatch

ALARMS_ARN = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${ResourcePrefix}-*"


def _alarm(logical_id: str, alarm_name, description, namespace, metric, topic, ok_actions: bool, **shape) -> cloudwatch.Alarm:
    return cloudwatch.Alarm(logical_id, AlarmName=alarm_name, AlarmDescription=description, Namespace=namespace,
                            MetricName=metric, EvaluationPeriods=1, AlarmActions=[topic],
                            **({"OKActions": [topic]} if ok_actions else {}), **shape)


def any_in_five_minutes(logical_id: str, alarm_name, description, namespace, metric, topic, dimension: tuple | None = None,
                        statistic: str = "Sum", ok_actions: bool = True, **kwargs) -> cloudwatch.Alarm:
    """`dimension`: (name, value) of the metric's one dimension, if it has one; kwargs: Condition and the like."""
    extra = {"Dimensions": [cloudwatch.MetricDimension(Name=dimension[0], Value=dimension[1])]} if dimension else {}
    return _alarm(logical_id, alarm_name, description, namespace, metric, topic, ok_actions, Statistic=statistic,
                  Period=300, Threshold=0, ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
                  **extra, **kwargs)


def none_in_an_hour(logical_id: str, alarm_name, description, namespace, metric, topic, dimension: tuple) -> cloudwatch.Alarm:
    """The other shape: a count that must stay at one or more, published every few minutes; an hour whose lowest value
    is below one, or with no value at all (the publisher failed or never ran), tells the topic, and so does the all-clear."""
    return _alarm(logical_id, alarm_name, description, namespace, metric, topic, True,
                  Dimensions=[cloudwatch.MetricDimension(Name=dimension[0], Value=dimension[1])], Statistic="Minimum",
                  Period=3600, Threshold=1, ComparisonOperator="LessThanThreshold", TreatMissingData="breaching")


def alarm_source_conditions() -> Condition:
    """Confused-deputy guard for CloudWatch: this account's alarms of this environment."""
    return Condition([StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")}), ArnLike({"aws:SourceArn": Sub(ALARMS_ARN)})])
