"""A pipeline's first run can use the key its own stack just made.

A delivery pipeline starts a run as soon as CloudFormation creates it. Its roles' own policies grant the artifact key
by alias (kms:ResourceAliases), and a new alias takes up to five minutes to count in authorisation ("Use aliases to
control access to KMS keys", KMS developer guide), which DependsOn cannot wait out. The class: for every pipeline
whose artifact store key is made in the same template, the key's policy itself names the pipeline's role and the
role of every build project in that template, for the key's use.
"""
from __future__ import annotations

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


def test_a_pipeline_s_first_run_does_not_wait_for_its_key_alias(rendered):
    checked = 0
    for stack in BUILDERS:
        template = yaml.safe_load(rendered[f"{stack}.yaml"])
        checked += sum(r["Type"] == "AWS::CodePipeline::Pipeline" for r in template.get("Resources", {}).values())
        assert not first_run_key_problems(template), stack
    assert checked >= 1


def test_the_check_finds_a_role_the_key_policy_leaves_to_its_alias(rendered):
    template = yaml.safe_load(rendered["pipeline.yaml"])
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::KMS::Key":
            policy = resource["Properties"]["KeyPolicy"]
            policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "FirstRunRolesUseKey"]
    problems = first_run_key_problems(template)
    assert len(problems) == 3 and all("does not name" in p for p in problems)
