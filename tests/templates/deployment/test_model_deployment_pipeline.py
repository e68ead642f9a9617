"""Serving approved models: config, the delivery pipeline's deployment stage, the model-deployment pipeline, its
trigger and its outcome messages, and the dashboard's endpoint graphs. Built from the tests' own config with a
`deployment` block added to one env (the other keeps none)."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from infra import config
from infra.config import names
from infra.config import serving as serving_rules
from infra.config.names import RELEASE_KEY
from infra.output import render
from tests.conftest import FIXTURE_CONFIG
from tests.support import resolve
from tests.support.events import deliver
from tests.support.cfn import load
from tests.support.serving_config import serve

SERVING, PLAIN = "dev", "prod"  # the fixture config's two envs: one serves models, one does not


def _config(tmp_path, deployment: dict | None, release_approval: bool = True):
    shutil.copytree(FIXTURE_CONFIG, tmp_path / "config")
    path = tmp_path / "config" / f"{SERVING}.yaml"
    data = yaml.safe_load(path.read_text())
    data.pop("deployment", None)
    if deployment is not None:
        serve(data, deployment, release_approval)
    path.write_text(yaml.safe_dump(data))
    return tmp_path / "config"


@pytest.fixture
def serving(tmp_path):
    """(project, rendered files) with defaults for everything but the approval."""
    project = config.load(_config(tmp_path, {"approval": True}))
    return project, render.render(project)


def _stages(stack: resolve.Stack) -> list[dict]:
    pipeline = stack.resources("AWS::CodePipeline::Pipeline")
    (props,) = [p["Properties"] for p in pipeline.values()]
    return props["Stages"]


# -- config ------------------------------------------------------------------------------------------
def test_an_env_without_a_deployment_block_serves_nothing_and_defaults_fill_the_rest(serving):
    project, _ = serving
    assert project.env(PLAIN).deployment is None
    settings = project.env(SERVING).deployment
    assert (settings.rollout_type, settings.traffic_percent, settings.min_instances, settings.max_instances) == ("canary", 50, 2, 4)
    assert settings.staging_instance_type == settings.instance_type


@pytest.mark.parametrize("deployment, key", [
    ({"min_instances": 3, "max_instances": 2}, "deployment.max_instances"),
    ({"rollout": {"type": "blue"}}, "deployment.rollout.type"),
    ({"rollout": {"traffic_percent": 80}}, "deployment.rollout.traffic_percent"),
    ({"data_capture_percent": 101}, "deployment.data_capture_percent"),
    ({"instance_type": "m5.large"}, "deployment.instance_type"),
    ({"canary": True}, "deployment"),
])
def test_a_bad_deployment_setting_is_one_line_naming_the_key(tmp_path, deployment, key):
    with pytest.raises(config.ConfigError) as error:
        config.load(_config(tmp_path, deployment))
    assert f"{SERVING}.yaml: {key}" in str(error.value) and "\n" not in str(error.value)


def test_an_env_that_serves_models_must_approve_its_releases(tmp_path):
    """Every stack the delivery pipeline deploys comes from the push, the deployment path included."""
    with pytest.raises(config.ConfigError) as error:
        config.load(_config(tmp_path, {}, release_approval=False))
    assert f"{SERVING}.yaml: deployment: an env that serves models needs operations.release_approval: true" in str(error.value)


# -- the delivery pipeline ----------------------------------------------------------------------------
def test_only_an_env_that_serves_models_publishes_its_release_then_deploys_the_deployment_stack(serving):
    project, rendered = serving
    for env, wanted in ((SERVING, True), (PLAIN, False)):
        stack = resolve.alone(rendered, project, env, "pipeline")
        stages = {s["Name"]: s for s in _stages(stack)}
        assert ("DeployDeployment" in stages) is wanted, env
        if wanted:
            publish, deploy = stages["DeployDeployment"]["Actions"]
            assert deploy["Configuration"]["StackName"] == names.for_env(project, env).stack("deployment")
            # The release first: CodePipeline runs a new pipeline as it creates it, and that run reads the release.
            assert (publish["ActionTypeId"]["Provider"], publish["RunOrder"], deploy["RunOrder"]) == ("S3", 1, 2)
            assert publish["Configuration"]["ObjectKey"] == RELEASE_KEY and publish["Configuration"]["Extract"] == "false"
            assert [a["Name"] for a in publish["InputArtifacts"]] == [a["Name"] for a in deploy["InputArtifacts"]]
            assert list(stages)[-1] == "DeployDeployment", "the release is published after everything it holds is deployed"


# -- the model-deployment pipeline ------------------------------------------------------------------
@pytest.mark.parametrize("approval, keep_staging, expected, staging_actions", [
    (True, False, ["Source", "Resolve", "Staging", "ApproveProduction", "Production"],
     ["DeployStagingEndpoint", "SmokeTest", "DeleteStagingStack"]),
    (False, True, ["Source", "Resolve", "Staging", "Production"], ["DeployStagingEndpoint", "SmokeTest"]),
    (True, True, ["Source", "Resolve", "Staging", "ApproveProduction", "Production"], ["DeployStagingEndpoint", "SmokeTest"]),
    (False, False, ["Source", "Resolve", "Staging", "Production"], ["DeployStagingEndpoint", "SmokeTest", "DeleteStagingStack"]),
])
def test_a_run_stages_smoke_tests_waits_for_a_person_then_promotes(tmp_path, approval, keep_staging, expected, staging_actions):
    project = config.load(_config(tmp_path, {"approval": approval, "keep_staging": keep_staging}))
    stack = resolve.alone(render.render(project), project, SERVING, "deployment")
    assert [s["Name"] for s in _stages(stack)] == expected
    (staging,) = [s for s in _stages(stack) if s["Name"] == "Staging"]
    assert [(a["Name"], a["RunOrder"]) for a in staging["Actions"]] == list(zip(staging_actions, (1, 2, 3)))


def test_the_run_deploys_what_resolve_found_from_the_released_templates(serving):
    project, rendered = serving
    n = names.for_env(project, SERVING)
    stages = {s["Name"]: s["Actions"] for s in _stages(resolve.alone(rendered, project, SERVING, "deployment"))}
    (source,) = stages["Source"]
    assert source["Configuration"]["S3ObjectKey"] == RELEASE_KEY and source["Configuration"]["PollForSourceChanges"] == "false"
    (resolver,) = stages["Resolve"]
    # The registry alone picks the version; a person starting a run by hand may only ask to redeploy.
    assert resolver["Namespace"] == "Resolve"
    assert json.loads(resolver["Configuration"]["UserParameters"]) == {"Redeploy": "#{variables.Redeploy}"}
    (pipeline,) = resolve.alone(rendered, project, SERVING, "deployment").resources("AWS::CodePipeline::Pipeline").values()
    assert pipeline["Properties"]["Variables"] == [{"Name": "Redeploy", "DefaultValue": "false",
                                                    "Description": "true: deploy even if production serves the newest version"}]
    for stage, stack_key in (("Staging", "staging-endpoint"), ("Production", "production-endpoint")):
        (action,) = [a for a in stages[stage] if a["ActionTypeId"]["Provider"] == "CloudFormation"
                     and a["Configuration"]["ActionMode"] == "CREATE_UPDATE"]
        conf = action["Configuration"]
        assert conf["StackName"] == n.stack(stack_key)
        assert conf["TemplatePath"] == f"Release::templates/{SERVING}/{stack_key}.yaml"
        assert conf["TemplateConfiguration"] == f"Release::templates/{SERVING}/{stack_key}.json"
        assert json.loads(conf["ParameterOverrides"]) == {"ModelPackageArn": "#{Resolve.ModelPackageArn}",
                                                          "ModelPackageVersion": "#{Resolve.ModelPackageVersion}"}
        assert len(conf["ParameterOverrides"]) < 1024  # CloudFormation action limit
    (smoke,) = [a for a in stages["Staging"] if a["Name"] == "SmokeTest"]
    assert json.loads(smoke["Configuration"]["UserParameters"]) == {"EndpointName": n.staging_endpoint,
                                                                    "ModelPackageArn": "#{Resolve.ModelPackageArn}"}
    (approve,) = stages["ApproveProduction"]
    assert "#{Resolve.ModelPackageVersion}" in approve["Configuration"]["CustomData"]
    assert len(approve["Configuration"]["CustomData"]) <= 500  # CodePipeline's limit for CustomData
    # Before production changes: still approved; then the stack (no endpoint in it); then the rollout, by the
    # pipeline's own function, of that stack's config for this run's version, with bake traffic beside it.
    still, deploy, roll_out, bake = stages["Production"]
    assert [a["RunOrder"] for a in (still, deploy, roll_out, bake)] == [1, 2, 3, 3]
    assert json.loads(bake["Configuration"]["UserParameters"]) == {
        "EndpointName": n.production_endpoint, "ModelPackageArn": "#{Resolve.ModelPackageArn}",
        "RolloutSeconds": serving_rules.rollout_timeout_seconds(project.env(SERVING).deployment)}
    assert json.loads(still["Configuration"]["UserParameters"]) == {
        "EndpointName": n.production_endpoint, "ModelPackageArn": "#{Resolve.ModelPackageArn}", "StillApprovedOnly": True}
    assert roll_out["Configuration"]["FunctionName"] == n.resolve_function
    assert json.loads(roll_out["Configuration"]["UserParameters"]) == {
        "RollOut": n.stack("production-endpoint"), "ModelPackageArn": "#{Resolve.ModelPackageArn}"}


def test_an_approval_or_a_rejection_in_this_group_starts_a_run_and_nothing_else_does(serving):
    project, rendered = serving
    n = names.for_env(project, SERVING)
    stack = resolve.alone(rendered, project, SERVING, "deployment")
    (rule,) = [r["Properties"] for r in stack.resources("AWS::Events::Rule").values()
               if r["Properties"]["Name"] == n.deployment_rule]
    assert [t["Arn"] for t in rule["Targets"]] == [f"arn:aws:codepipeline:{n.env.region}:{stack.pseudo['AWS::AccountId']}:{n.deployment_pipeline}"]

    def change(group: str, status: str, package_status: str = "Completed") -> dict:
        return {"source": "aws.sagemaker", "detail-type": "SageMaker Model Package State Change",
                "detail": {"ModelPackageGroupName": group, "ModelApprovalStatus": status, "ModelPackageStatus": package_status}}

    sent = [change(n.model_package_group, "Approved"), change(n.model_package_group, "Rejected"),
            change(n.model_package_group, "PendingManualApproval"), change(n.model_package_group, "Approved", "InProgress"),
            change("someone-elses-models", "Approved")]
    delivered = deliver(rule["EventPattern"], n.env.region, sent)
    assert sorted(d["ModelApprovalStatus"] for d in delivered) == ["Approved", "Rejected"]
    assert {d["ModelPackageGroupName"] for d in delivered} == {n.model_package_group}


def test_every_outcome_of_a_run_reaches_the_operations_topic_as_a_sentence(serving):
    project, rendered = serving
    n = names.for_env(project, SERVING)
    stack = resolve.alone(rendered, project, SERVING, "deployment")
    rules = {r["Properties"]["Name"]: r["Properties"] for r in stack.resources("AWS::Events::Rule").values()
             if r["Properties"]["EventPattern"]["source"] == ["aws.codepipeline"]}
    assert set(rules) == {f"{n.prefix}-deployment-staged", f"{n.prefix}-deployment-promoted", f"{n.prefix}-deployment-failed"}
    topic = f"<import {n.stack('pipeline')}-OperationsTopicArn>"
    for rule in rules.values():
        (target,) = rule["Targets"]
        assert target["Arn"] == topic
        assert target["InputTransformer"]["InputTemplate"].startswith('"Model deployment <pipeline>')
    stages = [s["Name"] for s in _stages(stack)]
    failed = rules[f"{n.prefix}-deployment-failed"]["EventPattern"]["detail"]["stage"]
    assert set(stages) - {"Source"} <= set(failed), "a stage whose failure nobody hears about"


# -- the dashboard -----------------------------------------------------------------------------------
def test_the_dashboard_graphs_the_endpoints_and_the_deployed_version_only_where_models_are_served(serving):
    project, rendered = serving
    for env, wanted in ((SERVING, True), (PLAIN, False)):
        stack = resolve.alone(rendered, project, env, "kpi")
        body = json.loads(stack.value(stack.template["Resources"]["KpiDashboard"]["Properties"]["DashboardBody"]))
        graphed = {m[3] for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]
                   if m[0] == "AWS/SageMaker" or m[1] == "DeployedModelVersion"}
        n = names.for_env(project, env)
        assert graphed == ({n.production_endpoint, n.staging_endpoint} if wanted else set()), env


def test_the_deployment_stack_is_linted_clean(serving):
    from tests.support.lint import lint_template

    project, rendered = serving
    template = load(rendered[f"{SERVING}/deployment.yaml"])
    assert template["Resources"] and "Parameters" not in template
    assert not lint_template(rendered[f"{SERVING}/deployment.yaml"], [project.env(SERVING).region])


def test_a_registered_version_lists_the_instance_types_the_envs_endpoints_use(tmp_path):
    """SageMaker may refuse an endpoint on a type the version does not list: the env's types are listed."""
    from pipeline_def.pipeline import DEFAULT_INFERENCE_INSTANCES, inference_instance_types

    project = config.load(_config(tmp_path, {"instance_type": "ml.c5.xlarge", "staging_instance_type": "ml.c5.large"}))
    assert set(inference_instance_types(names.for_env(project, SERVING))) == {*DEFAULT_INFERENCE_INSTANCES, "ml.c5.xlarge", "ml.c5.large"}
    assert set(inference_instance_types(names.for_env(project, PLAIN))) == set(DEFAULT_INFERENCE_INSTANCES)


def test_a_source_envs_versions_list_the_instance_types_of_the_env_serving_them(project):
    """A version built in one account and served from another must name the serving env's types (docs/promotion.md)."""
    from pipeline_def.pipeline import inference_instance_types
    from tests.support.concrete_envs import with_promotion

    import dataclasses

    promoted = with_promotion(project)
    name, env = next((k, e) for k, e in promoted.environments.items() if e.deployment and e.deployment.models_from)
    deployment = dataclasses.replace(env.deployment, instance_type="ml.c5.xlarge", staging_instance_type="ml.c5.large")
    promoted = dataclasses.replace(promoted, environments={**promoted.environments,
                                                           name: dataclasses.replace(env, deployment=deployment)})
    source = names.for_env(promoted, env.deployment.models_from)
    assert {"ml.c5.xlarge", "ml.c5.large"} <= set(inference_instance_types(source))
