"""Both sides of a promotion agree: every request a serving env's role may make in its source env's account (its
identity statements naming that account) is one the source's group, bucket or key policy allows that role, and every
role the source grants something holds a statement using it. A grant on one side that the other lacks is a first
deploy that fails (an AccessDenied in the deployment pipeline) or a grant nobody needs: both fail here.

Read from the PROMOTION variant (tests/support/concrete_envs.py), every name from the rendered templates.
"""
from __future__ import annotations

import json

import pytest

from tests.support.concrete_envs import PROMOTION, EnvRender, variant_renders
from tests.support.policy_eval import Request, allowed

# Which of the source's resource policies decides a request, by the action's service.
DOCUMENTS = {"sagemaker": ("ModelPackageGroup", "ModelPackageGroupPolicy"),
             "s3": ("ArtifactBucketPolicy", "PolicyDocument"), "kms": ("ArtifactKey", "KeyPolicy")}
# The source's grant make deploy probes with the operator's credentials (docs/promotion.md): no role of B uses it.
OPERATOR_PROBE = "ServingAccountSeesTheGroup"


def _plain(node, r: EnvRender):
    """A rendered fragment as IAM reads it in r's account: Subs written out."""
    if isinstance(node, dict) and set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
        return (r.concrete(node["Fn::Sub"]).replace("${AWS::Partition}", "aws").replace("${AWS::Region}", r.project.env(r.env).region)
                .replace("${AWS::AccountId}", r.project.env(r.env).account_id))
    if isinstance(node, dict):
        return {key: _plain(value, r) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item, r) for item in node]
    return node


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def _sample(pattern: str) -> str:
    """One concrete value a pattern names: its wildcards as a version number or key."""
    return pattern.replace("*", "1")


@pytest.fixture(scope="module")
def sides(project) -> tuple[EnvRender, EnvRender]:
    variant, rendered = variant_renders(project)[PROMOTION]
    taker = next(name for name, e in variant.environments.items() if e.deployment and e.deployment.models_from)
    source = variant.env(taker).deployment.models_from
    return (EnvRender(f"{PROMOTION}: {source}", variant, source, rendered),
            EnvRender(f"{PROMOTION}: {taker}", variant, taker, rendered))


def _serving_roles(b: EnvRender) -> dict[str, str]:
    """Logical id -> role ARN, for the serving env's roles (serving-iam)."""
    resources = b.template("serving-iam")["Resources"]
    account = b.project.env(b.env).account_id
    return {rid: f"arn:aws:iam::{account}:role{_plain(res['Properties']['Path'], b)}{_plain(res['Properties']['RoleName'], b)}"
            for rid, res in resources.items() if res["Type"] == "AWS::IAM::Role"}


def _serving_requests(a: EnvRender, b: EnvRender):
    """(role ARN, Sid, Request) for each action x resource of each serving-role statement naming the source account."""
    account = a.project.env(a.env).account_id
    roles = _serving_roles(b)
    for logical_id, res in b.template("serving-iam")["Resources"].items():
        if logical_id not in roles:
            continue
        for policy in res["Properties"].get("Policies", []):
            for st in _list(policy["PolicyDocument"]["Statement"]):
                st = _plain(st, b)
                if account not in json.dumps(st) or st["Effect"] != "Allow":
                    continue
                context = {key: _sample(_list(value)[0]) for pairs in st.get("Condition", {}).values()
                           for key, value in pairs.items() if key not in ("kms:ResourceAliases",)}
                for action in _list(st["Action"]):
                    for resource in _list(st["Resource"]):
                        yield roles[logical_id], st.get("Sid"), Request(roles[logical_id], action, _sample(resource),
                                                                        context, other_account=True)


def _document(a: EnvRender, action: str) -> dict:
    logical_id, prop = DOCUMENTS[action.split(":")[0]]
    return _plain(a.template("pipeline")["Resources"][logical_id]["Properties"][prop], a)


def test_every_request_a_serving_role_may_make_in_the_source_account_is_granted_there(sides):
    a, b = sides
    requests = list(_serving_requests(a, b))
    assert requests, "no serving statement names the source account"
    refused = [f"{role} ({sid}): {req.action} on {req.resource} with {req.context}"
               for role, sid, req in requests if not allowed(_document(a, req.action), req)]
    assert not refused, "the source's policies refuse what the serving roles are built to do:\n" + "\n".join(refused)


def test_every_role_the_source_grants_uses_the_grant(sides):
    """Each (role, action) the source's policies grant the serving account is held by that role's own statements."""
    a, b = sides
    account = b.project.env(b.env).account_id
    held = {(role, req.action) for role, _, req in _serving_requests(a, b)}
    unused = []
    for logical_id, prop in DOCUMENTS.values():
        for st in _list(_plain(a.template("pipeline")["Resources"][logical_id]["Properties"][prop], a)["Statement"]):
            if st["Effect"] != "Allow" or account not in json.dumps(st.get("Principal", {})) or st.get("Sid") == OPERATOR_PROBE:
                continue
            roles = [arn for pairs in st.get("Condition", {}).values() for arn in _list(pairs.get("aws:PrincipalArn", []))]
            assert roles, f"{st.get('Sid')}: a grant to the serving account that names no role"
            unused += [f"{st.get('Sid')}: {role} {action}" for role in roles for action in _list(st["Action"])
                       if (role, action) not in held]
    assert not unused, "the source grants what no serving role does:\n" + "\n".join(unused)
