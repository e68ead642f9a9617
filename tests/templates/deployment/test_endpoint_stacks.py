"""The staging and production endpoint stacks, evaluated for an env whose `deployment` block each test writes.

Production rolls out as config says (canary, linear or all at once: the stack's outputs, turned into UpdateEndpoint's
DeploymentConfig by the rollout function), rolls back on alarms of its own stack that watch its own new fleet,
autoscales between the configured bounds and captures the configured share of traffic with the artifact key;
staging is one plain endpoint. Both serve the package version the pipeline passes in.
"""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from infra import config
from infra.config import names, serving
from infra.config.model import ConfigError
from infra.cfn import parameters
from infra.output import concrete, lambda_package, render
from infra.stacks import BUILDERS
from tests.conftest import FIXTURE_CONFIG
from tests.support import api_shapes, cfn, resolve
from tests.support.serving_config import serve

from deploy_resolve import rollout  # lambda_src/ is on sys.path: tests/__init__.py

ENV = "dev"
PRODUCTION, STAGING = "production-endpoint", "staging-endpoint"


def project_with(tmp_path, deployment: dict):
    """The fixture config, its dev env given this `deployment` block."""
    shutil.copytree(FIXTURE_CONFIG, tmp_path / "config")
    dev_file = tmp_path / "config" / f"{ENV}.yaml"
    data = yaml.safe_load(dev_file.read_text())
    serve(data, deployment)  # an env that serves models approves its releases and names its approvers
    dev_file.write_text(yaml.safe_dump(data))
    return config.load(tmp_path / "config")


def evaluated(project, key: str) -> resolve.Stack:
    """One endpoint stack rendered for dev as render writes it (concrete template and TemplateConfiguration), evaluated."""
    n = names.Names(project, project.env(ENV))
    values = {**parameters.config_values(n), **lambda_package.parameters(render.LAMBDA_SRC)}
    template = concrete.write_in(BUILDERS[key](n).to_dict(), values)
    files = {f"{ENV}/{key}.yaml": render.template_text(template),
             f"{ENV}/{key}.json": render.template_configuration(template, n)}
    return resolve.alone(files, project, ENV, key)


def props(stack: resolve.Stack, logical_id: str) -> dict:
    return stack.resources()[logical_id]["Properties"]


def outputs(stack: resolve.Stack) -> dict[str, str]:
    return {key: str(stack.value(output["Value"])) for key, output in stack.template["Outputs"].items()}


def deployment_config(stack: resolve.Stack) -> dict:
    """The DeploymentConfig the rollout sends for this stack (it fits UpdateEndpoint's shape)."""
    config = rollout.deployment_config(outputs(stack))
    api_shapes.request("sagemaker", "UpdateEndpoint", {"EndpointName": "e", "EndpointConfigName": "c", "DeploymentConfig": config})
    return config


def routing(stack: resolve.Stack) -> dict:
    return deployment_config(stack)["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]


# -- rollout ------------------------------------------------------------------------------------------
def test_a_canary_rollout_sends_the_configured_share_first_and_waits_the_configured_time(tmp_path):
    project = project_with(tmp_path, {"min_instances": 5, "max_instances": 6,
                                      "rollout": {"type": "canary", "traffic_percent": 20, "wait_seconds": 420}})
    assert routing(evaluated(project, PRODUCTION)) == {
        "Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 20}, "WaitIntervalInSeconds": 420}


def test_a_linear_rollout_moves_traffic_in_the_configured_steps(tmp_path):
    project = project_with(tmp_path, {"min_instances": 4, "rollout": {"type": "linear", "traffic_percent": 25, "wait_seconds": 120}})
    assert routing(evaluated(project, PRODUCTION)) == {
        "Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25}, "WaitIntervalInSeconds": 120}


def test_an_all_at_once_rollout_has_no_step_size(tmp_path):
    project = project_with(tmp_path, {"min_instances": 1, "max_instances": 1, "rollout": {"type": "all_at_once"}})
    assert routing(evaluated(project, PRODUCTION)) == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}


@pytest.mark.parametrize("rollout", [{"type": "canary", "wait_seconds": 900}, {"type": "linear", "traffic_percent": 10,
                                                                                "wait_seconds": 1200}])
def test_the_rollout_may_run_longer_than_all_its_waits(tmp_path, rollout):
    project = project_with(tmp_path, {"min_instances": 10, "max_instances": 10, "rollout": rollout})
    policy = deployment_config(evaluated(project, PRODUCTION))["BlueGreenUpdatePolicy"]
    deployment = project.env(ENV).deployment
    waits = serving.rollout_steps(deployment) * deployment.wait_seconds + int(policy["TerminationWaitInSeconds"])
    assert int(policy["MaximumExecutionTimeoutInSeconds"]) > waits
    assert 600 <= int(policy["MaximumExecutionTimeoutInSeconds"]) <= serving.MAX_ROLLOUT_TIMEOUT_SECONDS


def test_the_rollback_alarms_are_this_stacks_and_watch_this_endpoints_new_fleet(tmp_path):
    project = project_with(tmp_path, {"latency_threshold_ms": 250})
    stack = evaluated(project, PRODUCTION)
    n = names.Names(project, project.env(ENV))
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in stack.resources("AWS::CloudWatch::Alarm").values()}
    rollback = [a["AlarmName"] for a in deployment_config(stack)["AutoRollbackConfiguration"]["Alarms"]]
    assert rollback == [f"{n.prefix}-production-5xx", f"{n.prefix}-production-latency", f"{n.prefix}-production-rejected"]
    assert outputs(stack)["RejectedAlarm"] == rollback[-1]
    by_metric = {alarms[name]["MetricName"]: alarms[name] for name in rollback}
    for alarm in by_metric.values():
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} | {"VariantName": "AllTraffic"} == {
            "EndpointName": n.production_endpoint, "VariantName": "AllTraffic",
            "EndpointConfigName": "<GetAtt EndpointConfig.EndpointConfigName>"}  # the config the endpoint moves to
        assert alarm["Period"] == 60
        assert alarm["AlarmActions"] == [f"<import {n.stack('pipeline')}-OperationsTopicArn>"]
    assert (by_metric["Invocation5XXErrors"]["Statistic"], by_metric["Invocation5XXErrors"]["Threshold"]) == ("Sum", 0)
    assert (by_metric["ModelLatency"]["Statistic"], by_metric["ModelLatency"]["Threshold"]) == ("Average", 250000)
    # The rejected alarm keeps its state without data: it never clears by itself in the middle of a rollout.
    assert by_metric[rollout.contract.REJECTED_METRIC]["TreatMissingData"] == "ignore"
    assert by_metric[rollout.contract.REJECTED_METRIC]["Namespace"] == n.metrics_namespace


