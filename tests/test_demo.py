"""`make demo` (tests/demo) for every configured env: exit 0 and the lines a reader looks for.

In-process: the SageMaker SDK is imported once for all envs (it is most of a run's time).
"""
from __future__ import annotations

import io

import pytest

from infra.config import names
from tests.conftest import ABSENT_ENV, CONFIGURED_ENVS
from tests.demo import run, wiring


@pytest.fixture(scope="module")
def outputs(project):
    """env -> (exit code, printed text), each env run once for the module."""
    results = {}
    for env in project.environments:
        out = io.StringIO()
        results[env] = (run.main(["--env", env], out=out), out.getvalue())
    return results


def test_demo_passes_for_every_configured_env(outputs, project):
    assert set(outputs) == set(project.environments)
    for env, (code, text) in outputs.items():
        assert code == 0, text
        assert text.rstrip().endswith("Network: 0 connection attempt(s) off this machine.\nEvery link held.")


def test_demo_prints_the_approval_email_as_a_subscriber_receives_it(outputs, project):
    for env, (_, text) in outputs.items():
        group = f"{project.sagemaker_pipeline_name}-{env}-models"
        approved = f"Subject: [SageMaker] {group} v1 Approved"
        comment = "Comment:       AUC above threshold; approved by the demo."
        if "Approved" in project.env(env).statuses:
            assert approved in text and comment in text
            assert f"To:      {', '.join(project.env(env).emails)}" in text
        else:
            assert approved not in text and comment not in text


def test_demo_shows_registrations_notified_only_where_config_says(outputs, project):
    for env, (_, text) in outputs.items():
        group = f"{project.sagemaker_pipeline_name}-{env}-models"
        pending = f"Subject: [SageMaker] {group} v1 PendingManualApproval"
        if "PendingManualApproval" in project.env(env).statuses:
            assert pending in text
        else:
            assert pending not in text
            assert '"reason": "status not notified"' in text


def test_demo_shows_other_groups_ignored_by_rule_and_handler(outputs):
    for _, (_, text) in outputs.items():
        assert "notifier: ignored (other model package group); metrics: rule did not match (other group)" in text
        assert '"reason": "other model package group"' in text


def test_demo_lists_the_published_kpi_metrics(outputs):
    for _, (_, text) in outputs.items():
        assert "ModelQuality[accuracy]=0.874, ModelQuality[auc]=0.912, ModelsApproved=1, ModelsRegistered=1" in text


def test_demo_exits_1_and_names_the_step_when_a_link_breaks(monkeypatch, project):
    env = CONFIGURED_ENVS[0]
    group = names.for_env(project, env).model_package_group
    real_read = wiring.read

    def drifted(*args):
        w = real_read(*args)
        return wiring.Wiring(**{**w.__dict__, "notifier": wiring.Function(
            w.notifier.name, w.notifier.handler, {**w.notifier.environment, "MODEL_PACKAGE_GROUP_NAME": "stale-models"})})

    monkeypatch.setattr(wiring, "read", drifted)
    out = io.StringIO()
    assert run.main(["--env", env], out=out) == 1
    text = out.getvalue()
    assert f"FAILED: model package group is not {group} in: notifications.yaml MODEL_PACKAGE_GROUP_NAME = stale-models" in text
    assert "Start the AWS emulator" in text and "not run" in text
    assert text.rstrip().endswith("A LINK BROKE: see the FAILED step (or the network line) above.")


def test_demo_refuses_an_unknown_env_in_one_line(capsys):
    assert run.main(["--env", ABSENT_ENV]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and f"'{ABSENT_ENV}'" in err and err.count("\n") == 1
