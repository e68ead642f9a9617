"""`make deploy` / `make diff`: refuse clearly without credentials; send what CloudFormation accepts."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from infra import config
from infra.cfn.parameters import RUN_TIME
from infra.ops import deploy
from infra.stacks import pipeline
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
        [sys.executable, "-m", "infra.ops.deploy", command, "--env", CONFIGURED_ENVS[0]],
        cwd=ROOT, env=NO_CREDENTIALS_ENV, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: no AWS credentials found")


@pytest.mark.parametrize("target", ["deploy", "diff"])
def test_make_targets_run_the_deploy_module_for_the_chosen_env(target):
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(rf"^{target}:.*\n\t(.+)$", makefile, re.M)
    extra = "$(if $(CFN_ROLE_ARN), --cfn-role-arn $(CFN_ROLE_ARN))" if target == "deploy" else ""
    assert recipe and recipe.group(1) == f"$(PY) -m infra.ops.deploy {target} --env $(ENV){extra}"



def test_an_unknown_environment_is_named_in_one_line(capsys):
    assert deploy.main(["diff", "--env", ABSENT_ENV]) == 2
    err = capsys.readouterr().err
    assert f"unknown environment '{ABSENT_ENV}'" in err and err.count("\n") == 1


def test_bootstrap_deploys_the_administrator_stacks_then_the_pipeline_and_nothing_else():
    assert deploy.BOOTSTRAP_STACKS == ("deploy-roles", "boundaries", "iam", "serving-iam", "messaging", "pipeline")


def test_bootstrap_deploys_the_serving_roles_only_where_the_env_serves_models(fixture_project):
    """An env that serves none renders no serving-iam (infra/stacks SERVING_STACKS): `make deploy` skips it, so turning
    serving on is an administrator's `make deploy` after the config change."""
    import dataclasses

    from infra import config

    base = next(iter(fixture_project.environments.values()))
    plain = deploy.bootstrap_stacks(dataclasses.replace(base, deployment=None))
    serving = deploy.bootstrap_stacks(dataclasses.replace(base, deployment=config.loader.deployment_settings("", {})))
    assert plain == [s for s in deploy.BOOTSTRAP_STACKS if s != "serving-iam"]
    assert serving == list(deploy.BOOTSTRAP_STACKS)


class _Existing:
    """CloudFormation as the preflight sees it: these stack names exist."""

    def __init__(self, names):
        self.names = set(names)

    def describe_stacks(self, StackName):
        from botocore.exceptions import ClientError

        if StackName not in self.names:
            raise ClientError({"Error": {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}},
                              "DescribeStacks")
        return {"Stacks": [{"StackStatus": "UPDATE_COMPLETE"}]}


def test_an_env_that_serves_none_is_not_bootstrapped_while_a_serving_stack_is_left(fixture_project):
    """Its boundaries and messaging updates would pull the boundary and the queue from under them (docs/deployment.md
    Stopping): refused in one line naming the stacks, before any change; none left, or an env that serves, goes on."""
    import dataclasses

    from infra import config, stacks
    from infra.config import names as names_mod

    base = next(iter(fixture_project.environments.values()))
    plain = names_mod.Names(fixture_project, dataclasses.replace(base, deployment=None))
    serving = names_mod.Names(fixture_project, dataclasses.replace(base, deployment=config.loader.deployment_settings("", {})))
    left = [plain.stack(s) for s in stacks.SERVING_STACKS]
    with pytest.raises(deploy.DeployError) as refused:
        deploy.check_no_serving_stacks_left(_Existing(left), plain)
    assert all(name in str(refused.value) for name in left) and "\n" not in str(refused.value)
    deploy.check_no_serving_stacks_left(_Existing([plain.stack("pipeline")]), plain)
    deploy.check_no_serving_stacks_left(_Existing(left), serving)


@pytest.mark.every_env
def test_bootstrap_deploys_only_templates_the_env_renders(project, env):
    for stack in deploy.bootstrap_stacks(project.env(env)):
        assert (ROOT / "templates" / env / f"{stack}.yaml").is_file(), f"{env}: no templates/{env}/{stack}.yaml"


@pytest.mark.every_env
@pytest.mark.parametrize("stack", ["iam", "pipeline"])
def test_bootstrap_templates_fit_inline_and_carry_env_parameters_and_tags(project, stack, env):
    body, params, tags = deploy.stack_inputs(ROOT / "templates", stack, env)
    assert len(body.encode()) <= deploy.TEMPLATE_BODY_LIMIT
    declared = set(json.loads(body).get("Parameters", {}))  # concrete: only run-time parameters are left
    assert declared == {p["ParameterKey"] for p in params}
    assert declared <= set(RUN_TIME)
    assert config.names.for_env(project, env).prefix in body  # the env's own names are written in
    configured = {**project.tags, **project.env(env).tags}  # project tags, the env's on top (infra/config/loader.py)
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
    from infra.config import names as names_mod

    env = next(iter(project.environments))
    return env, names_mod.for_env(project, env)


