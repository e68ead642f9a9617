"""The figures the docs give that follow from the code: config limits, deployment defaults, the cost estimate, the
template size limit. Each is derived here from the code, so a change of schema or defaults fails until the docs say
the same.

Found: the docs gave the largest template's size and the cost of the sample's envs, which move with config (and an
adopter's config); those figures were removed. What is left depends on the code alone, never on config/, so this
passes on any adopter's config too.
"""
from __future__ import annotations

import re

from infra.config import schema
from infra.config.loader import deployment_settings
from infra.output import size_limits
from tests.conftest import ROOT

DOCS = ROOT / "docs"
HOURS_A_MONTH = 730  # the hours-per-month AWS pricing pages use


def _row_of(text: str, key: str) -> str:
    """The configuration reference's table row whose first cell starts with `key`."""
    rows = [line for line in text.splitlines() if line.startswith(f"| `{key}`")]
    assert len(rows) == 1, f"docs/configuration.md: one row for `{key}`, found {len(rows)}"
    return rows[0]


def _node(key: str) -> dict:
    for root in (schema.PROJECT, schema.ENVIRONMENT):
        node = root
        for part in key.split("."):
            node = node.get("properties", {}).get(part)
            if node is None:
                break
        else:
            return node
    raise AssertionError(f"no schema node for {key}")


# key -> the text its row in docs/configuration.md must hold, from the key's schema node.
def _items(n):
    return f"{n['minItems']}–{n['maxItems']} addresses"


def _at_most(n):
    return f"≤ {n['maxItems']}"


LIMITS = {
    "project.name": lambda n: f"({n['minLength']}–{n['maxLength']})",
    "project.short_name": lambda n: f"({n['minLength']}–{n['maxLength']})",
    "project.description": lambda n: f"≤ {n['maxLength']:,} characters",
    "environments": lambda n: f"≤ {n['items']['maxLength']} chars",
    "notifications.emails": _items,
    "operations.emails": _items,
    "sagemaker.data_uploaders": _at_most,
    "kpi.analyst_principals": _at_most,
    "kpi.quicksight_principals": _at_most,
    "sagemaker.model_approval_threshold": lambda n: f"{n['minimum']}–{n['maximum']}",
    "kpi.athena_bytes_scanned_cutoff": lambda n: f"≥ {n['minimum'] // 2 ** 20} MiB",
}
A_LIMIT = re.compile(r"[≤≥]\s*\d|\d–\d")


def test_the_configuration_reference_states_the_schemas_limits():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    wrong = [f"`{key}`: expected {claim(_node(key))!r}" for key, claim in LIMITS.items()
             if claim(_node(key)) not in _row_of(text, key)]
    assert not wrong, "docs/configuration.md disagrees with infra/config/schema.py:\n" + "\n".join(wrong)
    # A limit written in another row is checked here too, or it could drift unseen.
    unchecked = [line.split("|")[1].strip() for line in text.splitlines()
                 if line.startswith("| `") and A_LIMIT.search(line.split("|")[3])
                 and not any(line.startswith(f"| `{key}`") for key in LIMITS)]
    assert not unchecked, f"rows with a limit this test does not derive (add them to LIMITS): {unchecked}"


def test_the_notifications_example_states_the_address_limit():
    emails = _node("notifications.emails")
    assert f"# {emails['minItems']}..{emails['maxItems']} addresses" in (DOCS / "notifications.md").read_text(encoding="utf-8")


def test_the_cost_estimate_follows_the_default_instances():
    text = " ".join((DOCS / "deployment.md").read_text(encoding="utf-8").split())
    found = re.search(r"- (ml\.[a-z0-9.]+) real-time inference costs about \$([\d.]+) an hour", text)
    assert found, "docs/deployment.md: the price the estimate starts from"
    instance, price = found.group(1), float(found.group(2))
    defaults = deployment_settings("", {})
    assert instance == defaults.instance_type
    production = price * defaults.min_instances
    with_staging = price * (defaults.min_instances + 1)  # staging runs the default instance type too

    def month(hourly: float) -> int:
        return int(5 * round(hourly * HOURS_A_MONTH / 5))

    expected = (f"${production:.2f} an hour, or about ${month(production)} a month, in endpoint instances alone "
                f"(${with_staging:.2f} and ${month(with_staging)} with `keep_staging: true`)")
    assert expected in text, f"docs/deployment.md should say: {expected}"


def test_every_template_size_limit_the_docs_give_is_cloudformations():
    limit = f"{size_limits.TEMPLATE_BODY_LIMIT:,}"
    wrong = []
    for page in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for number in re.findall(r"(\d{2},\d{3})[- ]bytes?", page.read_text(encoding="utf-8")):
            if number != limit:
                wrong.append(f"{page.relative_to(ROOT)}: {number} bytes")
    assert not wrong, f"CloudFormation's inline limit is {limit} bytes (infra/output/size_limits.py): {wrong}"
