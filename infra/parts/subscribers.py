"""Who hears a topic. Each kind of subscriber is one module whose `add(t, topic, targets_by_env)` adds, for every
target any env lists, its resources under a condition that holds in exactly those envs (logical IDs from the
target alone). E-mail is the one kind today; a chat channel would be one more module and one more entry here."""
from __future__ import annotations

from troposphere import Template, sns

from infra.parts import email_subscriptions

KINDS = {"email": email_subscriptions.add}


def add(t: Template, topic: sns.Topic, targets_by_kind: dict[str, dict[str, tuple[str, ...]]]) -> None:
    """`targets_by_kind`: kind -> env name -> that env's targets, e.g. {"email": {"dev": ("ml-team@example.com",)}}."""
    for kind, targets_by_env in sorted(targets_by_kind.items()):
        KINDS[kind](t, topic, targets_by_env)
