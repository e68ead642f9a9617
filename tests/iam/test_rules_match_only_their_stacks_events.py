"""A push cannot widen a rule to the account's other events: every events:PutRule a push-deployed stack's deploy
role holds names the sources and detail types (events:source, events:detail-type) of that stack's rules.

EventBridge's documented semantics ("Using IAM policy conditions in Amazon EventBridge", EventBridge user guide):
with StringEquals on these keys, PutRule is allowed only when the rule's pattern names one listed source (and one
listed detail type); a pattern naming none, or several, is refused. So each rule a stack renders must name exactly
one of each, and its deploy role must list them; the role's lists must be exactly what the stack renders (the
table infra/iam/rule_events.py, which the stacks' patterns and the policies both use).
"""
from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pytest

from tests.iam.test_push_cannot_write_resource_policies import PUSH_DEPLOYED, _roles, with_role
from tests.support.cfn import as_list, role_statements

KEYS = ("events:source", "events:detail-type")
PATTERN_FIELDS = {"events:source": "source", "events:detail-type": "detail-type"}


def rules(template: dict) -> dict[str, dict]:
    return {lid: r["Properties"] for lid, r in template["Resources"].items() if r["Type"] == "AWS::Events::Rule"}


def put_rule_grants(resources: dict, role: str) -> list[dict]:
    return [st for st in role_statements({"Resources": resources}, role) if st["Effect"] == "Allow"
            and any(fnmatchcase("events:putrule", a.lower()) for a in as_list(st["Action"]))]


def unconditioned(grants: list[dict]) -> list[str]:
    """PutRule grants that do not hold both keys with StringEquals (any other form lets a pattern through)."""
    return [st.get("Sid", "?") for st in grants
            if set(st.get("Condition", {})) != {"StringEquals"} or not set(KEYS) <= set(st["Condition"]["StringEquals"])]


def refused(pattern: dict | None, grants: list[dict]) -> str | None:
    """Why no grant lets this pattern be put (None: one does)."""
    if not pattern:
        return "the rule has no event pattern"
    for key, field in PATTERN_FIELDS.items():
        if len(as_list(pattern.get(field, []))) != 1:
            return f"its pattern must name exactly one {field} (StringEquals refuses none or several)"
    for st in grants:
        allowed = st.get("Condition", {}).get("StringEquals", {})
        if all(as_list(pattern[field])[0] in as_list(allowed.get(key, [])) for key, field in PATTERN_FIELDS.items()):
            return None
    return f"no PutRule grant lists {pattern['source']} / {pattern['detail-type']}"


def problems(env, stack: str) -> list[str]:
    role = PUSH_DEPLOYED[stack]
    grants = put_rule_grants(_roles(env), role)
    out = [f"{env.label}: {stack}: {role} {sid} grants events:PutRule without StringEquals on {KEYS}"
           for sid in unconditioned(grants)]
    rendered = rules(env.template(stack)) if env.renders(stack) else {}
    for lid, props in sorted(rendered.items()):
        why = refused(props.get("EventPattern"), grants)
        if why:
            out.append(f"{env.label}: {stack}: rule {lid}: {why}")
    # Exactly what the stack renders: a role that lists more lets a push add rules on events the stack never uses.
    # (An env that renders no such stack has no such role either: serving-iam is only where the env serves models.)
    for key, field in PATTERN_FIELDS.items() if env.renders(stack) else ():
        allowed = {v for st in grants for v in as_list(st.get("Condition", {}).get("StringEquals", {}).get(key, []))}
        used = {v for props in rendered.values() for v in as_list((props.get("EventPattern") or {}).get(field, []))}
        if allowed != used:
            out.append(f"{env.label}: {stack}: {role} allows {key} {sorted(allowed)}, its rules use {sorted(used)}")
    return out


@pytest.mark.parametrize("stack", list(PUSH_DEPLOYED))
def test_every_rule_writing_grant_is_held_to_its_stacks_events(envs, stack):
    found = [p for env in with_role(envs, PUSH_DEPLOYED[stack]) for p in problems(env, stack)]
    assert not found, "\n".join(found)


def test_the_check_catches_an_unconditioned_grant_and_a_widened_pattern(envs):
    """The grant as it was (PutRule on the env's rules, no condition), and a rule widened to every event."""
    env = next(e for e in envs if e.renders("notifications"))
    resources = _roles(env)
    role = PUSH_DEPLOYED["notifications"]
    policy = resources[role]["Properties"]["Policies"][0]["PolicyDocument"]
    for st in policy["Statement"]:
        if "events:PutRule" in as_list(st["Action"]):
            st.pop("Condition", None)
    found = [p for p in problems(env.replaced("deploy-roles", json.dumps({"Resources": resources})), "notifications")]
    assert any("without StringEquals" in p for p in found), found

    template = env.template("notifications")
    for props in rules(template).values():
        props["EventPattern"] = {"account": [{"prefix": ""}]}
    widened = env.replaced("notifications", json.dumps(template))
    assert any("exactly one source" in p for p in problems(widened, "notifications"))

