"""Statement ids are unique within every policy document, in every env's template, whichever options its config turns on.

IAM refuses a policy whose Sids repeat ("In IAM, the Sid value must be unique within a JSON policy"), so a
duplicate fails `make deploy` at that stack, and only for the configs that hold both statements: the boundary's
source-type statements once repeated a common one's Sid only where the source is S3. Each env's template now holds
only its own statements, so the check reads every env of config/ and of variants that turn each option on (one per
source type) and off (tests/support/concrete_envs.py).
"""
from __future__ import annotations

import re


from infra.stacks import BUILDERS
from tests.support.cfn import as_list, policies
from tests.support.concrete_envs import all_on


def _statements(document: dict) -> list[dict]:
    out = as_list(document.get("Statement", []))
    assert not any(isinstance(st, dict) and "Fn::If" in st for st in out), "a concrete template holds no Fn::If"
    return out


def duplicate_sids(envs) -> list[str]:
    problems = []
    for env in envs:
        for stack in env.stacks:
            for logical_id, _, prop, document in policies(env.template(stack)):
                sids = [st.get("Sid") for st in _statements(document) if isinstance(st, dict) and st.get("Sid")]
                repeated = sorted({sid for sid in sids if sids.count(sid) > 1})
                if repeated:
                    problems.append(f"{env.label}/{stack}.yaml {logical_id} {prop}: Sid {repeated} repeats")
    return sorted(set(problems))


def test_no_policy_repeats_a_sid_under_any_config(envs):
    assert duplicate_sids(envs) == []


def test_the_check_catches_a_repeat_that_only_an_s3_source_makes(envs):
    """The S3-source env's boundary holds S3SourceS3 beside the common S3 statement: named S3, the two repeat."""
    (env, *_) = [e for e in envs if e.label.startswith(all_on("s3") + ":")]
    text = env.text("boundaries")
    first = text.index("Sid: S3SourceS3") if "Sid: S3SourceS3" in text else None
    assert first is not None, "the boundary's S3-source statements are no longer where this test expects them"
    assert "Sid: S3\n" in text, "the boundary's common S3 statement is no longer named S3"
    broken = text[:first] + "Sid: S3" + text[first + len("Sid: S3SourceS3"):]
    assert any("DeliveryRolesBoundary" in p for p in duplicate_sids([env.replaced("boundaries", broken)]))


def test_iam_sids_use_only_letters_and_digits(envs):
    """IAM: "The Sid element supports ASCII uppercase letters (A-Z), lowercase letters (a-z), and numbers (0-9)"."""
    bad = [f"{env.label}/{stack}.yaml {logical_id} {prop}: {st.get('Sid')!r}"
           for env in envs for stack in env.stacks for logical_id, rtype, prop, document in policies(env.template(stack))
           if rtype.startswith("AWS::IAM::")
           for st in _statements(document)
           if isinstance(st, dict) and "Sid" in st and not re.fullmatch(r"[A-Za-z0-9]*", str(st["Sid"]))]
    assert bad == []
