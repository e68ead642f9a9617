"""The account's endpoint-instance quotas are checked before anything is deployed, and named when short.

A blue/green rollout runs both production fleets at once, so a quota that holds production alone fails the
rollout only once SageMaker provisions the new fleet, after staging, the smoke test and a person's approval. The
Resolve action refuses such a run first, from the live production fleet and config (staging + production now + the
new fleet), in one line naming the quota ("<type> for endpoint usage", found by name in Service Quotas) and the
number needed beside the account's other endpoints; `make status` and `make deploy` say
the same (infra/ops/quotas.py). Against moto (endpoints) with Service Quotas answered by FakeServiceQuotas, which
moto does not implement for SageMaker.
"""
from __future__ import annotations

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


# -- what a rollout needs: the live production fleet and config, at the rollout's peak ---------------------------
def sagemaker_peak(settings, production: tuple[str, int] | None) -> dict[str, int]:
    """SageMaker's side of this run: the staging endpoint runs its config's instances (a later run may be in Staging
    while this one rolls out); CreateEndpoint starts at the config's count, min_instances; a blue/green update keeps
    the old fleet (`production`: its type and count now) and starts the new one with the old count when the variant
    autoscales on the same type (RetainAllVariantProperties), else with the config's count."""
    running = {settings.staging_instance_type: serving.STAGING_INSTANCES}
    autoscaled = settings.min_instances != settings.max_instances
    new_count = settings.min_instances
    if production is not None:
        running[production[0]] = running.get(production[0], 0) + production[1]
        if autoscaled and production[0] == settings.instance_type:
            new_count = production[1]
    running[settings.instance_type] = running.get(settings.instance_type, 0) + new_count
    return running


MOMENTS = {  # (deployment block, production's fleet now: None on a first deployment)
    "first deployment": ({"min_instances": 2, "max_instances": 4}, None),
    "autoscaled to max, staging beside (overlapping runs)": ({"min_instances": 2, "max_instances": 4}, ("ml.m5.large", 4)),
    "autoscaled, staging of another type": ({"min_instances": 2, "max_instances": 6, "staging_instance_type": "ml.t2.medium"},
                                            ("ml.m5.large", 3)),
    "fixed size": ({"min_instances": 3, "max_instances": 3}, ("ml.m5.large", 3)),
    "new instance type": ({"min_instances": 2, "max_instances": 4}, ("ml.c5.xlarge", 3)),
}


@pytest.mark.parametrize("moment", sorted(MOMENTS))
def test_resolve_lets_a_run_go_exactly_when_the_quota_holds_its_rollouts_peak(world, monkeypatch, moment):  # noqa: F811
    """B: a quota that holds the real peak lets the run go (not 2 x max_instances before anything serves); 4: one
    instance short of it, of any type, stops it (staging beside both production fleets)."""
    block, production = MOMENTS[moment]
    settings = deployment_settings("dev.yaml", block)
    monkeypatch.setenv("INSTANCES_NEEDED", json.dumps(serving.instances_needed(settings)))
    if production is not None:
        _serve(boto3.client("sagemaker"), "acme-production", production[1], production[0])
    peak = sagemaker_peak(settings, production)
    world.quotas.applied = dict(peak)
    assert _resolve(world, monkeypatch)["decision"] == "resolved", peak
    for instance_type in sorted(peak):
        world.quotas.applied = {**peak, instance_type: peak[instance_type] - 1}
        result = handler.lambda_handler(job_event(), None)
        assert result["decision"] == "quota" and f"'{instance_type} for endpoint usage'" in result["message"], peak


@pytest.mark.parametrize("moment", sorted(MOMENTS))
def test_the_documented_worst_case_covers_every_moment(moment):
    """2 x max_instances + staging (docs/deployment.md): production autoscaled to max when the rollout starts."""
    block, production = MOMENTS[moment]
    settings = deployment_settings("dev.yaml", block)
    if production is not None and production[0] != settings.instance_type:
        pytest.skip("the old instance type's fleet counts against its own quota")
    peak = sagemaker_peak(settings, production and (production[0], settings.max_instances))
    assert all(serving.worst_case(settings).get(t, 0) >= n for t, n in peak.items()), peak


