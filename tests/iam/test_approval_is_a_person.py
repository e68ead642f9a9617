"""Approving a model version is a person's act: no project role can approve, and registration only ever
creates versions waiting for review.

The pipeline once took ModelApprovalStatus as a parameter (Approved accepted) and the execution role's
CreateModelPackage carried no condition, so one run could register a model as already approved.
"""
from __future__ import annotations

import pytest

from infra.stacks import BUILDERS
from tests.support.cfn import as_list, load, policies, statements

APPROVING = {"sagemaker:UpdateModelPackage", "sagemaker:BatchUpdateModelPackage"}
PENDING = {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}
PENDING_LIST = {"StringEquals": {"sagemaker:ModelApprovalStatus": ["PendingManualApproval"]}}


def approval_problems(template_text: str, label: str) -> list[str]:
    problems = []
    for logical_id, _rtype, prop, document in policies(load(template_text)):
        if prop == "AssumeRolePolicyDocument":
            continue
        for st in statements(document):
            if st.get("Effect") != "Allow":
                continue
            acts = set(as_list(st.get("Action", [])))
            if acts & APPROVING or any(a in ("sagemaker:*", "*") for a in acts):
                problems.append(f"{label} {logical_id} {st.get('Sid')}: may change a version's approval status")
            if "sagemaker:CreateModelPackage" in acts and st.get("Condition") not in (PENDING, PENDING_LIST):
                problems.append(f"{label} {logical_id} {st.get('Sid')}: may register a version with any approval status")
    return problems


@pytest.mark.parametrize("stack", list(BUILDERS))
def test_no_role_may_approve_and_registration_is_always_pending(envs, stack):
    problems = [p for env in envs if env.renders(stack) for p in approval_problems(env.text(stack), f"{env.label}/{stack}.yaml")]
    assert not problems, "\n".join(problems)


def test_the_pipeline_has_no_approval_status_parameter_and_registers_pending(definitions):
    for env, definition in definitions.items():
        assert "ModelApprovalStatus" not in {p["Name"] for p in definition["Parameters"]}, env
        registers = [s for step in definition["Steps"] for s in [step, *step.get("Arguments", {}).get("IfSteps", [])]
                     if s["Type"] == "RegisterModel"]
        assert registers and all(s["Arguments"]["ModelApprovalStatus"] == "PendingManualApproval" for s in registers), env


def test_the_check_catches_an_unconditioned_registration():
    text = ("Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {}\n"
            "      Policies:\n      - PolicyName: p\n        PolicyDocument:\n          Statement:\n"
            "          - {Sid: RegisterModels, Effect: Allow, Action: ['sagemaker:CreateModelPackage'], Resource: '*'}\n")
    assert approval_problems(text, "t.yaml") == ["t.yaml R RegisterModels: may register a version with any approval status"]
