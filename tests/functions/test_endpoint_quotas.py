"""The account's endpoint-instance quotas are checked before anything is deployed, and named when short.

A blue/green rollout runs both production fleets at once, so a quota that holds production alone fails the
rollout only once SageMaker provisions the new fleet, after staging, the smoke test and a person's approval. The
Resolve action refuses such a run first, in one line naming the quota ("<type> for endpoint usage", found by name
in Service Quotas) and the number needed beside the account's other endpoints; `make status` and `make deploy` say
the same (infra/ops/quotas.py). Against moto (endpoints) with Service Quotas answered by FakeServiceQuotas, which
moto does not implement for SageMaker.
"""
from __future__ import annotations

import itertools
import json

import boto3
import pytest

from infra.config import names, serving
from infra.config.loader import deployment_settings
from tests.support import resolve
from tests.support.pipeline_job_support import FakeServiceQuotas, job_event
from tests.support.registry_world import BUCKET, GROUP, world  # noqa: F401 - the Resolve tests' moto account

from deploy_resolve import handler  # lambda_src/ is on sys.path: tests/__init__.py
from shared import capacity

ROLE = "arn:aws:iam::123456789012:role/acme-model"


# -- what an env needs ---------------------------------------------------------------------------------------------
def peak(settings) -> dict[str, int]:
    """Walk a run's stages: Staging (staging beside production at its largest), then Production's rollout (both
    fleets, and staging when kept). The most instances of each type at any moment."""
    most: dict[str, int] = {}
    staging = [(settings.staging_instance_type, serving.STAGING_INSTANCES)]
    phases = [staging + [(settings.instance_type, settings.max_instances)],
              [(settings.instance_type, settings.max_instances)] * 2 + (staging if settings.keep_staging else [])]
    for phase in phases:
        running: dict[str, int] = {}
        for instance_type, count in phase:
            running[instance_type] = running.get(instance_type, 0) + count
        most = {t: max(most.get(t, 0), running.get(t, 0)) for t in set(most) | set(running)}
    return most


@pytest.mark.parametrize("keep_staging, staging_type, max_instances",
                         itertools.product([False, True], [None, "ml.t2.medium"], [2, 4, 20]))
def test_what_an_env_needs_covers_every_moment_of_a_run(keep_staging, staging_type, max_instances):
    block = {"keep_staging": keep_staging, "max_instances": max_instances, "min_instances": 2}
    if staging_type:
        block["staging_instance_type"] = staging_type
    settings = deployment_settings("dev.yaml", block)
    assert serving.instances_needed(settings) == peak(settings)


def test_the_defaults_need_eight_and_nine_with_staging_kept():
    assert serving.instances_needed(deployment_settings("dev.yaml", {})) == {"ml.m5.large": 8}
    assert serving.instances_needed(deployment_settings("dev.yaml", {"keep_staging": True})) == {"ml.m5.large": 9}


def test_the_resolve_function_checks_what_the_config_needs(project, rendered):
    for env, settings in project.environments.items():
        if settings.deployment is None:
            continue
        stack = resolve.alone(rendered, project, env, "deployment")
        variables = stack.resources()["ResolveFunction"]["Properties"]["Environment"]["Variables"]
        n = names.for_env(project, env)
        assert json.loads(variables["INSTANCES_NEEDED"]) == serving.instances_needed(settings.deployment)
        assert {variables["PRODUCTION_ENDPOINT"], variables["STAGING_ENDPOINT"]} == {n.production_endpoint, n.staging_endpoint}


# -- the Resolve action refuses a run the quota cannot hold --------------------------------------------------------
def _serve(sm, name: str, count: int, instance_type: str = "ml.m5.large") -> None:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "image"})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": count, "InstanceType": instance_type}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


def _resolve(world, monkeypatch):  # noqa: F811 - the fixture
    world.register("Approved")
    monkeypatch.setenv("PRODUCTION_ENDPOINT", "acme-production")
    monkeypatch.setenv("STAGING_ENDPOINT", "acme-staging")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    return handler.lambda_handler(job_event(), None)


def test_a_quota_short_of_the_peak_stops_the_run_before_anything_changes(world, monkeypatch):  # noqa: F811
    world.quotas.applied = {"ml.m5.large": 4}
    result = _resolve(world, monkeypatch)
    assert result["decision"] == "quota"
    assert result["message"] == ("quota 'ml.m5.large for endpoint usage' is 4 in eu-west-1; this env's endpoints need 8 at "
                                 "their peak (a rollout runs both production fleets): request 8 in Service Quotas; "
                                 "nothing was deployed")
    assert world.pipeline.only_result()[0] == "PutJobFailureResult"
    tagged = [world.s3.get_object_tagging(Bucket=BUCKET, Key=o["Key"])["TagSet"]
              for o in world.s3.list_objects_v2(Bucket=BUCKET)["Contents"] if o["Key"].endswith("model.tar.gz")]
    assert tagged == [[]], "no archive was tagged: nothing changed"


