"""Every accepted checkov finding has a reason, sits in its resource's Metadata and is listed in docs/security.md."""
from __future__ import annotations

import pytest

from infra.cfn.scanner_skips import SKIPS
from infra.stacks import BUILDERS
from tests.support.cfn import load
from tests.support.concrete_envs import env_renders
from tests.conftest import ROOT


def _skips_in_templates(rendered, env) -> dict[tuple[str, str], dict[str, str]]:
    found = {}
    for stack in (s for s in BUILDERS if f"{env}/{s}.yaml" in rendered):
        for logical_id, res in load(rendered[f"{env}/{stack}.yaml"]).get("Resources", {}).items():
            skips = res.get("Metadata", {}).get("checkov", {}).get("skip", []) if isinstance(res, dict) else []
            if skips:
                found[(stack, logical_id)] = {s["id"]: s["comment"] for s in skips}
    return found


def _resources(rendered, env) -> set[tuple[str, str]]:
    return {(stack, logical_id) for stack in BUILDERS if f"{env}/{stack}.yaml" in rendered
            for logical_id in load(rendered[f"{env}/{stack}.yaml"]).get("Resources", {})}


def test_templates_carry_exactly_the_skips_of_the_table(project, rendered):
    """The table's entries for the resources each env renders (of config/ and of every variant), and every entry's
    resource in some env's render: a skip outlives no resource."""
    seen = set()
    for env in env_renders(project, rendered):
        resources = _resources(env.rendered, env.env)
        seen |= resources
        assert _skips_in_templates(env.rendered, env.env) == {where: skips for where, skips in SKIPS.items()
                                                              if where in resources}, env.label
    assert set(SKIPS) <= seen, f"skips of resources no env renders: {sorted(set(SKIPS) - seen)}"


def test_every_skip_has_a_reason_a_reviewer_can_read():
    for where, checks in SKIPS.items():
        for check, reason in checks.items():
            assert check.startswith("CKV_") and len(reason) > 60, f"{where} {check}: say why"


def test_the_security_page_lists_exactly_the_skips():
    import re

    page = (ROOT / "docs" / "security.md").read_text()
    listed = set(re.findall(r"^\| `(CKV_[A-Z0-9_]+)` \| `([a-z-]+)\.yaml` `(\w+)` \|", page, re.M))
    expected = {(check, stack, logical_id) for (stack, logical_id), checks in SKIPS.items() for check in checks}
    assert listed == expected, f"docs/security.md lists {sorted(listed - expected)} too many, lacks {sorted(expected - listed)}"
