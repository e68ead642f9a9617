"""Who hears the env's two topics: `make status` and `make deploy` list each subscription still waiting for confirmation.

SNS lists a subscription that is not confirmed yet with SubscriptionArn "PendingConfirmation" (ListSubscriptionsByTopic,
Amazon SNS API reference); it receives nothing until the address's owner follows the link in SNS's e-mail. A topic
with no confirmed subscriber tells no one (the subscriber check's alarm says so too: lambda_src/subscriber_check)."""
from __future__ import annotations

from infra.config.regions import KNOWN_REGIONS

PENDING = "PendingConfirmation"


def topic_arns(n, account: str) -> dict[str, str]:
    """topic name -> ARN, for the model-approvals and the operations topic."""
    partition = KNOWN_REGIONS[n.env.region]
    return {name: f"arn:{partition}:sns:{n.env.region}:{account}:{name}" for name in (n.topic, n.operations_topic)}


def _subscriptions(sns, topic_arn: str) -> list[dict]:
    return [s for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
            for s in page["Subscriptions"]]


def lines(sns, n, account: str) -> list[str]:
    """Per topic: how many confirmed subscribers it has, then one line per subscription waiting for confirmation."""
    out = []
    for name, arn in topic_arns(n, account).items():
        subscriptions = _subscriptions(sns, arn)
        confirmed = sum(1 for s in subscriptions if s["SubscriptionArn"].startswith("arn:"))
        pending = [s for s in subscriptions if s["SubscriptionArn"] == PENDING]
        heard = "" if confirmed else "  (nobody hears this topic: confirm a subscription)"
        out.append(f"{name:<48} {confirmed} confirmed, {len(pending)} waiting for confirmation{heard}")
        out += [f"{name}: {s['Protocol']} {s['Endpoint']} waits for confirmation (the link in SNS's e-mail to it)"
                for s in pending]
    return out


def pending(sns, n, account: str) -> list[str]:
    """Only the lines of subscriptions waiting for confirmation."""
    return [line for line in lines(sns, n, account) if line.endswith("(the link in SNS's e-mail to it)")]