def test_the_resolve_function_checks_what_the_config_says(project, rendered):
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
    world.quotas.applied = {"ml.m5.large": 2}
    result = _resolve(world, monkeypatch)
    assert result["decision"] == "quota"
    assert result["message"] == ("quota 'ml.m5.large for endpoint usage' is 2 in eu-west-1; a rollout now needs 3 at its "
                                 "peak (staging, production's fleet and the new one): request 3 in Service Quotas; "
                                 "nothing was deployed")
    assert world.pipeline.only_result()[0] == "PutJobFailureResult"
    tagged = [world.s3.get_object_tagging(Bucket=BUCKET, Key=o["Key"])["TagSet"]
              for o in world.s3.list_objects_v2(Bucket=BUCKET)["Contents"] if o["Key"].endswith("model.tar.gz")]
    assert tagged == [[]], "no archive was tagged: nothing changed"


def test_other_endpoints_count_beside_this_envs_own_fleets(world, monkeypatch):  # noqa: F811
    sm = boto3.client("sagemaker")
    _serve(sm, "someone-elses-endpoint", 3)
    _serve(sm, "acme-production", 4)  # this env's own, autoscaled: 4 now, 4 more in the new fleet, 1 staging
    _serve(sm, "gpu-endpoint", 2, "ml.g4dn.xlarge")  # another type, another quota
    world.quotas.defaults = {"ml.m5.large": 10}
    result = _resolve(world, monkeypatch)
    assert result["message"].startswith("quota 'ml.m5.large for endpoint usage' is 10 in eu-west-1; a rollout now needs 9 "
                                        "at its peak (staging, production's fleet and the new one) beside 3 in use by "
                                        "other endpoints: request 12 in Service Quotas")


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
    assert lines == ["quota 'ml.m5.large for endpoint usage' is 9 in us-east-1; a rollout now needs 8 at its peak "
                     "(staging, production's fleet and the new one) beside 2 in use by other endpoints: request 10 in "
                     "Service Quotas",
                     "quota 'ml.t2.medium for endpoint usage' is 0 in us-east-1; a rollout now needs 1 at its peak "
                     "(staging, production's fleet and the new one): request 1 in Service Quotas"]


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
    assert capsys.readouterr().err == (f"warning: quota 'ml.m5.large for endpoint usage' is 2 in {n.env.region}; a rollout "
                                       "now needs 3 at its peak (staging, production's fleet and the new one): request 3 "
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
            "quota 'ml.m5.large for endpoint usage' is 20: holds a rollout's peak of 3 now"]


class _RollingOut:
    """DescribeEndpoint during a rollout (moto returns no PendingDeploymentSummary): 4 instances serve, 4 new ones
    come up; DescribeEndpointConfig names their type."""

    def describe_endpoint(self, EndpointName):  # noqa: N803 - boto3's argument name
        return {"EndpointConfigName": "old", "ProductionVariants": [
            {"VariantName": "AllTraffic", "CurrentInstanceCount": 4, "DesiredInstanceCount": 4}],
            "PendingDeploymentSummary": {"EndpointConfigName": "new", "ProductionVariants": [
                {"VariantName": "AllTraffic", "InstanceType": "ml.m5.large", "CurrentInstanceCount": 4,
                 "DesiredInstanceCount": 4}]}}

    def describe_endpoint_config(self, EndpointConfigName):  # noqa: N803
        return {"ProductionVariants": [{"VariantName": "AllTraffic", "InstanceType": "ml.m5.large"}]}


def test_a_run_resolved_during_a_rollout_counts_the_fleet_that_rollout_leaves_not_both():
    """Re-review: the next rollout starts after this one ends, with one fleet left; counting both asked for 13 where
    the real peak is staging + 4 + 4 = 9, and refused an approval that arrived during a rollout."""
    from shared import capacity

    plan = {"InstanceType": "ml.m5.large", "MinInstances": 2, "MaxInstances": 4, "Staging": {"ml.m5.large": 1}}
    assert capacity.peak(_RollingOut(), plan, "acme-production") == {"ml.m5.large": 9}


def test_staging_that_comes_up_during_a_rollout_counts_both_of_its_fleets():
    """Final review: this run's staging can come up while the rollout under way still runs both fleets; a run moving
    production to another type needs, of the old type, staging + both fleets (9), not staging + one (5)."""
    from shared import capacity

    plan = {"InstanceType": "ml.c5.large", "MinInstances": 2, "MaxInstances": 4, "Staging": {"ml.m5.large": 1}}
    assert capacity.peak(_RollingOut(), plan, "acme-production") == {"ml.c5.large": 2, "ml.m5.large": 9}
