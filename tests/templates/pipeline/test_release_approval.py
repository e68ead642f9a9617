"""A person approves each release of an env that asks for it, before any of its stacks changes.

A push to prod's branch once deployed everything at once. Now config `operations.release_approval` puts a
manual approval right after Synth, before the pipeline updates itself: a push that removes the stage still
waits for it, since the stage runs before the pipeline takes the push's own definition.
"""
from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest

from infra.config import names as names_mod
from infra.output import render
from infra.stacks import BUILDERS
from tests.support.resolve import resolve_all


def _with_approval(project, required: bool):
    envs = {name: dataclasses.replace(env, release_approval=required) for name, env in project.environments.items()}
    return dataclasses.replace(project, environments=MappingProxyType(envs))


@pytest.fixture(scope="module", params=[True, False], ids=["approval", "no_approval"])
def case(request, project):
    fixture = _with_approval(project, request.param)
    rendered = render.render(fixture)
    return request.param, fixture, {env: resolve_all(rendered, fixture, env, list(BUILDERS)) for env in fixture.environments}


def _stages(stacks) -> list[dict]:
    (pipeline,) = stacks["pipeline"].resources("AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]["Stages"]


def test_the_approval_comes_right_after_source_before_any_code_runs_only_where_config_asks(case):
    """Before Synth: the push's code (Synth) must not run before a person approves, since Synth's role writes
    the run artifacts a waiting, approved run would deploy."""
    required, _project, by_env = case
    for env, stacks in by_env.items():
        names = [s["Name"] for s in _stages(stacks)]
        first_build = min(i for i, s in enumerate(_stages(stacks))
                          if any(a["ActionTypeId"]["Category"] in ("Build", "Deploy") for a in s["Actions"]))
        if required:
            assert names.index("ApproveRelease") == names.index("Source") + 1 < first_build, f"env {env}: {names}"
        else:
            assert "ApproveRelease" not in names, f"env {env}"


def test_the_approvers_hear_on_the_operations_topic_which_revision_waits(case):
    required, project, by_env = case
    if not required:
        pytest.skip("no approval stage")
    for env, stacks in by_env.items():
        (approval,) = [a for s in _stages(stacks) if s["Name"] == "ApproveRelease" for a in s["Actions"]]
        assert approval["ActionTypeId"] == {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"}
        topic = stacks["pipeline"].exports()[f"{names_mod.for_env(project, env).stack('pipeline')}-OperationsTopicArn"]
        assert approval["Configuration"]["NotificationArn"] == topic
        (source,) = _stages(stacks)[0]["Actions"]
        assert source["Namespace"] in approval["Configuration"]["CustomData"]
        assert len(approval["Configuration"]["CustomData"]) <= 500  # CodePipeline's limit for CustomData


def test_the_pipeline_role_may_ask_and_the_approvers_are_subscribed(case):
    _required, project, by_env = case
    for env, stacks in by_env.items():
        topic = stacks["pipeline"].exports()[f"{names_mod.for_env(project, env).stack('pipeline')}-OperationsTopicArn"]
        role = stacks["iam"].resources("AWS::IAM::Role")["CodePipelineRole"]["Properties"]
        publishes = [s for s in role["Policies"][0]["PolicyDocument"]["Statement"] if "sns:Publish" in s["Action"]]
        assert any(topic in s["Resource"] for s in publishes), f"env {env}: the pipeline role cannot publish to {topic}"
        subscribed = {s["Properties"]["Endpoint"] for s in stacks["pipeline"].resources("AWS::SNS::Subscription").values()}
        assert subscribed == set(project.env(env).operations_emails)


def test_config_turns_the_approval_on_per_env_and_it_defaults_off(tmp_path):
    import shutil

    import yaml

    from infra import config
    from tests.conftest import ROOT

    shutil.copytree(ROOT / "config", tmp_path / "config")
    first = yaml.safe_load((tmp_path / "config" / "project.yaml").read_text())["environments"][0]
    path = tmp_path / "config" / f"{first}.yaml"
    data = yaml.safe_load(path.read_text())
    data.pop("operations", None)
    data.pop("deployment", None)  # an env that serves models must approve its releases: not the default case
    path.write_text(yaml.safe_dump(data))
    env = config.load(tmp_path / "config").env(first)
    assert env.release_approval is False and env.operations_emails == env.emails
    data["operations"] = {"release_approval": True, "emails": ["leads@example.com"]}
    path.write_text(yaml.safe_dump(data))
    env = config.load(tmp_path / "config").env(first)
    assert env.release_approval is True and env.operations_emails == ("leads@example.com",)
