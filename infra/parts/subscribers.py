"""Who hears a topic. Each kind of subscriber is one module whose `add(t, topics, targets)` adds the resources for the
env's targets of that kind (logical IDs from the target alone) to the `topics` given (a topic of the template or an
imported ARN): e-mail addresses (one template's topic each), chat channels (one configuration for both topics, as a
channel takes one per account). The next kind is one more module and one more entry here."""
from __future__ import annotations

from troposphere import Template

from infra.parts import chat_subscriptions, email_subscriptions

KINDS = {"chat": chat_subscriptions.add, "email": email_subscriptions.add}


def add(t: Template, topics: list, targets_by_kind: dict) -> None:
    """`targets_by_kind`: kind -> the env's targets, e.g. {"email": ("ml-team@example.com",)}; none: nothing renders."""
    for kind, targets in sorted(targets_by_kind.items()):
        if targets:
            KINDS[kind](t, topics, targets)