def test_on_call_alarms_watch_whatever_fleet_serves_production_not_a_config(tmp_path):
    """After a rollback the rollback alarms watch a config that serves nothing; these watch the endpoint."""
    project = project_with(tmp_path, {})
    stack = evaluated(project, PRODUCTION)
    n = names.Names(project, project.env(ENV))
    rollback = {a["AlarmName"] for a in deployment_config(stack)["AutoRollbackConfiguration"]["Alarms"]}
    on_call = [a["Properties"] for a in stack.resources("AWS::CloudWatch::Alarm").values()
               if a["Properties"]["AlarmName"] not in rollback and a["Properties"]["Namespace"] == "AWS/SageMaker"]
    assert sorted(a["MetricName"] for a in on_call) == ["Invocation5XXErrors", "ModelLatency"]
    for alarm in on_call:
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"EndpointName": n.production_endpoint,
                                                                       "VariantName": "AllTraffic"}


def test_cloudformation_never_owns_the_production_endpoint_or_its_autoscaling(tmp_path):
    """It would issue the UpdateEndpoint SageMaker may roll back (docs/endpoints.md): the rollout function does."""
    stack = evaluated(project_with(tmp_path, {"min_instances": 2, "max_instances": 5}), PRODUCTION)
    assert {r["Type"] for r in stack.resources().values()} == {
        "AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::CloudWatch::Alarm"}
    # A new version replaces model and config; the replaced ones stay (a rolled-back endpoint serves on them).
    for logical_id in ("Model", "EndpointConfig"):
        assert stack.template["Resources"][logical_id]["UpdateReplacePolicy"] == "Retain"


def test_staging_has_no_rollout_alarms_autoscaling_or_data_capture(tmp_path):
    project = project_with(tmp_path, {"instance_type": "ml.m5.xlarge", "staging_instance_type": "ml.c5.large"})
    stack = evaluated(project, STAGING)
    assert {r["Type"] for r in stack.resources().values()} == {
        "AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint"}
    assert "DeploymentConfig" not in props(stack, "Endpoint")
    assert props(stack, "Endpoint")["EndpointName"] == names.Names(project, project.env(ENV)).staging_endpoint
    config_props = props(stack, "EndpointConfig")
    assert "DataCaptureConfig" not in config_props
    assert config_props["ProductionVariants"] == [{"VariantName": "AllTraffic", "ModelName": "<GetAtt Model.ModelName>",
                                                   "InstanceType": "ml.c5.large", "InitialInstanceCount": 1,
                                                   "InitialVariantWeight": 1.0}]


# -- autoscaling ---------------------------------------------------------------------------------------
def test_autoscaling_bounds_and_target_are_the_configured_ones(tmp_path):
    project = project_with(tmp_path, {"min_instances": 3, "max_instances": 7, "invocations_per_instance": 450})
    stack = evaluated(project, PRODUCTION)
    out = outputs(stack)
    assert (out["MinInstances"], out["MaxInstances"], out["InvocationsPerInstance"]) == ("3", "7", "450")
    variant, = props(stack, "EndpointConfig")["ProductionVariants"]
    assert variant["InitialInstanceCount"] == 3


