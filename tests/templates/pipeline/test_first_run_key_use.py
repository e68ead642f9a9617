"""A pipeline's first run can use the key its own stack just made.

A delivery pipeline starts a run as soon as CloudFormation creates it. Its roles' own policies grant the artifact key
by alias (kms:ResourceAliases), and a new alias takes up to five minutes to count in authorisation ("Use aliases to
control access to KMS keys", KMS developer guide), which DependsOn cannot wait out. The class: for every pipeline
whose artifact store key is made in the same template, the key's policy itself names the pipeline's role and the
role of every build project in that template, for the key's use; and since a permissions boundary caps what a key
policy grants to a role ARN ("Permissions boundaries for IAM entities", IAM user guide), each such role's boundary
allows that use without the alias condition.
"""
from __future__ import annotations

import json

import pytest
import yaml

from infra.stacks import BUILDERS
from tests.support.cfn import as_list, statements

USE = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}


def _logical_id(node) -> str | None:
    if isinstance(node, dict) and "Ref" in node:
        return node["Ref"]
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        value = node["Fn::GetAtt"]
        return value[0] if isinstance(value, list) else value.split(".")[0]
    return None


def first_run_key_problems(template: dict) -> list[str]:
    resources = template.get("Resources", {})
    problems = []
    for name, pipeline in resources.items():
        if pipeline["Type"] != "AWS::CodePipeline::Pipeline":
            continue
        store = pipeline["Properties"].get("ArtifactStore", {})
        key_id = _logical_id(store.get("EncryptionKey", {}).get("Id"))
        if key_id not in resources or resources[key_id]["Type"] != "AWS::KMS::Key":
            continue  # a key of another stack: made long before this pipeline
        roles = [pipeline["Properties"]["RoleArn"]] + [r["Properties"]["ServiceRole"] for r in resources.values()
                                                        if r["Type"] == "AWS::CodeBuild::Project"]
        granted = [s for s in statements(resources[key_id]["Properties"]["KeyPolicy"])
                   if s["Effect"] == "Allow" and USE <= set(as_list(s["Action"]))]
        for role in roles:
            if not any(role in as_list(s.get("Principal", {}).get("AWS", [])) for s in granted):
                problems.append(f"{name} runs as {role}, which {key_id}'s policy does not name for {sorted(USE)}")
    return problems


def _statements_of(policy) -> list[dict]:
    return [s for s in statements(policy) if isinstance(s, dict)]


def boundary_problems(rendered: dict, env: str) -> list[str]:
    """Each role the artifact key's policy names (an export of the env's IAM stack) carries a boundary that allows the
    key's use with no kms:ResourceAliases condition."""
    iam = yaml.safe_load(rendered[f"{env}/iam.yaml"])
    bounds = yaml.safe_load(rendered[f"{env}/boundaries.yaml"])
    pipeline = yaml.safe_load(rendered[f"{env}/pipeline.yaml"])
    iam_stack = f"{_stack_name(pipeline, 'CodePipelineRoleArn')}-"
    by_name = {r["Properties"]["ManagedPolicyName"]: r for r in bounds["Resources"].values()
               if r["Type"] == "AWS::IAM::ManagedPolicy"}
    named = [p["Fn::ImportValue"].removeprefix(iam_stack)
             for key in pipeline["Resources"].values() if key["Type"] == "AWS::KMS::Key"
             for s in _statements_of(key["Properties"]["KeyPolicy"])
             for p in as_list(s.get("Principal", {}).get("AWS", []))
             if isinstance(p, dict) and str(p.get("Fn::ImportValue", "")).startswith(iam_stack)]
    problems = []
    for export in named:
        role_id = iam["Outputs"][export]["Value"]["Fn::GetAtt"][0]
        boundary = iam["Resources"][role_id]["Properties"]["PermissionsBoundary"]["Fn::Sub"].rsplit("/", 1)[1]
        allows = [s for s in _statements_of(by_name[boundary]["Properties"]["PolicyDocument"])
                  if s["Effect"] == "Allow" and USE <= set(as_list(s["Action"]))
                  and "kms:ResourceAliases" not in json.dumps(s.get("Condition", {}))]
        if not allows:
            problems.append(f"{role_id} ({export}) is named by the key policy, but its boundary {boundary} allows the "
                            "key's use only by alias")
    return problems


def _stack_name(pipeline: dict, export: str) -> str:
    """The IAM stack's name, from the pipeline's role (an import of that stack's `export`)."""
    role = pipeline["Resources"]["DeliveryPipeline"]["Properties"]["RoleArn"]["Fn::ImportValue"]
    assert role.endswith(f"-{export}"), role
    return role.removesuffix(f"-{export}")


@pytest.mark.every_env
def test_a_pipeline_s_first_run_does_not_wait_for_its_key_alias(rendered, env):
    assert not boundary_problems(rendered, env)
    checked = 0
    for stack in (s for s in BUILDERS if f"{env}/{s}.yaml" in rendered):
        template = yaml.safe_load(rendered[f"{env}/{stack}.yaml"])
        checked += sum(r["Type"] == "AWS::CodePipeline::Pipeline" for r in template.get("Resources", {}).values())
        assert not first_run_key_problems(template), stack
    assert checked >= 1


@pytest.mark.every_env
def test_the_check_finds_a_role_the_key_policy_leaves_to_its_alias(rendered, env):
    template = yaml.safe_load(rendered[f"{env}/pipeline.yaml"])
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::KMS::Key":
            policy = resource["Properties"]["KeyPolicy"]
            policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "FirstRunRolesUseKey"]
    problems = first_run_key_problems(template)
    assert len(problems) == 3 and all("does not name" in p for p in problems)


def test_the_check_finds_a_boundary_that_holds_the_key_by_alias_only(project, monkeypatch):
    from infra.iam import boundary
    from infra.output import render

    monkeypatch.setattr(boundary, "FIRST_RUN_KINDS", ())
    rendered = render.render(project)
    for env in project.environments:
        problems = boundary_problems(rendered, env)
        assert len(problems) == 3 and all("only by alias" in p for p in problems), env
