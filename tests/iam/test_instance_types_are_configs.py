"""Jobs and endpoint configs run only on the instance types the env's config names: every grant of CreateProcessingJob,
CreateTrainingJob or CreateEndpointConfig holds sagemaker:InstanceTypes (every type the request asks for) to them,
and every endpoint config the stacks make fits its deploy role's grant.

Without it a push (or a run started with other ProcessingInstanceType/TrainingInstanceType parameters) could put
the jobs or an endpoint on the largest GPU fleet the account's quotas allow ("Actions, resources, and condition keys
for Amazon SageMaker AI": the three actions take sagemaker:InstanceTypes).
"""
from __future__ import annotations

import copy
import fnmatch

import pytest

from infra.stacks import BUILDERS
from tests.support.cfn import as_list
from tests.support.resolve import allow_statements, resolve_all

KEY = "sagemaker:InstanceTypes"
ACTIONS = ("sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob", "sagemaker:CreateEndpointConfig")


def _allowed(env) -> set[str]:
    e = env.project.env(env.env)
    types = {e.processing_instance_type, e.training_instance_type}
    if e.deployment is not None:
        types |= {e.deployment.instance_type, e.deployment.staging_instance_type}
    return types


def _grants(stacks):
    for where, st in allow_statements(stacks):
        acts = [a for a in as_list(st.get("Action", [])) if any(fnmatch.fnmatchcase(x, a) for x in ACTIONS)]
        if acts:
            yield where, acts, st


def problems(stacks, allowed: set[str]) -> list[str]:
    out = []
    for where, acts, st in _grants(stacks):
        held = [v for op in ("ForAllValues:StringEquals", "ForAllValues:StringLike")
                for v in as_list(st.get("Condition", {}).get(op, {}).get(KEY, []))]
        if not held:
            out.append(f"{where}: {acts} on any instance type")
        elif not set(held) <= allowed:
            out.append(f"{where}: instance types {sorted(set(held) - allowed)} are not the env's config's")
    return out


def config_fit_problems(stacks) -> list[str]:
    """Each endpoint config's variants' types are held by a CreateEndpointConfig grant (or its deploy would fail)."""
    held = {v for _, acts, st in _grants(stacks) if "sagemaker:CreateEndpointConfig" in acts
            for v in as_list(st.get("Condition", {}).get("ForAllValues:StringEquals", {}).get(KEY, []))}
    return [f"{key} {lid}: {variant.get('InstanceType')} fits no CreateEndpointConfig grant"
            for key, stack in stacks.items() for lid, res in stack.resources("AWS::SageMaker::EndpointConfig").items()
            for variant in res["Properties"].get("ProductionVariants", []) if variant.get("InstanceType") not in held]


@pytest.fixture(scope="module")
def resolved(envs):
    return [(env, resolve_all(env.rendered, env.project, env.env, list(BUILDERS))) for env in envs]


def test_jobs_and_endpoint_configs_only_on_the_configs_instance_types(resolved):
    found = [f"{env.label}: {p}" for env, stacks in resolved for p in problems(stacks, _allowed(env))]
    assert not found, "\n".join(found)


def test_every_endpoint_config_fits_its_grant(resolved):
    found = [f"{env.label}: {p}" for env, stacks in resolved for p in config_fit_problems(stacks)]
    assert not found, "\n".join(found)


def test_the_check_catches_a_job_grant_on_any_type(resolved):
    env, stacks = resolved[0]
    stacks = copy.deepcopy(stacks)
    role = stacks["iam"].template["Resources"]["SageMakerExecutionRole"]
    role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
        {"Sid": "AnyType", "Effect": "Allow", "Action": "sagemaker:CreateTrainingJob", "Resource": "*"})
    assert any("AnyType: ['sagemaker:CreateTrainingJob'] on any instance type" in p for p in problems(stacks, _allowed(env)))
