"""The IAM gate, over every policy in every template: the sample's PowerUser + IAMFullAccess never again."""
from __future__ import annotations

import pytest

from infra.policies import NO_RESOURCE_LEVEL_ACTIONS
from infra.stacks import BUILDERS
from tests.cfn import as_list, load, policies, statements, text_of

TRUST = "AssumeRolePolicyDocument"


def _all_statements(rendered):
    for stack in BUILDERS:
        template = load(rendered[f"{stack}.yaml"])
        for logical_id, rtype, prop, doc in policies(template):
            for st in statements(doc):
                yield f"{stack}.yaml {logical_id} {prop} {st.get('Sid', '')}", rtype, prop, st


def test_no_wildcard_actions_in_allow_statements(rendered):
    bad = []
    for where, _, prop, st in _all_statements(rendered):
        if st["Effect"] == "Allow" and prop != TRUST:
            bad += [f"{where}: {a}" for a in as_list(st["Action"]) if "*" in a]
    assert not bad, bad


def test_no_iam_wildcards_anywhere(rendered):
    for where, _, _, st in _all_statements(rendered):
        assert "iam:*" not in as_list(st.get("Action", [])), where


def test_resource_star_only_for_actions_without_resource_level_permissions(rendered):
    bad = []
    for where, rtype, prop, st in _all_statements(rendered):
        if st["Effect"] != "Allow" or prop == TRUST or rtype == "AWS::KMS::Key":
            continue  # in a key policy, "*" means "this key"
        if "*" in as_list(st.get("Resource", [])):
            others = set(as_list(st["Action"])) - NO_RESOURCE_LEVEL_ACTIONS
            if others:
                bad.append(f"{where}: {sorted(others)}")
            if not st.get("Sid", "").endswith("NoResourceLevelPermission") and "Condition" not in st:
                bad.append(f"{where}: Resource * without a NoResourceLevelPermission Sid or a condition")
    assert not bad, bad


def test_pass_role_names_roles_and_the_service_they_go_to(rendered):
    seen = 0
    for where, _, _, st in _all_statements(rendered):
        if "iam:PassRole" not in as_list(st.get("Action", [])):
            continue
        seen += 1
        assert as_list(st["Action"]) == ["iam:PassRole"], where
        for resource in as_list(st["Resource"]):
            assert not text_of(resource).endswith("*"), f"{where}: PassRole on a wildcard {resource}"
        passed = st["Condition"]["StringEquals"]["iam:PassedToService"]
        assert passed.endswith(".amazonaws.com"), where
    assert seen >= 4


def test_trust_policies_name_one_service_and_only_assume_role(rendered):
    for where, rtype, prop, st in _all_statements(rendered):
        if prop != TRUST:
            continue
        assert st["Effect"] == "Allow" and as_list(st["Action"]) == ["sts:AssumeRole"], where
        services = as_list(st["Principal"]["Service"])
        assert len(services) == 1 and services[0].endswith(".amazonaws.com"), where
        assert set(st["Principal"]) == {"Service"}, where


def test_resource_policies_never_open_to_everyone_without_a_condition(rendered):
    for where, _, prop, st in _all_statements(rendered):
        principal = st.get("Principal")
        if principal in ("*", {"AWS": "*"}) or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS", []))):
            assert "Condition" in st, f"{where}: principal * without a condition"


def test_every_arn_names_the_partition_by_pseudo_parameter(rendered):
    for stack in BUILDERS:
        assert "arn:aws:" not in rendered[f"{stack}.yaml"], f"{stack}.yaml hard-codes the aws partition"


@pytest.mark.parametrize("role", ["SageMakerExecutionRole", "CodePipelineRole", "SynthBuildRole", "UpsertBuildRole"])
def test_core_roles_exist_and_are_exported(rendered, role):
    iam = load(rendered["iam.yaml"])
    assert iam["Resources"][role]["Type"] == "AWS::IAM::Role"
    assert iam["Outputs"][f"{role}Arn"]["Export"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{role}Arn"}


def test_no_managed_policies_are_attached(rendered):
    """The sample attached PowerUserAccess, IAMFullAccess, SageMakerFullAccess and AmazonS3FullAccess."""
    for stack in BUILDERS:
        for logical_id, resource in load(rendered[f"{stack}.yaml"]).get("Resources", {}).items():
            if isinstance(resource, dict):
                assert "ManagedPolicyArns" not in resource.get("Properties", {}), f"{stack}.yaml {logical_id}"
