"""Statement ids are unique within every policy document, whichever of its conditional statements a config keeps.

IAM refuses a policy whose Sids repeat ("In IAM, the Sid value must be unique within a JSON policy"), so a
duplicate fails `make deploy` at that stack, and only for the configs that keep both statements: the boundary's
source-type statements once repeated a common one's Sid only where the source is S3.
"""
from __future__ import annotations

import itertools

from infra.stacks import BUILDERS
from tests.support.cfn import as_list, load, policies


def _variants(statements: list) -> list[list[dict]]:
    """The statement list under every assignment of the template conditions its Fn::If items name."""
    conditions = sorted({st["Fn::If"][0] for st in statements if isinstance(st, dict) and set(st) == {"Fn::If"}})
    out = []
    for values in itertools.product((True, False), repeat=len(conditions)):
        chosen = dict(zip(conditions, values))
        kept = []
        for st in statements:
            if isinstance(st, dict) and set(st) == {"Fn::If"}:
                name, then, otherwise = st["Fn::If"]
                st = then if chosen[name] else otherwise
            if st != {"Ref": "AWS::NoValue"}:
                kept.append(st)
        out.append(kept)
    return out


def duplicate_sids(rendered: dict[str, str]) -> list[str]:
    problems = []
    for stack in BUILDERS:
        for logical_id, _, prop, document in policies(load(rendered[f"{stack}.yaml"])):
            for variant in _variants(as_list(document.get("Statement", []))):
                sids = [st.get("Sid") for st in variant if isinstance(st, dict) and st.get("Sid")]
                repeated = sorted({sid for sid in sids if sids.count(sid) > 1})
                if repeated:
                    problems.append(f"{stack}.yaml {logical_id} {prop}: Sid {repeated} repeats")
    return sorted(set(problems))


def test_no_policy_repeats_a_sid_under_any_config(rendered):
    assert duplicate_sids(rendered) == []


def test_the_check_catches_a_repeat_that_only_one_branch_makes(rendered):
    text = rendered["boundaries.yaml"]
    first = text.index("Sid: S3SourceS3") if "Sid: S3SourceS3" in text else None
    assert first is not None, "the boundary's S3-source statements are no longer where this test expects them"
    broken = text[:first] + "Sid: S3" + text[first + len("Sid: S3SourceS3"):]
    assert any("DeliveryRolesBoundary" in p for p in duplicate_sids({**rendered, "boundaries.yaml": broken}))


def test_iam_sids_use_only_letters_and_digits(rendered):
    """IAM: "The Sid element supports ASCII uppercase letters (A-Z), lowercase letters (a-z), and numbers (0-9)"."""
    import re

    bad = [f"{stack}.yaml {logical_id} {prop}: {st.get('Sid')!r}"
           for stack in BUILDERS for logical_id, rtype, prop, document in policies(load(rendered[f"{stack}.yaml"]))
           if rtype.startswith("AWS::IAM::")
           for variant in _variants(as_list(document.get("Statement", []))) for st in variant
           if isinstance(st, dict) and "Sid" in st and not re.fullmatch(r"[A-Za-z0-9]*", str(st["Sid"]))]
    assert bad == []