def test_other_endpoints_count_and_this_envs_own_do_not(world, monkeypatch):  # noqa: F811
    sm = boto3.client("sagemaker")
    _serve(sm, "someone-elses-endpoint", 3)
    _serve(sm, "acme-production", 4)  # this env's own: its need is counted in full already
    _serve(sm, "gpu-endpoint", 2, "ml.g4dn.xlarge")  # another type, another quota
    world.quotas.defaults = {"ml.m5.large": 10}
    result = _resolve(world, monkeypatch)
    assert result["message"].startswith("quota 'ml.m5.large for endpoint usage' is 10 in eu-west-1; this env's endpoints "
                                        "need 8 at their peak (a rollout runs both production fleets) beside 3 in use by "
                                        "other endpoints: request 11 in Service Quotas")


def test_an_applied_quota_wins_over_the_default_and_enough_lets_the_run_go(world, monkeypatch):  # noqa: F811
    world.quotas.defaults, world.quotas.applied = {"ml.m5.large": 2}, {"ml.m5.large": 8}
    assert _resolve(world, monkeypatch)["decision"] == "resolved"
    assert [name for name, _ in world.quotas.calls] == ["ListServiceQuotas"], "the defaults are not read when applied"
    assert {body["ServiceCode"] for _, body in world.quotas.calls} == {"sagemaker"}


def test_an_instance_type_without_an_endpoint_quota_is_named(world, monkeypatch):  # noqa: F811
    world.quotas.defaults = {}
    result = _resolve(world, monkeypatch)
    assert result["message"].startswith("Service Quotas lists no quota 'ml.m5.large for endpoint usage' in eu-west-1")


def test_the_shortfall_is_one_line_per_instance_type():
    lines = capacity.shortfalls({"ml.m5.large": 8, "ml.t2.medium": 1}, {"ml.m5.large": 9, "ml.t2.medium": 0},
                                {"ml.m5.large": 2}, "us-east-1")
    assert lines == ["quota 'ml.m5.large for endpoint usage' is 9 in us-east-1; this env's endpoints need 8 at their peak "
                     "(a rollout runs both production fleets) beside 2 in use by other endpoints: request 10 in Service Quotas",
                     "quota 'ml.t2.medium for endpoint usage' is 0 in us-east-1; this env's endpoints need 1 at their peak "
                     "(a rollout runs both production fleets): request 1 in Service Quotas"]


# -- make status and make deploy say the same ----------------------------------------------------------------------
class _Session:
    def __init__(self, **clients):
        self.clients = clients

    def client(self, service):
        return self.clients[service]


def test_make_deploy_warns_in_one_line_and_goes_on(fixture_project, capsys):
    import dataclasses

    from moto import mock_aws

    from infra.ops import deploy

    base = next(iter(fixture_project.environments.values()))
    n = names.Names(fixture_project, dataclasses.replace(base, deployment=deployment_settings("", {"keep_staging": True})))
    with mock_aws():
        quotas = FakeServiceQuotas(n.env.region, applied={"ml.m5.large": 2})
        deploy._warn_about_quotas(_Session(**{"service-quotas": quotas.client,
                                              "sagemaker": boto3.client("sagemaker", region_name=n.env.region)}), n)
    assert capsys.readouterr().err == (f"warning: quota 'ml.m5.large for endpoint usage' is 2 in {n.env.region}; this env's "
                                       "endpoints need 9 at their peak (a rollout runs both production fleets): request 9 "
                                       "in Service Quotas\n")


def test_make_status_says_when_the_quota_holds_the_peak(fixture_project):
    import dataclasses

    from moto import mock_aws

    from infra.ops import quotas as ops_quotas

    base = next(iter(fixture_project.environments.values()))
    n = names.Names(fixture_project, dataclasses.replace(base, deployment=deployment_settings("", {})))
    with mock_aws():
        quotas = FakeServiceQuotas(n.env.region, defaults={"ml.m5.large": 20})
        assert ops_quotas.lines(quotas.client, boto3.client("sagemaker", region_name=n.env.region), n) == [
            "quota 'ml.m5.large for endpoint usage' is 20: holds this env's peak of 8"]