CREATED = {"Status": "CREATE_COMPLETE", "Changes": [{"ResourceChange": {"Action": "Add", "LogicalResourceId": "Topic", "ResourceType": "AWS::SNS::Topic"}}]}


def test_diff_of_a_new_env_previews_creations_reports_what_waits_and_leaves_nothing_behind(project, capsys):
    env, n = _names(project)
    stacks = deploy.previewed_stacks(n)
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
    previewed = deploy.previewed_stacks(n)
    cfn = ScriptedCloudFormation({}, {n.stack(s): unreachable for s in previewed})
    assert deploy.diff_outcome(deploy.diff_all(cfn, n, ROOT / "templates", env)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:-1] == [f"error: {n.stack(s)}: cannot preview: Could not connect to the endpoint URL: "
                        f'"https://cloudformation.example.invalid/"' for s in previewed]
    assert err[-1] == f"error: {len(previewed)} of {len(previewed)} stack(s) could not be previewed"


def test_a_change_set_that_fails_for_any_other_reason_fails_the_diff(project, capsys):
    env, n = _names(project)
    stacks = deploy.previewed_stacks(n)
    existing = {n.stack(s): "UPDATE_COMPLETE" for s in stacks}
    no_changes = {"Status": "FAILED", "StatusReason": "The submitted information didn't contain changes."}
    broken = {"Status": "FAILED", "StatusReason": "Template format error: Unresolved resource dependencies [X]"}
    cfn = ScriptedCloudFormation(existing, {**{n.stack(s): no_changes for s in stacks[:-1]}, n.stack(stacks[-1]): broken})
    assert deploy.diff_outcome(deploy.diff_all(cfn, n, ROOT / "templates", env)) == 1
    captured = capsys.readouterr()
    assert captured.out.count(": no changes") == len(stacks) - 1
    assert f"error: {n.stack(stacks[-1])}: cannot preview: Template format error" in captured.err


def test_make_diff_without_a_reachable_endpoint_exits_non_zero_with_the_reason():
    env = next(iter(config.load().environments))
    result = subprocess.run(
        [sys.executable, "-m", "infra.ops.deploy", "diff", "--env", env], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**NO_CREDENTIALS_ENV, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"},
    )
    assert result.returncode != 0
    assert "Could not connect to the endpoint URL" in result.stderr


def test_retries_are_bounded_by_the_operators_max_attempts_or_four(monkeypatch):
    """Four retries by default; AWS_MAX_ATTEMPTS (or max_attempts in ~/.aws/config) is the operator's to lower."""
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    assert deploy.session("us-east-1").client("cloudformation").meta.config.retries["total_max_attempts"] == 5
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert deploy.session("us-east-1").client("cloudformation").meta.config.retries["total_max_attempts"] == 1


def test_a_preview_never_deletes_a_stack_someone_else_left_in_review(project, capsys):
    env, n = _names(project)
    stacks = deploy.previewed_stacks(n)
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


# -- make deploy: live progress ----------------------------------------------------------------------
from datetime import datetime, timedelta, timezone  # noqa: E402

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


class Unfolding:
    """A stack whose events appear over successive polls, as CloudFormation reports them (newest first)."""

    def __init__(self, name, batches, statuses):
        self.name, self.batches, self.statuses, self.poll = name, batches, statuses, 0

    def _events(self):
        shown = [e for batch in self.batches[: self.poll + 1] for e in batch]
        return sorted(shown, key=lambda e: e["Timestamp"], reverse=True)

    def get_paginator(self, operation):
        assert operation == "describe_stack_events"
        outer = self

        class Pages:
            def paginate(self, StackName):
                events = outer._events()
                return [{"StackEvents": events[:2]}, {"StackEvents": events[2:]}]  # two pages

        return Pages()

    def describe_stacks(self, StackName):
        status = self.statuses[min(self.poll, len(self.statuses) - 1)]
        self.poll += 1
        return {"Stacks": [{"StackStatus": status}]}


def _event(n, logical, status, reason="", rtype="AWS::SNS::Topic", before=False):
    when = T0 + timedelta(seconds=(-100 if before else n))
    return {"EventId": f"e{n}{logical}{status}", "Timestamp": when, "LogicalResourceId": logical, "ResourceType": rtype,
            "ResourceStatus": status, "ResourceStatusReason": reason}


