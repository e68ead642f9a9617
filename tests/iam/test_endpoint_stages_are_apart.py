"""The staging stage cannot reach production, and production's role cannot reach staging.

The model-deployment pipeline deploys the staging endpoint stack before the smoke test and the person's production
approval. Whatever role its Staging stage's actions (deploy and delete) hand CloudFormation must therefore reach nothing
of production's: not its stack, endpoint, alarms, scalable target or deploy role; and production's role nothing of
staging's. Every check here runs on the stacks as CloudFormation would resolve them for each env of the config
under test, so renamed projects and added envs are covered.

What IAM cannot tell apart by name stays out (docs/security.md, open risks): models and endpoint configs carry
CloudFormation's generated names, so both roles are granted them by type; and actions IAM authorises only on "*"
(tests/iam/test_resource_level_permissions.py keeps those to actions with no resource type).
"""
from __future__ import annotations

import pytest

from tests.conftest import SERVING_ENVS

from infra.config import names
from infra.config.names import ENDPOINT_STACKS, STACKS
from tests.support.cfn import as_list
from tests.support.policy_eval import _glob
from tests.support.resolve import Stack, resolve_all

# Resource types of the endpoint stacks whose ARN a deploy role can be scoped to by name, and that ARN (region,
# account, resolved properties); and those with names only CloudFormation knows, which IAM grants by type.
NAMED = {
    "AWS::SageMaker::Endpoint": lambda r, a, p: f"arn:aws:sagemaker:{r}:{a}:endpoint/{p['EndpointName']}",
    "AWS::CloudWatch::Alarm": lambda r, a, p: f"arn:aws:cloudwatch:{r}:{a}:alarm:{p['AlarmName']}",
    # Target tracking's own alarms, which Application Auto Scaling makes with the deploy role's rights.
    "AWS::ApplicationAutoScaling::ScalingPolicy": lambda r, a, p: (
        f"arn:aws:cloudwatch:{r}:{a}:alarm:TargetTracking-{p['ScalingTargetId']}-AlarmHigh-0000"),
    # A generated id, but a role holding scalable targets at all could change this one.
    "AWS::ApplicationAutoScaling::ScalableTarget": lambda r, a, p: f"arn:aws:application-autoscaling:{r}:{a}:scalable-target/0000",
}
GENERATED_NAMES = {"AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig"}


def _actions(stages: list) -> list[dict]:
    """Every action of the pipeline's stages, both branches of a stage's or an action's Fn::If included."""
    def branches(item) -> list:
        return [b for b in item["Fn::If"][1:] if isinstance(b, dict) and "Ref" not in b] if set(item) == {"Fn::If"} else [item]

    return [a for stage in stages for s in branches(stage) if "Actions" in s for action in s["Actions"] for a in branches(action)]


def _stacks(project, rendered, env: str) -> dict[str, Stack]:
    return resolve_all(rendered, project, env, list(STACKS))


def _stage_roles(stacks: dict[str, Stack], project, env: str) -> dict[str, set[str]]:
    """Endpoint stack -> the role ARNs the deployment pipeline's CloudFormation actions on it hand CloudFormation,
    in every branch of every Fn::If (a stage only some configs have counts too)."""
    deployment = stacks["deployment"]
    by_name = {names.for_env(project, env).stack(key): key for key in ENDPOINT_STACKS}
    out: dict[str, set[str]] = {key: set() for key in ENDPOINT_STACKS}
    for action in _actions(deployment.template["Resources"]["DeploymentPipeline"]["Properties"]["Stages"]):
        if action["ActionTypeId"]["Provider"] != "CloudFormation":
            continue
        configuration = deployment.value(action["Configuration"])
        stack = by_name.get(configuration["StackName"])
        assert stack, f"{action['Name']} deploys {configuration['StackName']}, which is no endpoint stack"
        out[stack].add(configuration["RoleArn"])
    return out


def _role_statements(serving_iam: Stack, role_arn: str) -> list[dict]:
    """Allow statements of the serving-iam role with that ARN (inline and attached), resolved."""
    roles = {serving_iam.physical(lid, "Arn"): lid for lid in serving_iam.resources("AWS::IAM::Role")}
    assert role_arn in roles, f"{role_arn} is no role of the serving-iam stack"
    logical_id = roles[role_arn]
    role = serving_iam.resources("AWS::IAM::Role")[logical_id]["Properties"]
    documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        documents += [p["Properties"]["PolicyDocument"] for p in serving_iam.resources(kind).values()
                      if role["RoleName"] in p["Properties"].get("Roles", [])]
    return [st for doc in documents for st in as_list(doc["Statement"]) if st["Effect"] == "Allow"]


