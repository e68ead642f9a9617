"""Each env's templates are concrete: its config values are written in, nothing is left for CloudFormation to decide
but the run-time parameters (the model package an endpoint serves).

- no parameter but a run-time one (infra/cfn/parameters.py RUN_TIME), and each has its placeholder in the
  env's TemplateConfiguration, which holds no other;
- no Conditions, no Fn::If, no AWS::NoValue: Python decides what an env gets;
- every Ref and ${Name} names a parameter, a pseudo parameter, a resource or a resource's attribute;
- the concrete template means what the stack's template meant with the env's values as its parameters.
"""
from __future__ import annotations

import json
import re

import pytest
from infra.cfn import parameters
from infra.config import names as names_mod
from infra.output import lambda_package, render
from infra.stacks import BUILDERS
from tests.support.cfn import load
from tests.support.resolve import Stack, walk
from tests.support.template_references import PSEUDO_PARAMETERS

RUN_TIME = frozenset(parameters.RUN_TIME)
CONFIG_DECIDED = frozenset(parameters.VALUES)
_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


def _template(rendered, env, stack) -> dict:
    return load(rendered[f"{env}/{stack}.yaml"])


@pytest.mark.every_env_stack
def test_no_parameter_remains_but_the_run_time_ones_and_each_has_its_placeholder(rendered, env, stack):
    template = _template(rendered, env, stack)
    declared = set(template.get("Parameters", {}))
    assert declared <= RUN_TIME, f"{env}/{stack}.yaml declares {sorted(declared - RUN_TIME)}: config values are written in"
    configuration = json.loads(rendered[f"{env}/{stack}.json"])
    assert set(configuration) <= {"Parameters", "Tags"}, f"{env}/{stack}.json holds {sorted(configuration)}"
    assert set(configuration["Parameters"]) == declared, f"{env}/{stack}.json: a placeholder for each run-time parameter, no other"


def test_the_run_time_parameters_are_the_endpoint_stacks_model_package(rendered, project):
    """What the deployment pipeline's Resolve action hands the endpoint stacks (ParameterOverrides), and nothing more."""
    for env in project.environments:
        with_parameters = {stack: set(_template(rendered, env, stack).get("Parameters", {})) for stack in BUILDERS if f"{env}/{stack}.yaml" in rendered}
        serving = {stack: {"ModelPackageArn", "ModelPackageVersion"} for stack in ("staging-endpoint", "production-endpoint")}
        assert {stack: keys for stack, keys in with_parameters.items() if keys} == (
            serving if project.env(env).deployment else {}), env


@pytest.mark.every_env_stack
def test_nothing_is_left_to_decide_at_deploy_time(rendered, env, stack):
    template = _template(rendered, env, stack)
    label = f"{env}/{stack}.yaml"
    assert "Conditions" not in template, f"{label}: Conditions"
    problems = []
    for where, node in walk(template):
        if isinstance(node, dict):
            if "Fn::If" in node:
                problems.append(f"{label} {where}: Fn::If")
            if node.get("Ref") == "AWS::NoValue":
                problems.append(f"{label} {where}: Ref AWS::NoValue")
            if where.count(".") == 1 and where.split(".")[0] in ("Resources", "Outputs") and "Condition" in node:
                problems.append(f"{label} {where}: Condition {node['Condition']}")
    assert not problems, "\n".join(problems)


@pytest.mark.every_env_stack
def test_every_ref_and_sub_variable_names_a_parameter_pseudo_parameter_resource_or_attribute(rendered, env, stack):
    template = _template(rendered, env, stack)
    label = f"{env}/{stack}.yaml"
    parameters_ = set(template.get("Parameters", {}))
    resources = set(template.get("Resources", {}))
    known = parameters_ | resources | (PSEUDO_PARAMETERS - {"AWS::NoValue"})
    problems = []
    for where, node in walk(template):
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("Ref"), str) and node["Ref"] not in known:
            problems.append(f"{label} {where}: Ref {node['Ref']}")
        if "Fn::Sub" in node:
            text, local = (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
            for name in _SUB_NAME.findall(text):
                if name in local or name in known:
                    continue
                resource, _, attribute = name.partition(".")
                if not (attribute and resource in resources):
                    problems.append(f"{label} {where}: ${{{name}}}")
    leftover = {p.rsplit(" ", 1)[-1].strip("${}") for p in problems} & CONFIG_DECIDED
    assert not problems, ("\n".join(problems)
                          + (f"\nconfig values not written in: {sorted(leftover)}" if leftover else ""))


def _evaluated(template: dict, values: dict, pseudo: dict) -> dict:
    """Resources and Outputs, evaluated with `values` as the parameters (imports and attributes stay markers)."""
    stack = Stack("stack", pseudo["AWS::StackName"], template, values, pseudo, None)
    return {"Resources": stack.resources(), "Outputs": stack.value(template.get("Outputs", {}))}


@pytest.mark.every_env_stack
def test_the_concrete_template_says_what_the_stack_meant_with_the_envs_values(rendered, project, env, stack):
    """The values written in are the env's config values, where the stack named them, and nothing else changed."""
    n = names_mod.for_env(project, env)
    built = BUILDERS[stack](n).to_dict()
    values = {**parameters.config_values(n), **lambda_package.parameters(render.LAMBDA_SRC)}
    run_time = {key: placeholder for key, (_, placeholder) in parameters.RUN_TIME.items()}
    e = project.env(env)
    pseudo = {"AWS::Region": e.region, "AWS::AccountId": e.account_id or "123456789012", "AWS::Partition": "aws",
              "AWS::StackName": n.stack(stack), "AWS::URLSuffix": "amazonaws.com", "AWS::StackId": "stack-id"}
    # A value may name a pseudo parameter (ModelsAccountId of an env serving its own models), which the render leaves in
    # the Sub it writes the value into: the Sub then evaluates it.
    values = {k: re.sub(r"\$\{(AWS::[A-Za-z]+)\}", lambda m: pseudo[m.group(1)], v) if isinstance(v, str) else v
              for k, v in values.items()}
    concrete = _template(rendered, env, stack)
    assert set(concrete.get("Resources", {})) == set(built.get("Resources", {}))
    assert _evaluated(concrete, run_time, pseudo) == _evaluated(built, {**values, **run_time}, pseudo)
