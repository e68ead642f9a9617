"""Email subscriptions of a topic, one resource per address the env lists.

Each address is an AWS::SNS::Subscription whose logical ID is derived from the address alone
(config.subscription_logical_id): adding or removing one address touches only that subscription.
"""
from __future__ import annotations

from troposphere import Ref, Template, sns

from infra.config import subscription_logical_id


def add(t: Template, topic: sns.Topic, emails: tuple[str, ...]) -> None:
    """e.g. ml-team@example.com -> EmailSubscriptionmlteamexamplecom."""
    for email in sorted(set(emails)):
        t.add_resource(sns.SubscriptionResource(
            subscription_logical_id(email), Endpoint=email, Protocol="email", TopicArn=Ref(topic),
        ))