# -- data capture and keys -------------------------------------------------------------------------------
def test_data_capture_saves_the_configured_share_under_the_capture_prefix_with_the_artifact_key(tmp_path):
    project = project_with(tmp_path, {"data_capture_percent": 35})
    stack = evaluated(project, PRODUCTION)
    n = names.Names(project, project.env(ENV))
    capture = props(stack, "EndpointConfig")["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 35
    assert capture["KmsKeyId"] == f"<import {n.stack('pipeline')}-ArtifactKeyArn>"
    assert capture["DestinationS3Uri"] == f"s3://<import {n.stack('pipeline')}-ArtifactBucketName>/{names.DATA_CAPTURE_PREFIX}{n.production_endpoint}/"
    assert sorted(o["CaptureMode"] for o in capture["CaptureOptions"]) == ["Input", "Output"]


def test_no_data_capture_config_at_zero_percent(tmp_path):
    project = project_with(tmp_path, {"data_capture_percent": 0})
    assert "DataCaptureConfig" not in props(evaluated(project, PRODUCTION), "EndpointConfig")


@pytest.mark.parametrize("instance_type,keyed", [("ml.m5.large", True), ("ml.g5.xlarge", False), ("ml.c6id.large", False)])
def test_volumes_get_the_artifact_key_unless_the_instance_has_local_storage(tmp_path, instance_type, keyed):
    project = project_with(tmp_path, {"instance_type": instance_type})
    for key in (PRODUCTION, STAGING):  # staging defaults to production's instance type
        assert ("KmsKeyId" in props(evaluated(project, key), "EndpointConfig")) is keyed, key


# -- the model -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [STAGING, PRODUCTION])
def test_the_model_is_the_package_version_the_pipeline_passes_in(tmp_path, key):
    project = project_with(tmp_path, {})
    stack = evaluated(project, key)
    model = stack.template["Resources"]["Model"]["Properties"]
    assert model["Containers"] == [{"ModelPackageName": {"Ref": "ModelPackageArn"}}]
    assert model["EnableNetworkIsolation"] is True
    assert "ModelName" not in model  # a new version replaces it under a new generated name
    n = names.Names(project, project.env(ENV))
    assert props(stack, "Model")["ExecutionRoleArn"] == f"<import {n.stack('serving-iam')}-ModelRoleArn>"
    # The pipeline's overrides are the only parameters left: every config value is written in.
    assert set(stack.template["Parameters"]) == {"ModelPackageArn", "ModelPackageVersion"}
    assert "Conditions" not in stack.template and "Fn::If" not in json.dumps(stack.template)


# -- config refuses what SageMaker would refuse at deploy time ----------------------------------------------
@pytest.mark.parametrize("deployment,key", [
    ({"min_instances": 1, "max_instances": 3}, "deployment.min_instances"),
    ({"min_instances": 1, "max_instances": 1, "rollout": {"type": "linear", "traffic_percent": 50}}, "deployment.min_instances"),
    ({"rollout": {"type": "linear", "traffic_percent": 5}}, "deployment.rollout.traffic_percent"),
    ({"min_instances": 10, "max_instances": 10, "rollout": {"type": "linear", "traffic_percent": 10, "wait_seconds": 3600}},
     "deployment.rollout.wait_seconds"),
    ({"rollout": {"type": "canary", "traffic_percent": 10}}, "deployment.rollout.traffic_percent"),
], ids=["canary-on-one-instance", "linear-on-one-instance", "linear-step-under-10", "rollout-over-8-hours",
        "canary-under-one-instance"])
def test_config_refuses_rollouts_sagemaker_refuses(tmp_path, deployment, key):
    with pytest.raises(ConfigError) as error:
        project_with(tmp_path, deployment)
    assert error.value.key == key and "\n" not in str(error.value)
    assert f"dev.yaml: {key}: " in str(error.value)


def test_one_instance_may_roll_out_all_at_once(tmp_path):
    project = project_with(tmp_path, {"min_instances": 1, "max_instances": 1, "rollout": {"type": "all_at_once"}})
    assert project.env(ENV).deployment.min_instances == 1


# Resource properties under which a service may undo a CloudFormation update by itself and still report success, so
# the stack would name what no longer serves (and a redeploy would find nothing to change). One row per AWS quirk.
SELF_REVERTING = {
    ("AWS::SageMaker::Endpoint", "DeploymentConfig"):
        "SageMaker rolls a blue/green update back on its alarms and reports InService on the old config "
        "(terraform-provider-aws #39099, #48997); what CloudFormation then reports is undocumented",
}


def test_no_template_has_cloudformation_update_what_a_service_may_roll_back_by_itself(rendered):
    found = []
    for path, text in sorted(rendered.items()):
        if not path.endswith(".yaml"):
            continue
        for logical_id, resource in (cfn.load(text).get("Resources") or {}).items():
            for (rtype, prop), why in SELF_REVERTING.items():
                if resource.get("Type") == rtype and prop in (resource.get("Properties") or {}):
                    found.append(f"{path} {logical_id}: {rtype} with {prop}: {why}")
    assert not found, "\n".join(found)