def _arns_of(stacks: dict[str, Stack], stack: str, roles: set[str]) -> list[str]:
    """What the endpoint stack owns, as ARNs: the stack, its named resources, the role it is deployed with."""
    s = stacks[stack]
    region, account = s.pseudo["AWS::Region"], s.pseudo["AWS::AccountId"]
    arns = [f"arn:aws:cloudformation:{region}:{account}:stack/{s.name}/0000", *roles]
    for logical_id, resource in s.template["Resources"].items():
        rtype = resource["Type"]
        if rtype in GENERATED_NAMES:
            continue
        assert rtype in NAMED, f"{stack}.yaml {logical_id}: {rtype} is new here; say in NAMED how its ARN reads"
        # Every resource, whatever its Condition: a config that turns it on must not open the other stage to it.
        props = s.value(resource.get("Properties", {}))
        if rtype == "AWS::ApplicationAutoScaling::ScalingPolicy":
            target = s.template["Resources"][resource["Properties"]["ScalingTargetId"]["Ref"]]
            props = {"ScalingTargetId": s.value(target["Properties"]["ResourceId"])}
        arns.append(NAMED[rtype](region, account, props))
    # Production's endpoint is the deployment pipeline's rollout's, not a resource of its stack: the stack names it.
    named = s.value(s.template.get("Outputs", {}).get("EndpointName", {}).get("Value", ""))
    endpoint_arn = NAMED["AWS::SageMaker::Endpoint"](region, account, {"EndpointName": named})
    if named and endpoint_arn not in arns:
        arns.append(endpoint_arn)
    return arns


def reach_problems(stacks: dict[str, Stack], stage_roles: dict[str, set[str]]) -> list[str]:
    problems = []
    for stack, roles in sorted(stage_roles.items()):
        others = [o for o in ENDPOINT_STACKS if o != stack]
        theirs = [arn for o in others for arn in _arns_of(stacks, o, stage_roles[o])]
        for role in sorted(roles):
            for st in _role_statements(stacks["serving-iam"], role):
                resources = as_list(st["Resource"])
                if resources == ["*"]:
                    continue  # actions with no resource type (tests/iam/test_resource_level_permissions.py)
                for arn in theirs:
                    if any(_glob(pattern, arn) for pattern in resources):
                        problems.append(f"{stack}: {role.rsplit('/', 1)[-1]} {st.get('Sid')} reaches {arn}")
    return problems


@pytest.mark.every_serving_env
def test_no_endpoint_stage_reaches_the_others_resources(project, rendered, env):
    stacks = _stacks(project, rendered, env)
    problems = reach_problems(stacks, _stage_roles(stacks, project, env))
    assert not problems, "\n".join(problems)


@pytest.mark.every_serving_env
def test_each_endpoint_stack_is_deployed_with_its_own_role(project, rendered, env):
    roles = _stage_roles(_stacks(project, rendered, env), project, env)
    assert all(len(r) == 1 for r in roles.values()), f"an endpoint stack is deployed with several roles: {roles}"
    staging, production = (roles[k] for k in ENDPOINT_STACKS)
    assert not staging & production, f"staging and production share a deploy role: {staging & production}"


@pytest.mark.every_serving_env
def test_the_deployment_pipeline_passes_exactly_the_endpoint_stacks_roles(project, rendered, env):
    stacks = _stacks(project, rendered, env)
    used = set().union(*_stage_roles(stacks, project, env).values())
    pipeline_role = stacks["serving-iam"].physical("DeploymentPipelineRole", "Arn")
    passes = [st for st in _role_statements(stacks["serving-iam"], pipeline_role) if "iam:PassRole" in as_list(st["Action"])]
    assert {r for st in passes for r in as_list(st["Resource"])} == used
    assert all(st["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}} for st in passes)


def test_the_check_catches_one_role_for_both_stages(project, rendered):
    """The shape the endpoint stacks had before: one role deploying both, so staging's stage could change production."""
    if not SERVING_ENVS:
        pytest.skip("no env of config/ serves models")
    env = SERVING_ENVS[0]
    stacks = _stacks(project, rendered, env)
    roles = _stage_roles(stacks, project, env)
    shared = {stack: roles["production-endpoint"] for stack in ENDPOINT_STACKS}
    problems = reach_problems(stacks, shared)
    alarms = [stacks["production-endpoint"].value(a["Properties"]["AlarmName"])
              for a in stacks["production-endpoint"].template["Resources"].values() if a["Type"] == "AWS::CloudWatch::Alarm"]
    assert alarms and any(p.startswith("staging-endpoint:") and p.endswith(f":alarm:{alarms[0]}") for p in problems), problems


@pytest.mark.every_env
def test_only_the_rollout_may_create_or_update_the_production_endpoint(project, rendered, env):
    """Not CloudFormation (its deploy role): an UpdateEndpoint it issued could be rolled back by SageMaker behind its
    back (docs/endpoints.md). The resolve function's role runs the RollOut action."""
    stacks = _stacks(project, rendered, env)
    region, account = stacks["iam"].pseudo["AWS::Region"], stacks["iam"].pseudo["AWS::AccountId"]
    endpoint = f"arn:aws:sagemaker:{region}:{account}:endpoint/{names.for_env(project, env).production_endpoint}"
    may = set()
    for iam in (stacks[key] for key in ("deploy-roles", "iam", "serving-iam") if key in stacks):
        for logical_id in iam.resources("AWS::IAM::Role"):
            for st in _role_statements(iam, iam.physical(logical_id, "Arn")):
                actions = {a.lower() for a in as_list(st["Action"])}
                if actions & {"sagemaker:createendpoint", "sagemaker:updateendpoint"} and \
                        any(_glob(pattern, endpoint) for pattern in as_list(st["Resource"])):
                    may.add(logical_id)
    # An env that serves no models has no serving-iam stack: no role there may.
    assert may == ({"ResolveFunctionRole"} if "serving-iam" in stacks else set()), may
