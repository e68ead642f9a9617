"""Every accepted checkov finding has a reason, sits in its resource's Metadata and is listed in docs/security.md."""
from __future__ import annotations

import pytest

from infra.cfn.scanner_skips import SKIPS
from infra.stacks import BUILDERS
from tests.support.cfn import load
from tests.conftest import ROOT


def _skips_in_templates(rendered, env) -> dict[tuple[str, str], dict[str, str]]:
    found = {}
    for stack in (s for s in BUILDERS if f"{env}/{s}.yaml" in rendered):
        for logical_id, res in load(rendered[f"{env}/{stack}.yaml"]).get("Resources", {}).items():
            skips = res.get("Metadata", {}).get("checkov", {}).get("skip", []) if isinstance(res, dict) else []
            if skips:
                found[(stack, logical_id)] = {s["id"]: s["comment"] for s in skips}
    return found


@pytest.mark.every_env
def test_templates_carry_exactly_the_skips_of_the_table(rendered, env):
    """The table's entries for the stacks the env renders."""
    rendered_stacks = {path.split("/")[1][:-len(".yaml")] for path in rendered if path.startswith(f"{env}/")}
    assert _skips_in_templates(rendered, env) == {where: skips for where, skips in SKIPS.items() if where[0] in rendered_stacks}


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
