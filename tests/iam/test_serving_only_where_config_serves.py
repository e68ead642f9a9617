"""Serving is granted only where the env's config serves models (`deployment`): elsewhere no role, boundary or key
policy of the env's templates names the deployment stack, an endpoint stack, their deploy roles, a serving role, the
deployment functions or the model-deployment pipeline, and the env renders no serving-iam stack.

These grants once existed in every env (the pipeline role could create the deployment stack and pass its role; the
serving roles and their boundaries were in every env), so a push that added a deployment stage to a non-serving
env's pipeline served a model with no administrator, and, where the env had no release approval, no person.
"""
from __future__ import annotations

import fnmatch
import json
import re


from infra.iam.policies import arn
from tests.support.cfn import as_list, load, policies, statements, text_of
from tests.support.concrete_envs import EnvRender, ids

# What serving is, by the config names of infra/cfn/parameters.py VALUES, as the ARN forms policies name them.
SERVING_ARNS = {
    "the deployment stack": arn("cloudformation", "stack/${DeploymentStackName}/id"),
    "the staging endpoint stack": arn("cloudformation", "stack/${StagingEndpointStackName}/id"),
    "the production endpoint stack": arn("cloudformation", "stack/${ProductionEndpointStackName}/id"),
    "the model-deployment pipeline": arn("codepipeline", "${DeploymentPipelineName}"),
    "the staging endpoint": arn("sagemaker", "endpoint/${StagingEndpointName}"),
    "the production endpoint": arn("sagemaker", "endpoint/${ProductionEndpointName}"),
    "the resolve function": arn("lambda", "function:${ResolveFunctionName}"),
    "the smoke-test function": arn("lambda", "function:${SmokeTestFunctionName}"),
    "the deployment functions' dead-letter queue": arn("sqs", "${DeploymentDeadLetterQueueName}"),
    **{f"role {role}": arn("iam", f"role${{RolePath}}${{{role}}}", region=False) for role in (
        "DeploymentDeployRoleName", "StagingEndpointDeployRoleName", "ProductionEndpointDeployRoleName",
        "DeploymentPipelineRoleName", "DeploymentEventsRoleName", "ResolveFunctionRoleName",
        "SmokeTestFunctionRoleName", "ModelRoleName")},
}
SERVING_STACK = "serving-iam"
SERVING_RESOURCES = ("DeploymentDeadLetterQueue",)  # messaging's, for the deployment functions


def _targets(env: EnvRender) -> dict[str, tuple[str, str]]:
    """what -> (its concrete ARN text, the concrete name it ends with)."""
    out = {}
    for what, sub in SERVING_ARNS.items():
        text = env.concrete(text_of(sub.to_dict()))
        name = text.removesuffix("/id").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        out[what] = (text, name)
    return out


def _names(value: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_.-]){re.escape(name)}(?![A-Za-z0-9_.-])", value) is not None


def serving_grants(env: EnvRender) -> list[str]:
    """Every policy statement of the env's templates that reaches something of serving, and serving's stack and
    resources."""
    targets = _targets(env)
    problems = [f"{env.label}: renders {SERVING_STACK}"] if env.renders(SERVING_STACK) else []
    for stack in env.stacks:
        template = load(env.text(stack))
        problems += [f"{env.label} {stack}: {rid}" for rid in SERVING_RESOURCES if rid in template.get("Resources", {})]
        for logical_id, _rtype, prop, document in policies(template):
            if prop == "AssumeRolePolicyDocument":
                continue
            for st in statements(document):
                resources = [text_of(r) for r in as_list(st.get("Resource", [])) if text_of(r) is not None]
                whole = json.dumps({k: st.get(k) for k in ("Resource", "Condition", "Principal")})
                for what, (target, name) in targets.items():
                    if _names(whole, name) or any(fnmatch.fnmatchcase(target, r) for r in resources if r != "*"):
                        problems.append(f"{env.label} {stack} {logical_id} {st.get('Sid')}: names {what}")
    return problems


def _off(envs):
    return [e for e in envs if e.project.env(e.env).deployment is None]


def test_there_are_envs_with_serving_off_and_on(envs):
    assert _off(envs) and len(_off(envs)) < len(envs)


def test_a_non_serving_env_grants_no_serving(envs):
    problems = [p for env in _off(envs) for p in serving_grants(env)]
    assert not problems, "\n".join(problems)


def test_a_serving_env_has_its_serving_grants(envs):
    """The check finds what serving needs where the env serves: it would see it anywhere."""
    for env in (e for e in envs if e.project.env(e.env).deployment is not None):
        found = serving_grants(env)
        assert f"{env.label}: renders {SERVING_STACK}" in found
        assert f"{env.label} messaging: DeploymentDeadLetterQueue" in found
        assert f"{env.label} iam CodePipelineRole DeployProjectStacks: names the deployment stack" in found
        assert f"{env.label} iam CodePipelineRole PassDeployRoles: names role DeploymentDeployRoleName" in found
        assert any(p.startswith(f"{env.label} boundaries DeliveryRolesBoundary") and p.endswith("names the model-deployment pipeline")
                   for p in found), env.label


def test_the_check_catches_a_pass_of_the_deployment_deploy_role(envs):
    env = _off(envs)[0]
    role = env.concrete(text_of(SERVING_ARNS["role DeploymentDeployRoleName"].to_dict()))
    text = ("Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {}\n"
            "      Policies:\n      - PolicyName: p\n        PolicyDocument:\n          Statement:\n"
            f"          - {{Sid: Pass, Effect: Allow, Action: ['iam:PassRole'], Resource: {{'Fn::Sub': '{role}'}}}}\n"
            f"          - {{Sid: Wide, Effect: Allow, Action: ['cloudformation:CreateStack'], Resource: "
            f"{{'Fn::Sub': '{role.split(':iam:')[0]}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/*'}}}}\n")
    assert serving_grants(env.replaced("iam", text)) == [f"{env.label} iam R Pass: names role DeploymentDeployRoleName",
                                                         f"{env.label} iam R Wide: names the deployment stack",
                                                         f"{env.label} iam R Wide: names the staging endpoint stack",
                                                         f"{env.label} iam R Wide: names the production endpoint stack"]
