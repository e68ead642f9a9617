"""What a resource uses on its first run exists before it: the order CloudFormation creates a stack in.

CloudFormation creates resources in parallel unless one references or DependsOn another. Two first runs raced:
- The delivery pipeline starts a run as soon as it is created, with roles whose KMS grants name the artifact key's
  alias (kms:ResourceAliases), while the alias was created beside it, in no order; an alias needs up to five minutes
  to take effect in authorisation ("Use aliases to control access to KMS keys", KMS developer guide). The class: every
  resource that names a KMS alias of its own template, itself or through a role whose policies name it, DependsOn it.
- The model-deployment pipeline's first automatic run invokes its two functions, named by parameter, so nothing
  ordered the pipeline after them. The class: a pipeline whose actions name a resource of its own stack (a function,
  a build project) DependsOn it.
Both are checked for every env, on the resources its conditions keep.
"""
from __future__ import annotations

import json
import re

from infra.stacks import BUILDERS
from tests.support.cfn import as_list, statements
from tests.support.resolve import resolve_all

# What an action's Configuration names, per resource type of the same stack, and the property holding that name.
NAMED_BY_ACTIONS = {"AWS::Lambda::Function": "FunctionName", "AWS::CodeBuild::Project": "Name"}


def _references(node) -> set[str]:
    """Logical ids a template node refers to: Ref, Fn::GetAtt and the ${…} of Fn::Sub."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
            found |= _references(value)
    elif isinstance(node, list):
        for value in node:
            found |= _references(value)
    return found


def depends_on(template: dict, logical_id: str) -> set[str]:
    """Every resource CloudFormation creates before `logical_id`: DependsOn and references, transitively."""
    resources = template["Resources"]
    seen, todo = set(), [logical_id]
    while todo:
        res = resources[todo.pop()]
        direct = set(as_list(res.get("DependsOn", []))) | _references(res.get("Properties", {}))
        for other in (direct & set(resources)) - seen:
            seen.add(other)
            todo.append(other)
    return seen


def _roles(stacks) -> dict[str, str]:
    """role ARN and role name -> the text of every policy the role holds, resolved."""
    out = {}
    for stack in stacks.values():
        policies = [*stack.resources("AWS::IAM::Policy").values(), *stack.resources("AWS::IAM::ManagedPolicy").values()]
        for role in stack.resources("AWS::IAM::Role").values():
            props = role["Properties"]
            docs = [p["PolicyDocument"] for p in props.get("Policies", [])]
            docs += [p["Properties"]["PolicyDocument"] for p in policies if props["RoleName"] in p["Properties"].get("Roles", [])]
            text = json.dumps([statements(d) for d in docs])
            out[props["RoleName"]] = text
            out[f"arn:aws:iam::{stack.pseudo['AWS::AccountId']}:role{props.get('Path', '/')}{props['RoleName']}"] = text
    return out


# Properties that are policies: a role named there is a principal let in, not a role the resource acts with.
POLICY_PROPERTIES = {"PolicyDocument", "KeyPolicy", "Policies", "AssumeRolePolicyDocument"}


def _strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() if k not in POLICY_PROPERTIES for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def alias_problems(stacks) -> list[str]:
    roles, problems = _roles(stacks), []
    for key, stack in stacks.items():
        resources = stack.resources()
        for alias_id, alias in stack.resources("AWS::KMS::Alias").items():
            name = alias["Properties"]["AliasName"]
            for logical_id, res in sorted(resources.items()):
                if logical_id == alias_id or logical_id in depends_on(stack.template, alias_id):
                    continue  # the alias itself, and what it needs (its key)
                values = _strings(res["Properties"])
                via = [v for v in values if v in roles and name in roles[v]]
                if (name in values or via) and alias_id not in depends_on(stack.template, logical_id):
                    how = f"through the role {via[0]}" if via else "itself"
                    problems.append(f"{key}.yaml {logical_id} names the alias {name} ({how}) but does not DependsOn {alias_id}")
    return problems


def pipeline_problems(stacks) -> list[str]:
    problems = []
    for key, stack in stacks.items():
        named = {res["Properties"][prop]: logical_id
                 for rtype, prop in NAMED_BY_ACTIONS.items()
                 for logical_id, res in stack.resources(rtype).items() if isinstance(res["Properties"].get(prop), str)}
        for pipeline_id, pipeline in stack.resources("AWS::CodePipeline::Pipeline").items():
            before = depends_on(stack.template, pipeline_id)
            for stage in pipeline["Properties"]["Stages"]:
                for action in stage["Actions"]:
                    for value in _strings(action.get("Configuration", {})):
                        if value in named and named[value] not in before:
                            problems.append(f"{key}.yaml {pipeline_id} action {action['Name']} uses {named[value]} "
                                            f"of its own stack but does not DependsOn it")
    return sorted(set(problems))


def _every_env(rendered, project, check) -> list[str]:
    return sorted({p for env in project.environments for p in check(resolve_all(rendered, project, env, list(BUILDERS)))})


def test_what_names_a_kms_alias_of_its_own_stack_is_created_after_it(rendered, project):
    problems = _every_env(rendered, project, alias_problems)
    assert not problems, "\n".join(problems)


def test_a_pipeline_is_created_after_the_functions_and_projects_of_its_stack_it_runs(rendered, project):
    problems = _every_env(rendered, project, pipeline_problems)
    assert not problems, "\n".join(problems)


def test_the_checks_see_ordering_through_references_and_depends_on():
    template = {"Resources": {
        "Key": {"Type": "AWS::KMS::Key"},
        "Alias": {"Type": "AWS::KMS::Alias", "Properties": {"TargetKeyId": {"Ref": "Key"}}},
        "Function": {"Type": "AWS::Lambda::Function", "DependsOn": "Alias"},
        "Pipeline": {"Type": "AWS::CodePipeline::Pipeline", "Properties": {"X": {"Fn::Sub": "${Function.Arn}"}}},
        "Loose": {"Type": "AWS::CodePipeline::Pipeline"},
    }}
    assert depends_on(template, "Pipeline") == {"Function", "Alias", "Key"}
    assert depends_on(template, "Loose") == set()
