"""Email subscriptions of a topic, one resource per address, in one template shared by every env.

Each address any env lists becomes an AWS::SNS::Subscription whose logical ID is derived from the address
alone (config.subscription_logical_id), under a condition on the Environment parameter that holds in exactly
the envs that list it: raw CloudFormation, no transform, and adding or removing one address touches only
that subscription.
"""
from __future__ import annotations

from troposphere import Equals, Or, Ref, Template, sns

from infra.config import subscription_logical_id


def add(t: Template, topic: sns.Topic, emails_by_env: dict[str, tuple[str, ...]]) -> None:
    """e.g. ml-team@example.com -> EmailSubscriptionmlteamexamplecom, under the condition
    EmailSubscriptionmlteamexamplecomInEnv (Environment is dev or prod)."""
    envs_by_email: dict[str, list[str]] = {}
    for env_name, emails in sorted(emails_by_env.items()):
        for email in emails:
            envs_by_email.setdefault(email, []).append(env_name)
    for email, env_names in sorted(envs_by_email.items()):
        logical_id = subscription_logical_id(email)
        condition = f"{logical_id}InEnv"
        t.add_condition(condition, environment_is_one_of(env_names))
        t.add_resource(sns.SubscriptionResource(
            logical_id, Condition=condition, Endpoint=email, Protocol="email", TopicArn=Ref(topic),
        ))


def environment_is_one_of(env_names: list[str]):
    """Fn::Equals for one env, Fn::Or of them for several (Fn::Or takes 2 to 10 conditions: nest beyond)."""
    tests = [Equals(Ref("Environment"), name) for name in env_names]
    while len(tests) > 1:
        tests = [Or(*group) if len(group) > 1 else group[0] for group in (tests[i:i + 10] for i in range(0, len(tests), 10))]
    return tests[0]
