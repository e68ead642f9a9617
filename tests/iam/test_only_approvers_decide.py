"""Only the people config names (sagemaker.approvers) may approve a model version; anyone may still register one
waiting for review.

The review found that any principal of the account holding sagemaker:UpdateModelPackage (a Studio role with the
broad managed policy) could approve a version, and approving starts its way to production. Here the model package
group's policy, as CloudFormation would deploy it for every env of config/ and of each variant, is asked request by
request: a Deny must hold for every caller but the env's approvers, and must not touch the SageMaker execution
role's registration of a pending version. An env that serves models must have that policy (config refuses one
that names no approvers); one that does not may leave the group without one (docs/security.md says who may
approve there).
"""
from __future__ import annotations

import pytest

from infra.cfn import parameters
from infra.config.names import OFFLINE_ACCOUNT
from tests.support import resolve
from tests.support.concrete_envs import EnvRender
from tests.support.policy_eval import Request, denied

OTHER_ACCOUNT = "999999999999"
STATUSES = ("Approved", "Rejected", "PendingManualApproval")


def _group(env: EnvRender) -> tuple[dict | None, str]:
    """(the group's policy as deployed, or None; the group's ARN) of one env."""
    stack = resolve.alone(env.rendered, env.project, env.env, "pipeline")
    (group,) = stack.resources("AWS::SageMaker::ModelPackageGroup").values()
    policy = group["Properties"].get("ModelPackageGroupPolicy")
    account = env.project.env(env.env).account_id or OFFLINE_ACCOUNT
    name = stack.value(group["Properties"]["ModelPackageGroupName"])
    return (stack.value(policy) if policy else None), f"arn:aws:sagemaker:{env.project.env(env.env).region}:{account}:model-package-group/{name}"


def _session_arn(approver: str) -> str:
    """The aws:PrincipalArn a session of what config names has (an Identity Center role's suffix filled in)."""
    return approver[:-1] + "0123456789abcdef" if approver.endswith("_*") else approver


def _outsiders(env: EnvRender) -> list[str]:
    """Callers that are not approvers: the project's own execution role, a Studio role, the account's root, an
    approver's name in another account, a longer name."""
    e = env.project.env(env.env)
    account = e.account_id or OFFLINE_ACCOUNT
    values = parameters.config_values(env.names)
    out = [f"arn:aws:iam::{account}:role{values['RolePath']}{values['SageMakerExecutionRoleName']}",
           f"arn:aws:iam::{account}:role/service-role/AmazonSageMaker-ExecutionRole-20250101T000000",
           f"arn:aws:iam::{account}:root"]
    for approver in e.approvers:
        arn = _session_arn(approver)
        # A longer name; for an Identity Center role, another permission set (its suffix may be anything).
        longer = f"{approver[:-2]}2_0123456789abcdef" if approver.endswith("_*") else f"{arn}-2"
        out += [arn.replace(f"::{account}:", f"::{OTHER_ACCOUNT}:"), longer]
    return [arn for arn in out if _session_arn(arn) not in {_session_arn(a) for a in e.approvers}]


def problems(env: EnvRender) -> list[str]:
    e = env.project.env(env.env)
    policy, group = _group(env)
    if policy is None:
        if e.deployment is not None:
            return [f"{env.label}: serves models, but its model package group has no policy: anyone with "
                    "sagemaker:UpdateModelPackage in the account may approve"]
        return []
    version = group.replace(":model-package-group/", ":model-package/") + "/7"
    found = []
    for status in STATUSES:
        update = {"sagemaker:ModelApprovalStatus": status}
        for caller in _outsiders(env):
            if not denied(policy, Request(caller, "sagemaker:UpdateModelPackage", version, update)):
                found.append(f"{env.label}: {caller} may set a version {status}")
        for approver in e.approvers:
            if denied(policy, Request(_session_arn(approver), "sagemaker:UpdateModelPackage", version, update)):
                found.append(f"{env.label}: approver {approver} may not set a version {status}")
        for caller in [*_outsiders(env), *map(_session_arn, e.approvers)]:
            for resource in (group, version):
                register = Request(caller, "sagemaker:CreateModelPackage", resource, update)
                if denied(policy, register) != (status != "PendingManualApproval"):
                    found.append(f"{env.label}: {caller} registering a {status} version on {resource}: "
                                 f"{'refused' if denied(policy, register) else 'not refused'}")
    # Any other update by a non-approver (metadata, added inference specifications) is refused too.
    for caller in _outsiders(env):
        if not denied(policy, Request(caller, "sagemaker:UpdateModelPackage", version)):
            found.append(f"{env.label}: {caller} may update a version without naming a status")
    return found


def test_only_the_envs_approvers_may_decide_a_version_and_registration_stays_pending(envs):
    assert any(env.project.env(env.env).approvers for env in envs), "no env or variant names approvers"
    found = [p for env in envs for p in problems(env)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("change", ["no policy", "an allow", "approvers as a wildcard"])
def test_the_check_catches_a_group_anyone_may_approve_in(envs, change):
    env = next(e for e in envs if e.project.env(e.env).deployment is not None)
    text = env.text("pipeline")
    policy_at = text.index("ModelPackageGroupPolicy:")
    if change == "no policy":
        broken = text.replace("ModelPackageGroupPolicy:", "Unrelated:", 1)
    elif change == "an allow":
        broken = text[:policy_at] + text[policy_at:].replace("Effect: Deny", "Effect: Allow", 2)
    else:
        approver = env.project.env(env.env).approvers[0]
        broken = text.replace(f"- {approver}", "- arn:aws:iam::*:*", 1)
        assert broken != text
    assert problems(env.replaced("pipeline", broken))
