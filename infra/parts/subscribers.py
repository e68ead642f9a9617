"""Who hears a topic. Each kind of subscriber is one module whose `add(t, topic, targets)` adds the resources for
the env's targets of that kind (logical IDs from the target alone). E-mail is the one kind today; a chat channel
would be one more module and one more entry here."""
from __future__ import annotations

from troposphere import Template, sns

from infra.parts import email_subscriptions

KINDS = {"email": email_subscriptions.add}


def add(t: Template, topic: sns.Topic, targets_by_kind: dict[str, tuple[str, ...]]) -> None:
    """`targets_by_kind`: kind -> the env's targets, e.g. {"email": ("ml-team@example.com",)}."""
    for kind, targets in sorted(targets_by_kind.items()):
        KINDS[kind](t, topic, targets)
