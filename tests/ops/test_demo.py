"""`make demo` (tests/demo) for every configured env: exit 0 and the lines a reader looks for.

In-process: the SageMaker SDK is imported once for all envs (it is most of a run's time).
"""
from __future__ import annotations

import copy
import dataclasses
import io
import json
import re

import pytest

from infra.config import names
from infra.config.loader import deployment_settings
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


def _report_auc(text: str) -> float:
    """The AUC of the quality report the demo registered (the trained model's evaluation)."""
    report = re.search(r"^ {6}(\{\"binary_classification_metrics\".*)$", text, re.M)
    assert report, "the demo prints no quality report"
    return json.loads(report.group(1))["binary_classification_metrics"]["auc"]["value"]


def test_demo_lists_the_published_kpi_metrics(outputs):
    for _, (_, text) in outputs.items():
        auc = _report_auc(text)
        assert re.search(rf"ModelQuality\[accuracy\]=[0-9.]+, ModelQuality\[auc\]={re.escape(f'{auc:g}')}, "
                         r"ModelsApproved=1, ModelsRegistered=1$", text, re.M)


def test_demo_registers_the_model_train_local_trained(outputs):
    for _, (_, text) in outputs.items():
        assert "trained in " in text and "with make train-local's code" in text
        assert f"the trained model, auc {_report_auc(text):.4g})" in text


def test_demo_rehearses_the_deployment_with_the_env_settings_or_the_defaults(outputs, project):
    for env, (_, text) in outputs.items():
        no_block = (f"{env} has no deployment block; rehearsing with the serving roles, messaging, deployment and endpoint "
                    "stacks the default block")
        assert (no_block in text) == (project.env(env).deployment is None)


def test_demo_deploys_the_approved_version_through_staging_smoke_test_and_production(outputs, project):
    for env, (_, text) in outputs.items():
        n = names.for_env(project, env)
        settings = project.env(env).deployment or deployment_settings("", {})
        group = n.model_package_group
        assert f"ok: the approval matched {n.deployment_rule} -> {n.deployment_pipeline}; another group's approval did not" in text
        assert f"ok: v1: version 1 of {group}, created " in text
        assert f"ok: {n.staging_endpoint} InService (moto), v1 on 1 x {settings.staging_instance_type}" in text
        assert "ok: passed: 4 requests answered by the trained model (its packaged inference.py)" in text
        assert text.count("  -> answered by the trained model: ") == 4
        if settings.approval:
            assert f"Deploy version 1 of {group} to {n.production_endpoint}? It passed the smoke test on {n.staging_endpoint}." in text
        production = re.search(rf"ok: {re.escape(n.production_endpoint)} InService \(moto\), v1 on (\d+) x (\S+), "
                               rf"checked to serve it; ([^\s,;]+)", text)
        assert production and production.groups() == (str(settings.min_instances), settings.instance_type,
                                                       settings.rollout_type.upper())
        assert f"ok: DeployedModelVersion=1 ({n.production_endpoint}); the operations topic says production serves it" in text


def test_demo_rehearses_both_rollout_outcomes_and_says_what_it_emulates(outputs, project):
    for env, (_, text) in outputs.items():
        n = names.for_env(project, env)
        latency_alarm = f"{n.prefix}-production-latency"
        assert "what is emulated: moto has no UpdateEndpoint and no traffic shifting" in text
        assert "emulated SageMaker: the rollout is rolled back: InService on the old config" in text
        assert "emulated SageMaker: the rollout completes: traffic on the new config" in text
        assert (f"ok: v2: {latency_alarm} ALARM -> SageMaker rolled back (emulated), all agree on v1; rolled out again "
                "to the same config: all agree on v2") in text
        assert "stage Production failed and the run stopped" in text
        assert "agree on v1: DescribeEndpoint, DeployedModelVersion (dashboard, Resolve), make status" in text


def test_demo_rolls_back_on_rejections(outputs, project):
    for env, (_, text) in outputs.items():
        n = names.for_env(project, env)
        assert (f"ok: v3 rejected mid-rollout: the RollOut action set {n.prefix}-production-rejected to ALARM, SageMaker "
                "rolled back (emulated); production serves v2") in text
        assert "already serves version 2, the newest Approved version" in text  # nothing to deploy: nobody asked
        assert ("ok: the rejection of v2, which production serves, starts a run; Resolve goes back to v1, the previous "
                "approved version, skipping Staging (its deploy and smoke test)") in text
        assert f"ok: Resolve fails the run: ALERT: {n.production_endpoint} serves version 1, which is Rejected" in text


def test_demo_exits_1_naming_the_template_when_an_endpoint_property_is_wrong(monkeypatch, project):
    """A property the API does not know (a misspelt name in the rendered staging template) breaks the staging step."""
    env = CONFIGURED_ENVS[0]
    real_read = wiring.read

    def misspelt(*args):
        w = real_read(*args)
        staging = w.deployment.staging
        template = copy.deepcopy(staging.template)
        variant = template["Resources"]["EndpointConfig"]["Properties"]["ProductionVariants"][0]
        variant["InitialInstanceCnt"] = variant.pop("InitialInstanceCount")
        deployment = dataclasses.replace(w.deployment, staging=dataclasses.replace(staging, template=template))
        return dataclasses.replace(w, deployment=deployment)

    monkeypatch.setattr(wiring, "read", misspelt)
    out = io.StringIO()
    assert run.main(["--env", env], out=out) == 1
    text = out.getvalue()
    assert ('FAILED: staging-endpoint.yaml EndpointConfig: sagemaker CreateEndpointConfig: Unknown parameter in '
            'ProductionVariants[0]: "InitialInstanceCnt"') in text
    assert re.search(r"Smoke test \(deploy_smoke_test\) on the real model\s+not run", text)


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
