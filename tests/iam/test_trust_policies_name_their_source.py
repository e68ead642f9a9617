"""A service may assume a role only on behalf of this account (and of this env's resources, where the service says
which resource it acts for): the confused-deputy guard, wherever the service's guide says it sends the keys.

A key a service does not send on AssumeRole makes the role unassumable on the first run, so the table is the
services' own guides, and a service the stacks trust that is not in it fails until it is looked up:
- events.amazonaws.com: "Using IAM policy conditions in Amazon EventBridge" (aws:SourceAccount, the rule's account;
  aws:SourceArn, the rule that sends the event).
- sagemaker.amazonaws.com: SageMaker AI developer guide, "Cross-service confused deputy prevention" (Pipelines,
  Processing and Training jobs, Inference): both keys, any resource of this account and region (the source differs
  per feature), with IfExists, as the guide does not say every AssumeRole carries them.
- scheduler.amazonaws.com: EventBridge Scheduler guide, "Setting up Amazon EventBridge Scheduler" (the execution
  role): aws:SourceAccount, and aws:SourceArn the schedule group.
- Not applied: the guides searched show no trust-policy keys for Lambda execution roles, CloudFormation service
  roles (its confused-deputy page is about extensions' resource policies) or Glue crawler roles; CodeBuild's and
  CodePipeline's pages were not found in the sources searched (docs/security.md, open risks); nor AWS Chatbot's
  (its channel role: the Chatbot administrator guide's IAM pages show a plain chatbot.amazonaws.com trust).
"""
from __future__ import annotations

import copy
import fnmatch

from tests.support.cfn import as_list

# service -> (operator suffix, whether the source ARN must name fewer than all the service's resources here)
SOURCE_KEYS = {"events.amazonaws.com": ("", True), "sagemaker.amazonaws.com": ("IfExists", False),
               "scheduler.amazonaws.com": ("", True)}
NOT_SENT_OR_NOT_DOCUMENTED = {"lambda.amazonaws.com", "cloudformation.amazonaws.com", "glue.amazonaws.com",
                              "codebuild.amazonaws.com", "codepipeline.amazonaws.com", "chatbot.amazonaws.com"}


def trust_problems(stacks) -> list[str]:
    pseudo = next(iter(stacks.values())).pseudo
    account, region = pseudo["AWS::AccountId"], pseudo["AWS::Region"]
    problems = []
    for key, stack in stacks.items():
        for logical_id, role in stack.resources("AWS::IAM::Role").items():
            for st in as_list(role["Properties"]["AssumeRolePolicyDocument"]["Statement"]):
                condition = st.get("Condition", {})
                for service in as_list(st.get("Principal", {}).get("Service", [])):
                    where = f"{key} {logical_id} ({service})"
                    if service in NOT_SENT_OR_NOT_DOCUMENTED:
                        continue
                    if service not in SOURCE_KEYS:
                        problems.append(f"{where}: not in SOURCE_KEYS (look up which keys it sends on AssumeRole)")
                        continue
                    suffix, narrower = SOURCE_KEYS[service]
                    if condition.get(f"StringEquals{suffix}", {}).get("aws:SourceAccount") != account:
                        problems.append(f"{where}: trusted without aws:SourceAccount {account}")
                    arns = as_list(condition.get(f"ArnLike{suffix}", {}).get("aws:SourceArn", []))
                    home = f"arn:aws:{service.split('.')[0]}:{region}:{account}:"
                    if not arns or not all(a.startswith(home) and not (narrower and fnmatch.fnmatchcase(home + "x", a))
                                           for a in arns):
                        problems.append(f"{where}: aws:SourceArn {arns} is not this env's resources ({home}…)")
    return problems


def test_every_service_role_is_assumed_only_for_this_account(stacks_by_env):
    problems = [f"{env}: {p}" for env, stacks in stacks_by_env.items() for p in trust_problems(stacks)]
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_bare_trust_and_a_source_anywhere(stacks_by_env):
    stacks = copy.deepcopy(next(iter(stacks_by_env.values())))
    roles = stacks["iam"].template["Resources"]
    for role in roles.values():
        if role["Type"] == "AWS::IAM::Role" and "sagemaker.amazonaws.com" in str(role["Properties"]["AssumeRolePolicyDocument"]):
            role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0].pop("Condition")
        if role["Type"] == "AWS::IAM::Role" and "events.amazonaws.com" in str(role["Properties"]["AssumeRolePolicyDocument"]):
            role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"] = "*"
    problems = trust_problems(stacks)
    assert any("(sagemaker.amazonaws.com): trusted without aws:SourceAccount" in p for p in problems), problems
    assert any("(events.amazonaws.com): aws:SourceArn ['*']" in p for p in problems), problems
