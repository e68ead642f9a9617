"""Operator commands against moto (SageMaker) and scripted stand-ins (CloudFormation, CodePipeline):
approve/reject a version as yourself, and one screen of where an environment stands."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.config import names as names_mod
from infra.ops import approve, status
from infra.stacks import BUILDERS
from tests.conftest import ROOT
from tests.support.pipeline_job_support import FakeServiceQuotas

NO_CREDENTIALS_ENV = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent/c",
                      "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/c", "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture
def n(project):
    return names_mod.for_env(project, next(iter(project.environments)))


@pytest.fixture
def sm(n):
    with mock_aws():
        client = boto3.client("sagemaker", region_name=n.env.region)
        client.create_model_package_group(ModelPackageGroupName=n.model_package_group)
        for _ in range(2):
            client.create_model_package(
                ModelPackageGroupName=n.model_package_group, ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={"Containers": [{"Image": "img", "ModelDataUrl": "s3://b/m.tar.gz"}],
                                        "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]})
        yield client


def _status_of(sm, n, version: int) -> str:
    return approve.find_version(sm, n.model_package_group, version)["ModelApprovalStatus"]


def test_approving_a_waiting_version_says_who_decided_what(sm, n):
    line = approve.decide(sm, n.model_package_group, 2, "approve", "", "arn:aws:sts::123456789012:assumed-role/lead/jane")
    assert line == f"{n.model_package_group} v2: PendingManualApproval -> Approved (Approved by arn:aws:sts::123456789012:assumed-role/lead/jane)"
    assert _status_of(sm, n, 2) == "Approved" and _status_of(sm, n, 1) == "PendingManualApproval"
    described = sm.describe_model_package(ModelPackageName=approve.find_version(sm, n.model_package_group, 2)["ModelPackageArn"])
    assert described["ApprovalDescription"].endswith("assumed-role/lead/jane")


def test_rejecting_with_a_reason_records_the_reason(sm, n):
    line = approve.decide(sm, n.model_package_group, 1, "reject", "leaks the churn date", "me")
    assert line.endswith("PendingManualApproval -> Rejected (leaks the churn date)") and _status_of(sm, n, 1) == "Rejected"


def test_deciding_again_changes_nothing(sm, n):
    approve.decide(sm, n.model_package_group, 1, "approve", "", "me")
    assert approve.decide(sm, n.model_package_group, 1, "approve", "", "me").endswith("already Approved; nothing changed")


def test_an_unknown_version_is_named_with_the_versions_there_are(sm, n):
    with pytest.raises(approve.OpsError, match=rf"has no version 9 \(versions: 1, 2\)"):
        approve.decide(sm, n.model_package_group, 9, "approve", "", "me")


@pytest.mark.parametrize("argv,fragment", [
    (["approve", "--version", "three"], "VERSION must be a model package version number"),
    (["approve", "--version", "3", "--env", "no-such-env"], "unknown environment 'no-such-env'"),
])
def test_bad_arguments_are_one_line(argv, fragment, capsys, n):
    if "--env" not in argv:
        argv = [*argv, "--env", n.env_name]
    assert approve.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err


@pytest.mark.parametrize("module,args", [("infra.ops.approve", ["approve", "--version", "1"]), ("infra.ops.status", [])])
def test_without_credentials_each_command_says_so_in_one_line(module, args, n):
    proc = subprocess.run([sys.executable, "-m", module, *args, "--env", n.env_name], cwd=ROOT, env=NO_CREDENTIALS_ENV,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: no AWS credentials found")


class Stacks:
    def __init__(self, deployed: dict[str, str]):
        self.deployed = deployed

    def describe_stacks(self, StackName):
        if StackName not in self.deployed:
            raise ClientError({"Error": {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}}, "DescribeStacks")
        return {"Stacks": [{"StackStatus": self.deployed[StackName], "CreationTime": datetime(2026, 11, 27, tzinfo=timezone.utc)}]}


class Pipeline:
    def get_pipeline_state(self, name):
        return {"stageStates": [{"stageName": "Source", "latestExecution": {"status": "Succeeded"}},
                                {"stageName": "Synth", "latestExecution": {"status": "Failed"}, "actionStates": [
                                    {"actionName": "Synth", "latestExecution": {"status": "Failed", "errorDetails": {
                                        "message": "generate.py --check:\n templates are stale"}}}]}]}

    def list_pipeline_executions(self, pipelineName, maxResults):
        return {"pipelineExecutionSummaries": [{"pipelineExecutionId": "0123456789abcdef", "status": "Failed",
                                                "startTime": datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc),
                                                "sourceRevisions": [{"revisionId": "a1b2c3d4e5f6a7b8"}]}]}


def _quotas(n):
    """Service Quotas answering for whatever the env serves on (it is read only where the env has a deployment block:
    the first env of an adopter's config may have one)."""
    deployment = n.env.deployment
    types = {deployment.instance_type, deployment.staging_instance_type} if deployment else set()
    return FakeServiceQuotas(n.env.region, defaults={t: 1000 for t in types}).client


def _sns_and_alarms(n) -> dict:
    """The clients the "Who hears the topics" section reads (tests/ops/test_who_hears_the_topics.py checks it)."""
    clients = {s: boto3.client(s, region_name=n.env.region) for s in ("sns", "cloudwatch", "sts")}
    for topic in (n.topic, n.operations_topic):
        clients["sns"].create_topic(Name=topic)
    return clients


def test_status_shows_stacks_runs_executions_and_versions(sm, n):
    first, *later = [n.stack(s) for s in BUILDERS]
    r = status.report({"cloudformation": Stacks({first: "CREATE_COMPLETE"}), "codepipeline": Pipeline(), "sagemaker": sm,
                       "service-quotas": _quotas(n), **_sns_and_alarms(n)}, n)
    text = "\n".join(r.lines)
    assert f"{first:<48} CREATE_COMPLETE" in text and all(f"{name:<48} not deployed" in text for name in later)
    assert "Synth                      Failed" in text and "run 01234567  Failed      2026-11-27 09:30  a1b2c3d4e5f6" in text
    assert "v2     PendingManualApproval" in text and "v1     PendingManualApproval" in text
    assert f"{'':<26} Synth failed: generate.py --check: templates are stale" in text  # the last failure's reason
    assert r.unreadable == []


def test_status_says_what_is_not_deployed_and_what_cannot_be_read(n):
    class Denied:
        def __getattr__(self, name):
            def call(**kwargs):
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, name)
            return call

    with mock_aws():
        sm = boto3.client("sagemaker", region_name=n.env.region)  # nothing created: no pipeline, no group
        r = status.report({"cloudformation": Stacks({}), "codepipeline": Denied(), "sagemaker": sm,
                           "service-quotas": _quotas(n), **_sns_and_alarms(n)}, n)
    text = "\n".join(r.lines)
    assert "cannot read: An error occurred (AccessDeniedException)" in text
    denied = [f"Delivery pipeline {n.codepipeline}"]
    if n.env.deployment is not None:  # an env that serves models: its deployment pipeline is read too
        denied.append(f"Model deployment pipeline {n.deployment_pipeline}")
    assert r.unreadable == denied


