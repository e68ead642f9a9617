"""Every policy fits IAM's size limits for every env and for the longest names config accepts.

IAM counts characters without white space: a role's inline policies together at most 10,240, a managed
policy at most 6,144. The KPI deploy role once reached 10,358 with long names, so the deploy-roles stack
could not be created for a config the loader accepted.
"""
from __future__ import annotations

import json


from infra.output import render
from infra.stacks import BUILDERS
from tests.support.longest_names import longest_project
from tests.support.resolve import resolve_all

INLINE_LIMIT = 10_240
MANAGED_LIMIT = 6_144


def _size(document) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def size_problems(stacks) -> list[str]:
    problems = []
    for key, stack in stacks.items():
        inline: dict[str, int] = {}
        for logical_id, role in stack.resources("AWS::IAM::Role").items():
            inline[logical_id] = sum(_size(p["PolicyDocument"]) for p in role["Properties"].get("Policies", []))
        for policy in stack.resources("AWS::IAM::Policy").values():  # inline too, on the roles it names
            for role in policy["Properties"]["Roles"]:
                owner = next(k for k, r in stack.resources("AWS::IAM::Role").items() if r["Properties"]["RoleName"] == role)
                inline[owner] += _size(policy["Properties"]["PolicyDocument"])
        problems += [f"{key}.yaml {r}: {n} characters of inline policy (IAM: {INLINE_LIMIT})" for r, n in inline.items() if n > INLINE_LIMIT]
        for logical_id, policy in stack.resources("AWS::IAM::ManagedPolicy").items():
            n = _size(policy["Properties"]["PolicyDocument"])
            if n > MANAGED_LIMIT:
                problems.append(f"{key}.yaml {logical_id}: {n} characters (IAM: {MANAGED_LIMIT} per managed policy)")
    return problems


def test_every_policy_fits_in_every_env(rendered, project):
    problems = [f"env {env}: {p}" for env in project.environments for p in size_problems(resolve_all(rendered, project, env, list(BUILDERS)))]
    assert not problems, "\n".join(problems)


def test_every_policy_fits_with_the_longest_names(project):
    longest = longest_project(project)
    env = next(iter(longest.environments))
    problems = size_problems(resolve_all(render.render(longest), longest, env, list(BUILDERS)))
    assert not problems, "\n".join(problems)


def test_the_check_catches_an_inline_policy_over_the_limit(rendered, project):
    env = next(iter(project.environments))
    stacks = resolve_all(rendered, project, env, list(BUILDERS))
    role = stacks["iam"].template["Resources"]["CodePipelineRole"]["Properties"]
    filler = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::" + "x" * 11_000]}
    role["Policies"][0]["PolicyDocument"]["Statement"].append(filler)
    assert any("CodePipelineRole" in p and "inline policy" in p for p in size_problems({"iam": stacks["iam"]}))