def test_deploy_prints_each_event_once_as_it_happens_and_a_summary(capsys):
    name = "p-dev-notifications"
    batches = [[_event(0, name, "UPDATE_COMPLETE", before=True), _event(1, name, "CREATE_IN_PROGRESS", rtype="AWS::CloudFormation::Stack")],
               [_event(2, "Topic", "CREATE_IN_PROGRESS"), _event(3, "Topic", "CREATE_COMPLETE")],
               [_event(4, name, "CREATE_COMPLETE", rtype="AWS::CloudFormation::Stack")]]
    cfn = Unfolding(name, batches, ["CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"])
    assert deploy.follow(cfn, name, T0, sleep=lambda s: None) == "CREATE_COMPLETE"
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[1:3] for line in out[:-1]] == [["CREATE_IN_PROGRESS", name], ["CREATE_IN_PROGRESS", "Topic"],
                                                         ["CREATE_COMPLETE", "Topic"], ["CREATE_COMPLETE", name]]
    assert out[-1] == f"{name}: CREATE_COMPLETE (4 event(s))"  # the event before the deploy is not shown


def test_a_failed_deploy_names_the_first_resource_that_failed_and_why():
    name = "p-dev-kpi"
    batches = [[_event(1, "Crawler", "CREATE_FAILED", "User: deploy-kpi is not authorized to perform: glue:CreateCrawler",
                        "AWS::Glue::Crawler")],
               [_event(2, "Dashboard", "CREATE_FAILED", "Resource creation cancelled", "AWS::CloudWatch::Dashboard"),
                _event(3, name, "ROLLBACK_COMPLETE", rtype="AWS::CloudFormation::Stack")]]
    cfn = Unfolding(name, batches, ["CREATE_IN_PROGRESS", "ROLLBACK_COMPLETE"])
    with pytest.raises(deploy.DeployError) as failed:
        deploy.follow(cfn, name, T0, sleep=lambda s: None)
    assert str(failed.value) == (f"{name}: ROLLBACK_COMPLETE; first failure: Crawler (AWS::Glue::Crawler): "
                                 "User: deploy-kpi is not authorized to perform: glue:CreateCrawler")


def test_following_gives_up_after_its_timeout(monkeypatch):
    name = "p-dev-kpi"
    cfn = Unfolding(name, [[]], ["UPDATE_IN_PROGRESS"])
    clock = iter(range(0, 10**9, 3600))
    with pytest.raises(deploy.DeployError, match="still UPDATE_IN_PROGRESS after"):
        deploy.follow(cfn, name, T0, sleep=lambda s: None, now=lambda: next(clock))


class RoleRecording(ScriptedCloudFormation):
    """An existing stack last deployed by `role`; records the arguments of each change set."""

    def __init__(self, name, role):
        super().__init__({name: "UPDATE_COMPLETE"}, {name: {"Status": "FAILED", "StatusReason": "The submitted information didn't contain changes."}})
        self.role, self.change_set_args = role, []

    def describe_stacks(self, StackName):
        return {"Stacks": [{"StackStatus": "UPDATE_COMPLETE", **({"RoleARN": self.role} if self.role else {})}]}

    def create_change_set(self, StackName, **kwargs):
        self.change_set_args.append(kwargs)
        return super().create_change_set(StackName, **kwargs)

    def update_termination_protection(self, StackName, EnableTerminationProtection):
        pass


def test_an_administrators_role_reaches_cloudformation_and_a_stack_held_by_another_role_is_named(project, capsys):
    """Once the pipeline has updated its own stack, CloudFormation keeps acting as the pipeline's deploy role
    (which may not change key or bucket policies); make deploy names that role, and CFN_ROLE_ARN replaces it."""
    env, n = _names(project)
    name = n.stack("pipeline")
    body, params, tags = deploy.stack_inputs(ROOT / "templates", "pipeline", env)
    deployer = "arn:aws:iam::111111111111:role/mlops/x-pipeline-deploy"
    cfn = RoleRecording(name, deployer)
    deploy.deploy_stack(cfn, name, "pipeline", body, params, tags, env=env)
    assert "RoleARN" not in cfn.change_set_args[0]
    err = capsys.readouterr().err
    assert deployer in err and f"make deploy ENV={env} CFN_ROLE_ARN=arn:aws:iam::111111111111:role/<role>" in err
    assert deploy.ADMIN_ROLE_DOC in err
    admin = "arn:aws:iam::111111111111:role/cfn-admin"
    deploy.deploy_stack(cfn, name, "pipeline", body, params, tags, admin)
    assert cfn.change_set_args[1]["RoleARN"] == admin
    assert capsys.readouterr().err == ""
    deploy.deploy_stack(RoleRecording(name, None), name, "pipeline", body, params, tags)
    assert capsys.readouterr().err == ""