def test_status_stops_asking_once_aws_does_not_answer():
    """Each further call would wait out the same timeouts (a black-holed endpoint took 12 minutes)."""
    from botocore.exceptions import ReadTimeoutError

    from infra.ops import status

    calls = []

    def silent():
        calls.append(1)
        raise ReadTimeoutError(endpoint_url="https://cloudformation.example")

    r = status.Report()
    for title in ("a", "b", "c"):
        r.section(title, silent)
    assert len(calls) == 1 and r.unreadable == ["a", "b", "c"]
    assert sum("skipped: AWS did not answer" in line for line in r.lines) == 2


def test_every_aws_call_of_the_commands_has_bounded_timeouts(monkeypatch):
    from infra.ops import deploy

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = deploy.session("us-east-1").client("cloudformation")
    assert client.meta.config.connect_timeout <= 10 and client.meta.config.read_timeout <= 30
    assert 3 <= client.meta.config.retries["total_max_attempts"] <= 5  # rides out throttling, still bounded


def test_make_approve_passes_the_description_word_for_word(tmp_path):
    """Quotes and backticks reach the audit text as typed: make's recipe must not re-quote it for the shell."""
    import json
    import subprocess
    import sys

    echo = tmp_path / "echo_args.py"
    echo.write_text("import json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    text = 'AUC "0.86" per `whoami`; checked'  # a $ is make's: write $$
    proc = subprocess.run(["make", "-s", "--no-print-directory", "approve", "DEV_STAMP=", f"PY={sys.executable} {echo}",
                           "ENV=any", "VERSION=3", f"DESCRIPTION={text}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    args = json.loads(proc.stdout)
    assert args[args.index("--description") + 1] == text


def test_status_names_the_version_each_endpoint_serves_where_the_env_serves_models(sm, fixture_project):
    """An env with a deployment: the model-deployment pipeline's runs, and production's version (endpoint -> config ->
    model -> package); staging not deployed says so."""
    import dataclasses

    from infra import config

    base = next(iter(fixture_project.environments.values()))
    env = dataclasses.replace(base, deployment=config.loader.deployment_settings("", {}))
    serving = names_mod.Names(fixture_project, env)
    if not sm.list_model_package_groups(NameContains=serving.model_package_group)["ModelPackageGroupSummaryList"]:
        sm.create_model_package_group(ModelPackageGroupName=serving.model_package_group)
    arn = sm.create_model_package(
        ModelPackageGroupName=serving.model_package_group, ModelApprovalStatus="Approved",
        InferenceSpecification={"Containers": [{"Image": "img", "ModelDataUrl": "s3://b/m.tar.gz"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]})["ModelPackageArn"]
    sm.create_model(ModelName="m1", Containers=[{"ModelPackageName": arn}],
                    ExecutionRoleArn="arn:aws:iam::123456789012:role/x")
    sm.create_endpoint_config(EndpointConfigName="c1", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m1", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=serving.production_endpoint, EndpointConfigName="c1")

    # The peak from the live endpoint: staging 1 + production's 1 now + the new fleet retaining that 1.
    quotas = FakeServiceQuotas(serving.env.region, defaults={"ml.m5.large": 2})
    r = status.report({"cloudformation": Stacks({}), "codepipeline": Pipeline(), "sagemaker": sm,
                       "service-quotas": quotas.client, **_sns_and_alarms(serving)}, serving)
    text = "\n".join(r.lines)
    assert (f"Endpoint quotas\n  quota 'ml.m5.large for endpoint usage' is 2 in {serving.env.region}; a rollout now "
            "needs 3 at its peak (staging, production's fleet and the new one): request 3 in Service Quotas") in text
    assert f"Model deployment pipeline {serving.deployment_pipeline}" in text
    assert f"production  {serving.production_endpoint:<36} InService" in text
    assert f"serves version {arn.rsplit('/', 1)[-1]}" in text
    assert f"staging     {serving.staging_endpoint:<36} not deployed" in text
    plain = status.report({"cloudformation": Stacks({}), "codepipeline": Pipeline(), "sagemaker": sm},
                          names_mod.Names(fixture_project, dataclasses.replace(base, deployment=None)))
    assert "Endpoints" not in "\n".join(plain.lines)


def _promotion(project):
    from tests.support.concrete_envs import with_promotion

    promoted = with_promotion(project)
    taker = next(n for n in (names_mod.for_env(promoted, e) for e in promoted.environments) if n.models_source)
    return promoted, taker


def test_approve_in_an_env_serving_another_envs_models_points_to_that_env_in_one_line(project, monkeypatch, capsys):
    """Its endpoints serve what the source env's approvers decide: a decision in its own group would change nothing."""
    promoted, taker = _promotion(project)
    monkeypatch.setattr(approve, "env_names", lambda name: (promoted.env(name), names_mod.for_env(promoted, name)))
    assert approve.main(["approve", "--env", taker.env_name, "--version", "3"]) == 2
    err = capsys.readouterr().err
    source = taker.models_source
    assert err.count("\n") == 1 and f"make approve ENV={source.env_name} VERSION=3" in err
    assert source.env.account_id in err


def test_status_of_a_version_in_the_source_registry_points_there_without_reading_it(project):
    """Only the deployment's roles may describe the source env's versions: status names where to look instead."""
    _, taker = _promotion(project)
    source = taker.models_source
    arn = f"arn:aws:sagemaker:{source.env.region}:{source.env.account_id}:model-package/{source.model_package_group}/3"

    class NoCalls:
        def __getattr__(self, name):
            raise AssertionError(f"status called sagemaker.{name} on another account's version")

    assert status._approval(NoCalls(), arn, taker) == f"{source.env_name}'s registry: make status ENV={source.env_name}"
