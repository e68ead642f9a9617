"""Every role that creates a model from a model package holds CreateModel and DescribeModelPackage on its env's versions.

The endpoint stacks make their model from a registered version (Containers[].ModelPackageName), and their deploy roles
held CreateModel on model/* only. AWS's guide to deploying a model version ("Deploy a Model Version from a Different
Account", SageMaker developer guide) grants CreateModel and DescribeModelPackage on the version, so the first Staging
deploy must not depend on whether SageMaker checks them in the same account. The class: whichever role a pipeline's
CloudFormation action deploys a model-from-package stack with holds both on the versions of its env's group, and on
no other group's, account's or region's.
"""
from __future__ import annotations

from infra.config.names import Names
from infra.stacks import BUILDERS
from tests.support.cfn import as_list
from tests.support.policy_eval import _glob
from tests.support.resolve import resolve_all

ACTIONS = ("sagemaker:CreateModel", "sagemaker:DescribeModelPackage")


def _makes_model_from_package(stack) -> bool:
    return any("ModelPackageName" in container
               for model in stack.resources("AWS::SageMaker::Model").values()
               for container in [*as_list(model["Properties"].get("Containers", [])),
                                 model["Properties"].get("PrimaryContainer", {})])


def _deploy_roles_of_model_stacks(stacks) -> dict[str, str]:
    """role ARN -> the stack key it deploys, for every CloudFormation action of every pipeline that deploys a stack
    whose template makes a model from a package."""
    out = {}
    for stack in stacks.values():
        for pipeline in stack.resources("AWS::CodePipeline::Pipeline").values():
            for stage in pipeline["Properties"]["Stages"]:
                for action in stage["Actions"]:
                    config = action.get("Configuration", {})
                    if action["ActionTypeId"]["Provider"] != "CloudFormation" or "TemplatePath" not in config:
                        continue
                    key = config["TemplatePath"].rsplit("/", 1)[-1].removesuffix(".yaml")
                    if key in stacks and _makes_model_from_package(stacks[key]):
                        out[config["RoleArn"]] = key
    return out


def _role_statements(stacks, role_arn: str) -> list[dict]:
    for stack in stacks.values():
        roles = stack.resources("AWS::IAM::Role")
        for logical_id, role in roles.items():
            props = role["Properties"]
            if role_arn.endswith(f":role{props.get('Path', '/')}{props.get('RoleName')}"):
                out = [st for p in props.get("Policies", []) for st in as_list(p["PolicyDocument"]["Statement"])]
                for policy in [*stack.resources("AWS::IAM::Policy").values(), *stack.resources("AWS::IAM::ManagedPolicy").values()]:
                    if props["RoleName"] in policy["Properties"].get("Roles", []):
                        out += as_list(policy["Properties"]["PolicyDocument"]["Statement"])
                return [st for st in out if st.get("Effect") == "Allow"]
    raise AssertionError(f"no stack makes the role {role_arn}")


def package_problems(stacks, region: str, account: str, group: str) -> list[str]:
    ours = f"arn:aws:sagemaker:{region}:{account}:model-package/{group}/1"
    others = [f"arn:aws:sagemaker:{region}:{account}:model-package/{group}-other/1",
              f"arn:aws:sagemaker:{region}:{account}:model-package/other/1",
              f"arn:aws:sagemaker:{region}:999999999999:model-package/{group}/1",
              f"arn:aws:sagemaker:{'us-west-2' if region != 'us-west-2' else 'us-east-1'}:{account}:model-package/{group}/1"]
    problems = []
    for role_arn, key in sorted(_deploy_roles_of_model_stacks(stacks).items()):
        granted = _role_statements(stacks, role_arn)
        for action in ACTIONS:
            resources = [r for st in granted if action in as_list(st["Action"]) for r in as_list(st["Resource"])]
            if not any(_glob(r, ours) for r in resources):
                problems.append(f"{role_arn} (deploys {key}.yaml) lacks {action} on {ours}")
            problems += [f"{role_arn} (deploys {key}.yaml) holds {action} on {r}, which reaches {other}"
                         for r in resources for other in others if _glob(r, other)]
    return problems


def test_roles_that_make_models_from_packages_hold_both_actions_on_their_groups_versions_only(rendered, project):
    problems, seen = [], {}
    for name, env in project.environments.items():
        stacks = resolve_all(rendered, project, name, list(BUILDERS))
        seen[name] = _deploy_roles_of_model_stacks(stacks)
        problems += package_problems(stacks, env.region, stacks["iam"].pseudo["AWS::AccountId"],
                                     Names(project, env).model_package_group)
    assert not problems, "\n".join(problems)
    assert all(seen[name] for name, env in project.environments.items() if env.deployment), seen


def test_the_check_catches_create_model_only_on_models_and_a_grant_on_every_package():
    arn = "arn:aws:iam::111111111111:role/r"

    class Fake:
        def __init__(self, resources):
            self._resources = resources
            self.pseudo = {}

        def resources(self, rtype=None):
            return {k: v for k, v in self._resources.items() if v["Type"] == rtype}

    def stacks(resources: list[str]):
        role = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r", "Policies": [{"PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Action": list(ACTIONS), "Resource": resources}]}}]}}
        pipeline = {"Type": "AWS::CodePipeline::Pipeline", "Properties": {"Stages": [{"Actions": [{
            "ActionTypeId": {"Provider": "CloudFormation"},
            "Configuration": {"TemplatePath": "Release::templates/endpoint.yaml", "RoleArn": arn}}]}]}}
        model = {"Type": "AWS::SageMaker::Model", "Properties": {"Containers": [{"ModelPackageName": "p"}]}}
        return {"roles": Fake({"Role": role, "Pipeline": pipeline}), "endpoint": Fake({"Model": model})}

    region, account, group = "us-east-1", "111111111111", "g-dev-models"
    assert package_problems(stacks(["arn:aws:sagemaker:us-east-1:111111111111:model/*"]), region, account, group)
    assert package_problems(stacks(["arn:aws:sagemaker:us-east-1:111111111111:model-package/*"]), region, account, group)
    assert not package_problems(stacks([f"arn:aws:sagemaker:us-east-1:111111111111:model-package/{group}/*"]),
                                region, account, group)
