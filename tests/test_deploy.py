"""`make deploy` / `make diff`: refuse clearly without credentials; send what CloudFormation accepts."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from infra import config, deploy, pipeline
from infra.stacks import BUILDERS
from tests.conftest import ABSENT_ENV, CONFIGURED_ENVS, ROOT

NO_CREDENTIALS_ENV = {
    "PATH": os.environ.get("PATH", ""),
    "HOME": "/nonexistent",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookup: stays offline
}


@pytest.mark.parametrize("command", ["deploy", "diff"])
def test_deploy_and_diff_fail_with_one_line_when_no_aws_credentials(command):
    result = subprocess.run(
        [sys.executable, "-m", "infra.deploy", command, "--env", CONFIGURED_ENVS[0]],
        cwd=ROOT, env=NO_CREDENTIALS_ENV, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: no AWS credentials found")


@pytest.mark.parametrize("target", ["deploy", "diff"])
def test_make_targets_run_the_deploy_module_for_the_chosen_env(target):
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(rf"^{target}:.*\n\t(.+)$", makefile, re.M)
    assert recipe and recipe.group(1) == f"$(PY) -m infra.deploy {target} --env $(ENV)"


def test_an_unknown_environment_is_named_in_one_line(capsys):
    assert deploy.main(["diff", "--env", ABSENT_ENV]) == 2
    err = capsys.readouterr().err
    assert f"unknown environment '{ABSENT_ENV}'" in err and err.count("\n") == 1


def test_bootstrap_deploys_deploy_roles_then_iam_then_the_pipeline_and_nothing_else():
    assert deploy.BOOTSTRAP_STACKS == ("deploy-roles", "iam", "pipeline")


@pytest.mark.every_env
@pytest.mark.parametrize("stack", ["iam", "pipeline"])
def test_bootstrap_templates_fit_inline_and_carry_env_parameters_and_tags(project, stack, env):
    body, params, tags = deploy.stack_inputs(ROOT / "templates", stack, env)
    assert len(body.encode()) <= deploy.TEMPLATE_BODY_LIMIT
    assert set(json.loads(body)["Parameters"]) == {p["ParameterKey"] for p in params}
    configured = {**project.tags, **project.env(env).tags}  # project tags, the env's on top (infra/config.py)
    assert tags == [{"Key": k, "Value": v} for k, v in sorted(configured.items())]
    assert pipeline.CAPABILITIES[stack] == (["CAPABILITY_NAMED_IAM"] if stack == "iam" else [])  # pipeline: no IAM



# -- make diff: a preview that could not be made is a failure --------------------------------------
class ScriptedCloudFormation:
    """CloudFormation as `make diff` sees it: which stacks exist, and what each change set comes to."""

    def __init__(self, existing: dict[str, str], change_sets: dict[str, dict | Exception]):
        self.existing, self.change_sets, self.calls = existing, change_sets, []

    def describe_stacks(self, StackName):
        self.calls.append(("describe_stacks", StackName))
        outcome = self.change_sets.get(StackName)
        if isinstance(outcome, EndpointConnectionError):
            raise outcome
        if StackName not in self.existing:
            raise ClientError({"Error": {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}}, "DescribeStacks")
        return {"Stacks": [{"StackStatus": self.existing[StackName]}]}

    def create_change_set(self, StackName, **kwargs):
        self.calls.append(("create_change_set", StackName))
        outcome = self.change_sets[StackName]
        if isinstance(outcome, Exception):
            raise outcome
        return {}

    def describe_change_set(self, StackName, ChangeSetName):
        return self.change_sets[StackName]

    def delete_change_set(self, StackName, ChangeSetName):
        self.calls.append(("delete_change_set", StackName))

    def delete_stack(self, StackName):
        self.calls.append(("delete_stack", StackName))


def _names(project):
    from infra import names as names_mod

    env = next(iter(project.environments))
    return env, names_mod.for_env(project, env)


CREATED = {"Status": "CREATE_COMPLETE", "Changes": [{"ResourceChange": {"Action": "Add", "LogicalResourceId": "Topic", "ResourceType": "AWS::SNS::Topic"}}]}


def test_diff_of_a_new_env_previews_creations_reports_what_waits_and_leaves_nothing_behind(project, capsys):
    env, n = _names(project)
    stacks = list(BUILDERS)
    first, second, *later = [n.stack(s) for s in stacks]
    waiting = {name: {"Status": "FAILED", "StatusReason": f"No export named {second}-SomeRoleArn found"} for name in later}
    cfn = ScriptedCloudFormation({}, {first: CREATED, second: CREATED, **waiting})
    previews = deploy.diff_all(cfn, n, ROOT / "templates", env)
    assert deploy.diff_outcome(previews) == 0
    out = capsys.readouterr()
    assert f"{first}: does not exist yet; would be created (1 change(s))" in out.out
    assert all(f"{name}: waits for {second}, which does not exist yet" in out.out for name in later)
    assert out.err == ""
    # Every CREATE change set leaves an empty REVIEW_IN_PROGRESS stack: each is deleted again.
    assert sorted(s for c, s in cfn.calls if c == "delete_stack") == sorted(n.stack(s) for s in stacks)


def test_diff_that_cannot_reach_aws_fails_and_names_each_stack_with_its_reason(project, capsys):
    env, n = _names(project)
    unreachable = EndpointConnectionError(endpoint_url="https://cloudformation.example.invalid/")
    cfn = ScriptedCloudFormation({}, {n.stack(s): unreachable for s in BUILDERS})
    assert deploy.diff_outcome(deploy.diff_all(cfn, n, ROOT / "templates", env)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:-1] == [f"error: {n.stack(s)}: cannot preview: Could not connect to the endpoint URL: "
                        f'"https://cloudformation.example.invalid/"' for s in BUILDERS]
    assert err[-1] == f"error: {len(BUILDERS)} of {len(BUILDERS)} stack(s) could not be previewed"


def test_a_change_set_that_fails_for_any_other_reason_fails_the_diff(project, capsys):
    env, n = _names(project)
    existing = {n.stack(s): "UPDATE_COMPLETE" for s in BUILDERS}
    no_changes = {"Status": "FAILED", "StatusReason": "The submitted information didn't contain changes."}
    broken = {"Status": "FAILED", "StatusReason": "Template format error: Unresolved resource dependencies [X]"}
    stacks = list(BUILDERS)
    cfn = ScriptedCloudFormation(existing, {**{n.stack(s): no_changes for s in stacks[:-1]}, n.stack(stacks[-1]): broken})
    assert deploy.diff_outcome(deploy.diff_all(cfn, n, ROOT / "templates", env)) == 1
    captured = capsys.readouterr()
    assert captured.out.count(": no changes") == len(stacks) - 1
    assert f"error: {n.stack(stacks[-1])}: cannot preview: Template format error" in captured.err


def test_make_diff_without_a_reachable_endpoint_exits_non_zero_with_the_reason():
    env = next(iter(config.load().environments))
    result = subprocess.run(
        [sys.executable, "-m", "infra.deploy", "diff", "--env", env], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**NO_CREDENTIALS_ENV, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"},
    )
    assert result.returncode != 0
    assert "Could not connect to the endpoint URL" in result.stderr


def test_a_preview_never_deletes_a_stack_someone_else_left_in_review(project, capsys):
    env, n = _names(project)
    stacks = list(BUILDERS)
    pending = n.stack(stacks[0])
    cfn = ScriptedCloudFormation({pending: "REVIEW_IN_PROGRESS"}, {n.stack(s): CREATED for s in stacks})
    deploy.diff_all(cfn, n, ROOT / "templates", env)
    deleted = {s for c, s in cfn.calls if c == "delete_stack"}
    assert pending not in deleted and deleted == {n.stack(s) for s in stacks[1:]}


def test_a_change_set_that_cannot_be_awaited_is_taken_back(project):
    env, n = _names(project)
    name = n.stack(next(iter(BUILDERS)))

    class Throttled(ScriptedCloudFormation):
        def describe_change_set(self, StackName, ChangeSetName):
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "DescribeChangeSet")

    cfn = Throttled({}, {name: CREATED})
    body, params, tags = deploy.stack_inputs(ROOT / "templates", next(iter(BUILDERS)), env)
    preview = deploy.diff_stack(cfn, name, next(iter(BUILDERS)), body, params, tags, None)
    assert preview.failed and "Rate exceeded" in preview.summary
    assert ("delete_change_set", name) in cfn.calls and ("delete_stack", name) in cfn.calls