def test_a_malformed_role_arn_is_refused_in_one_line(capsys):
    assert deploy.main(["deploy", "--env", "any", "--cfn-role-arn", "cfn-admin"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--cfn-role-arn" in err and "not an IAM role ARN" in err


def test_a_stack_whose_first_creation_failed_gets_a_way_out_not_a_raw_error(project):
    env, n = _names(project)
    name = n.stack("pipeline")
    body, params, tags = deploy.stack_inputs(ROOT / "templates", "pipeline", env)
    cfn = ScriptedCloudFormation({name: "ROLLBACK_COMPLETE"}, {})
    with pytest.raises(deploy.DeployError, match="ROLLBACK_COMPLETE.*delete-stack --stack-name"):
        deploy.deploy_stack(cfn, name, "pipeline", body, params, tags)
    assert not [c for c in cfn.calls if c[0] == "create_change_set"]


def test_a_change_set_that_never_finishes_is_given_up_and_taken_back(project, monkeypatch):
    env, n = _names(project)
    name = n.stack("pipeline")
    body, params, tags = deploy.stack_inputs(ROOT / "templates", "pipeline", env)
    cfn = ScriptedCloudFormation({}, {name: {"Status": "CREATE_PENDING"}})
    clock = iter(range(0, 10_000, 300))
    monkeypatch.setattr(deploy.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(deploy.time, "sleep", lambda s: None)
    with pytest.raises(deploy.DeployError, match="still CREATE_PENDING"):
        deploy.create_change_set(cfn, name, "pipeline", body, params, tags, None)
    assert ("delete_change_set", name) in cfn.calls and ("delete_stack", name) in cfn.calls


def test_a_retried_call_whose_first_try_went_through_is_not_a_failure(project):
    """Standard retries repeat a timed-out CreateChangeSet/ExecuteChangeSet; the repeat's refusal is not an error."""
    env, n = _names(project)
    name = n.stack("pipeline")
    body, params, tags = deploy.stack_inputs(ROOT / "templates", "pipeline", env)

    class Repeated(RoleRecording):
        def create_change_set(self, StackName, **kwargs):
            raise ClientError({"Error": {"Code": "AlreadyExistsException", "Message": "exists"}}, "CreateChangeSet")

    cfn = Repeated(name, None)
    deploy.deploy_stack(cfn, name, "pipeline", body, params, tags)  # the existing change set is awaited as usual


def test_diff_never_previews_the_endpoint_stacks_and_the_deployment_stack_only_where_models_are_served(fixture_project):
    """The endpoint stacks are deployed with a resolved version: a preview from the placeholder would misstate them."""
    import dataclasses

    from infra import config
    from infra.config import names as names_mod

    base = next(iter(fixture_project.environments.values()))
    plain = deploy.previewed_stacks(names_mod.Names(fixture_project, dataclasses.replace(base, deployment=None)))
    serving = deploy.previewed_stacks(names_mod.Names(
        fixture_project, dataclasses.replace(base, deployment=config.loader.deployment_settings("", {}))))
    assert not {"staging-endpoint", "production-endpoint"} & set(plain + serving)
    assert not {"deployment", "serving-iam"} & set(plain) and {"deployment", "serving-iam"} <= set(serving)


@pytest.mark.parametrize("status, first", [(None, "deploy"), ("UPDATE_COMPLETE", "set_stack_policy")])
def test_an_existing_stack_gets_its_new_stack_policy_before_the_update(project, monkeypatch, status, first):
    """CloudFormation enforces the stack's current policy during a change set (ExecuteChangeSet): a stack that drops
    a protected resource (messaging's deployment queue, where the env stops serving) could not be updated under the
    old one. A new stack has no policy to replace; the policy is set after either way."""
    env = next(iter(project.environments))
    n = config.names.for_env(project, project.env(env))
    calls = []
    monkeypatch.setattr(deploy, "_stack_status", lambda cfn, name: status)
    monkeypatch.setattr(deploy, "deploy_stack", lambda cfn, name, *a: calls.append("deploy"))
    monkeypatch.setattr(deploy, "apply_stack_policy", lambda cfn, name, path: calls.append("set_stack_policy"))
    deploy.bootstrap_stack(None, n, "messaging", ROOT / "templates", env, None)
    assert calls == ([first] if first == "deploy" else [first, "deploy"]) + ["set_stack_policy"]
