"""Email subscriptions of a topic, one resource per address the env lists.

Each address is an AWS::SNS::Subscription whose logical ID is derived from the address alone
(config.subscription_logical_id): adding or removing one address touches only that subscription.
"""
from __future__ import annotations

from troposphere import Template, sns

from infra.config import subscription_logical_id


def add(t: Template, topics: list, emails: tuple[str, ...]) -> None:
    """e.g. ml-team@example.com -> EmailSubscriptionmlteamexamplecom, to the template's one topic."""
    (topic,) = topics  # the IDs come from the address alone: one topic per template
    for email in sorted(set(emails)):
        t.add_resource(sns.SubscriptionResource(
            subscription_logical_id(email), Endpoint=email, Protocol="email", TopicArn=topic,
        ))
