"""A push cannot loosen a stack policy: only `make deploy` sets one.

A stack policy stops an update from replacing or deleting what a stack retains (the artifact bucket and key, the model
registry, the dead-letter queues, log groups). The delivery pipeline's CloudFormation actions pass each stack's
TemplateConfiguration (templates/<env>/<stack>.json) from the push, so a policy in it would be the push's. So: no
TemplateConfiguration holds one (UpdateStack without a policy keeps the stack's current one: "UpdateStack",
StackPolicyBody, CloudFormation API reference), no policy of any stack grants cloudformation:SetStackPolicy (the
administrator's own credentials set it), and `make deploy` sets the policy of every stack that retains something:
its own stacks, and the ones the pipeline created once they exist.
"""
from __future__ import annotations

import json
from fnmatch import fnmatchcase

from infra.config.names import BOOTSTRAP_ONLY_STACKS, ENDPOINT_STACKS
from infra.ops import deploy
from infra.output import render
from tests.support.cfn import as_list, policies, statements

SET_POLICY = "cloudformation:SetStackPolicy"


def configurations_with_a_policy(env) -> list[str]:
    return [f"{env.env}/{stack}.json" for stack in env.stacks
            if "StackPolicy" in json.loads(env.rendered[f"{env.env}/{stack}.json"])]


def policy_setters(env) -> list[str]:
    """Each Allow, in any policy of any stack (roles, boundaries, resource policies), that grants SetStackPolicy."""
    return [f"{stack} {logical_id} {st.get('Sid')} allows {granted}"
            for stack in env.stacks for logical_id, _, prop, document in policies(env.template(stack))
            if prop != "AssumeRolePolicyDocument"
            for st in statements(document) if st.get("Effect") == "Allow"
            for granted in as_list(st.get("Action", [])) if fnmatchcase(SET_POLICY.lower(), granted.lower())]


def test_no_template_configuration_holds_a_stack_policy(envs):
    problems = [f"{env.label}: {p}" for env in envs for p in configurations_with_a_policy(env)]
    assert not problems, "\n".join(problems)


def test_no_policy_grants_setting_a_stack_policy(envs):
    problems = [f"{env.label}: {p}" for env in envs for p in policy_setters(env)]
    assert not problems, "\n".join(problems)


def test_make_deploy_sets_the_policy_of_every_stack_that_retains_something(envs):
    """The bootstrap stacks and the stacks the pipeline creates; the endpoint stacks (the deployment pipeline's)
    retain nothing, so they need none."""
    covered = set(BOOTSTRAP_ONLY_STACKS) | {"pipeline"} | set(deploy.PIPELINE_CREATED_STACKS)
    for env in envs:
        protected = {stack for stack in env.stacks if render.stack_policy(env.template(stack))}
        assert protected <= covered, (env.label, sorted(protected - covered))
        assert not protected & set(ENDPOINT_STACKS), env.label


class FakeCloudFormation:
    def __init__(self, existing: set[str]):
        self.existing, self.policies = existing, {}

    def describe_stacks(self, StackName):
        from botocore.exceptions import ClientError

        if StackName not in self.existing:
            raise ClientError({"Error": {"Code": "ValidationError", "Message": f"Stack {StackName} does not exist"}},
                              "DescribeStacks")
        return {"Stacks": [{"StackStatus": "UPDATE_COMPLETE"}]}

    def set_stack_policy(self, StackName, StackPolicyBody):
        self.policies[StackName] = json.loads(StackPolicyBody)


def test_make_deploy_protects_the_stacks_the_pipeline_created_and_names_the_others(envs):
    from tests.conftest import ROOT

    env = envs[0]  # config/'s first env: its committed templates
    n = env.names
    created = [stack for stack in deploy.PIPELINE_CREATED_STACKS if env.renders(stack)]
    assert created, env.label
    cfn = FakeCloudFormation({n.stack(created[0])})
    waiting = deploy.protect_pipeline_created_stacks(cfn, n, ROOT / "templates", env.env)
    assert waiting == [n.stack(stack) for stack in created[1:]]
    assert cfn.policies == {n.stack(created[0]): render.stack_policy(env.template(created[0]))}
    assert cfn.policies[n.stack(created[0])] is not None
