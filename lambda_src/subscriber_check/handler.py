"""The subscriber check: on a schedule, publish how many confirmed subscribers each of the env's topics has.

SNS publishes no metric of a topic's subscribers (only deliveries, failures and publishes: "Monitoring Amazon SNS topics
using CloudWatch", SNS developer guide), and a subscription waiting for confirmation is listed with SubscriptionArn
"PendingConfirmation" (ListSubscriptionsByTopic). The alarms on ConfirmedSubscribers (the KPI stack's) fire below one,
and when no count arrives at all (this function failing or not running): so a topic nobody hears shows on the dashboard
and in `make status` whatever its subscriptions are. A failed run is raised, never swallowed: the next scheduled run,
15 minutes later, is the retry, and an hour without a data point is the alarm.

Environment: TOPIC_ARNS (comma-separated), METRICS_NAMESPACE.
"""
from __future__ import annotations

import os

from shared.clients import client
from shared.log import log

from .contract import DIMENSION, METRIC


def confirmed_subscribers(sns, topic_arn: str) -> int:
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
    return sum(1 for page in pages for s in page["Subscriptions"] if s["SubscriptionArn"].startswith("arn:"))


def lambda_handler(event, context) -> dict:
    counts = {arn.rsplit(":", 1)[-1]: confirmed_subscribers(client("sns"), arn)
              for arn in os.environ["TOPIC_ARNS"].split(",")}
    client("cloudwatch").put_metric_data(Namespace=os.environ["METRICS_NAMESPACE"], MetricData=[
        {"MetricName": METRIC, "Dimensions": [{"Name": DIMENSION, "Value": topic}], "Value": count, "Unit": "Count"}
        for topic, count in sorted(counts.items())])
    for topic, count in sorted(counts.items()):
        log("WARNING" if count == 0 else "INFO", "confirmed subscribers", topic=topic, confirmed=count)
    return counts
