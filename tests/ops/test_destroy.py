"""make destroy: says what goes and what stays, needs a confirmation, deletes in reverse deployment order,
and deletes the retained data only when asked separately (moto for the data, a stand-in for CloudFormation)."""
from __future__ import annotations

import contextlib
import dataclasses
import shutil
from pathlib import Path

import boto3
import yaml
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.output import render
from infra import config
from infra.config import names as names_mod
from infra.ops import destroy
from infra.stacks import BUILDERS
from tests.conftest import ABSENT_ENV
from tests.support.s3 import create_bucket


class Stacks:
    """CloudFormation as destroy sees it: which stacks exist, their resources; deleting one removes it."""

    def __init__(self, resources_by_stack: dict[str, list[dict]], roles: dict[str, str] | None = None,
                 templates: dict[str, str] | None = None):
        self.resources, self.calls, self.roles = dict(resources_by_stack), [], dict(roles or {})
        self.templates = dict(templates or {})  # stack name -> the deployed template's body

    def get_template(self, StackName, TemplateStage):
        assert TemplateStage == "Original"
        return {"TemplateBody": self.templates.get(StackName, "Resources: {}\n")}

    def describe_stacks(self, StackName):
        if StackName not in self.resources:
            raise ClientError({"Error": {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}}, "DescribeStacks")
        return {"Stacks": [{"StackStatus": "UPDATE_COMPLETE", **({"RoleARN": self.roles[StackName]} if StackName in self.roles else {})}]}

    def get_paginator(self, operation):
        outer = self

        class Pages:
            def paginate(self, StackName):
                if operation == "list_stack_resources":
                    return [{"StackResourceSummaries": outer.resources[StackName]}]
                return [{"StackEvents": []}]

        return Pages()

    def update_termination_protection(self, StackName, EnableTerminationProtection):
        self.calls.append(("unprotect", StackName))

    def delete_stack(self, StackName, **kwargs):
        self.calls.append(("delete", StackName, kwargs.get("RoleARN")) if kwargs else ("delete", StackName))
        self.resources.pop(StackName)


@pytest.fixture
def n(project):
    return names_mod.for_env(project, next(iter(project.environments)))


@pytest.fixture
def world(n):
    with deployed(n) as found:
        yield found


@contextlib.contextmanager
def deployed(n):
    """A deployed env on moto: a versioned bucket with data, the keys, the group with a version, queues, logs."""
    with mock_aws():
        region = n.env.region
        s3, kms, sm, sqs, logs = (boto3.client(s, region_name=region) for s in ("s3", "kms", "sagemaker", "sqs", "logs"))
        bucket = "artifacts-bucket"
        create_bucket(s3, bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for body in (b"one", b"two"):
            s3.put_object(Bucket=bucket, Key="sagemaker/input/churn.csv", Body=body)
        s3.delete_object(Bucket=bucket, Key="sagemaker/input/churn.csv")  # a delete marker too
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        sm.create_model_package_group(ModelPackageGroupName=n.model_package_group)
        sm.create_model_package(ModelPackageGroupName=n.model_package_group, ModelApprovalStatus="PendingManualApproval",
                                InferenceSpecification={"Containers": [{"Image": "i", "ModelDataUrl": "s3://b/m"}],
                                                        "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]})
        queue = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        logs.create_log_group(logGroupName="/aws/lambda/notifier")
        resources = {stack: [] for stack in BUILDERS}
        resources["pipeline"] = [
            {"LogicalResourceId": "ArtifactBucket", "ResourceType": "AWS::S3::Bucket", "PhysicalResourceId": bucket},
            {"LogicalResourceId": "ArtifactKey", "ResourceType": "AWS::KMS::Key", "PhysicalResourceId": key},
            {"LogicalResourceId": "ModelPackageGroup", "ResourceType": "AWS::SageMaker::ModelPackageGroup",
             "PhysicalResourceId": n.model_package_group},
            {"LogicalResourceId": "SynthProject", "ResourceType": "AWS::CodeBuild::Project", "PhysicalResourceId": "synth"},
        ]
        resources["messaging"] = [
            {"LogicalResourceId": "NotifierDeadLetterQueue", "ResourceType": "AWS::SQS::Queue", "PhysicalResourceId": queue},
        ]
        resources["notifications"] = [
            {"LogicalResourceId": "NotifierLogGroup", "ResourceType": "AWS::Logs::LogGroup", "PhysicalResourceId": "/aws/lambda/notifier"},
        ]
        # What was deployed: the env's templates (for an env gone from config, which has no source, a listed one's).
        shown = n.env if n.env.source.type else next(iter(n.project.environments.values()))
        committed = render.render(dataclasses.replace(n.project, environments={shown.name: shown}))
        templates = {n.stack(stack): committed[f"{shown.name}/{stack}.yaml"] for stack in resources
                     if f"{shown.name}/{stack}.yaml" in committed}
        cfn = Stacks({n.stack(stack): rs for stack, rs in resources.items()}, templates=templates)
        scaling = boto3.client("application-autoscaling", region_name=region)
        yield ({"cloudformation": cfn, "s3": s3, "kms": kms, "sagemaker": sm, "sqs": sqs, "logs": logs,
                "application-autoscaling": scaling}, bucket, key)


def test_the_plan_deletes_in_reverse_order_and_lists_what_is_retained(world, n):
    clients, bucket, _key = world
    the_plan = destroy.plan(clients["cloudformation"], clients["sagemaker"], n)
    assert the_plan.stacks == [n.stack(s) for s in reversed(list(BUILDERS))]
    kept = {(r.logical_id, r.physical_id) for r in the_plan.retained}
    assert ("ArtifactBucket", bucket) in kept and ("NotifierLogGroup", "/aws/lambda/notifier") in kept
    assert not [r for r in the_plan.retained if r.logical_id == "SynthProject"]  # not retained: goes with its stack
    assert the_plan.sagemaker_pipeline is None  # the upsert never ran here


def test_the_plan_lists_what_the_deployed_template_retains_whatever_the_committed_ones_say(world, n):
    """A stack deployed from an older template (or of an env that stopped serving models) keeps what that template
    retains: destroy reads the deployed template, not templates/."""
    clients, _bucket, _key = world
    cfn = clients["cloudformation"]
    stack = n.stack("kpi")
    cfn.templates[stack] = "Resources:\n  RetiredLogGroup:\n    Type: AWS::Logs::LogGroup\n    DeletionPolicy: Retain\n"
    cfn.resources[stack] = [{"LogicalResourceId": "RetiredLogGroup", "ResourceType": "AWS::Logs::LogGroup",
                             "PhysicalResourceId": "/aws/lambda/retired"}]
    kept = {(r.stack, r.logical_id) for r in destroy.plan(cfn, clients["sagemaker"], n).retained}
    assert ("kpi", "RetiredLogGroup") in kept


def test_without_purge_stacks_go_and_data_stays(world, n):
    clients, bucket, _key = world
    the_plan = destroy.plan(clients["cloudformation"], clients["sagemaker"], n)
    destroy.delete_stacks(clients["cloudformation"], the_plan.stacks)
    assert [c for c in clients["cloudformation"].calls if c[0] == "delete"] == [("delete", s) for s in the_plan.stacks]
    assert clients["s3"].head_bucket(Bucket=bucket)


class VersionsDeleted:
    """moto's SageMaker lacks DeleteModelPackage and DeleteModelPackageGroup: record those, let moto list."""

    def __init__(self, real):
        self.real, self.deleted = real, []

    def delete_model_package(self, ModelPackageName):
        self.deleted.append(ModelPackageName)

    def delete_model_package_group(self, ModelPackageGroupName):
        self.deleted.append(f"group {ModelPackageGroupName}")

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_purge_empties_the_versioned_bucket_and_deletes_every_retained_resource(world, n):
    clients, bucket, key = world
    clients = {**clients, "sagemaker": VersionsDeleted(clients["sagemaker"])}
    the_plan = destroy.plan(clients["cloudformation"], clients["sagemaker"], n)
    destroy.delete_stacks(clients["cloudformation"], the_plan.stacks)
    destroy.purge(clients, the_plan.retained)
    assert bucket not in [b["Name"] for b in clients["s3"].list_buckets()["Buckets"]]
    assert clients["kms"].describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    versions, group = clients["sagemaker"].deleted
    assert versions.rsplit("/", 1)[-1] == "1" and group == f"group {n.model_package_group}"  # each version, then the group
    assert clients["sqs"].list_queues().get("QueueUrls", []) == []
    assert clients["logs"].describe_log_groups()["logGroups"] == []


def test_nothing_happens_without_confirmation(monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert destroy.confirmed(None, "dev", "?") is False
    assert destroy.confirmed("prod", "dev", "?") is False
    assert destroy.confirmed("dev", "dev", "?") is True


def test_the_command_prints_the_plan_and_deletes_nothing_unconfirmed(world, n, monkeypatch, capsys):
    clients, bucket, _key = world
    monkeypatch.setattr(destroy, "aws_session", lambda env: type("S", (), {"client": lambda self, s: clients[s]})())
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert destroy.main(["--env", n.env_name]) == 2
    captured = capsys.readouterr()
    assert "Will delete, in this order:" in captured.out and bucket in captured.out
    assert captured.err == f"error: not confirmed: nothing was deleted (type '{n.env_name}', or pass CONFIRM={n.env_name})\n"
    assert clients["cloudformation"].calls == []
    assert destroy.main(["--env", n.env_name, "--confirm", n.env_name, "--purge-retained", "not-the-env"]) == 2
    assert clients["cloudformation"].calls == []


def test_a_purge_says_it_deletes_the_data_and_a_wrong_purge_is_refused_before_aws(world, n, monkeypatch, capsys):
    clients, bucket, _key = world
    sessions = []
    monkeypatch.setattr(destroy, "aws_session", lambda env: sessions.append(env) or type("S", (), {"client": lambda self, s: clients[s]})())
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert destroy.main(["--env", n.env_name, "--purge-retained", "not-the-env"]) == 2
    assert sessions == [] and "PURGE must be the env's name" in capsys.readouterr().err
    assert destroy.main(["--env", n.env_name, "--purge-retained", n.env_name]) == 2  # unconfirmed: plan only
    out = capsys.readouterr().out
    assert "will also DELETE the retained data" in out and "Will keep" not in out and bucket in out
    assert clients["cloudformation"].calls == []


def test_ctrl_d_at_a_prompt_is_no_answer(monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)

    def eof(prompt):
        raise EOFError

    monkeypatch.setattr("builtins.input", eof)
    assert destroy.confirmed(None, "dev", "?") is False


ADMIN_ROLE = "arn:aws:iam::123456789012:role/admin-cloudformation"


def _run(world, n, monkeypatch, *extra):
    clients, _bucket, _key = world
    monkeypatch.setattr(destroy, "aws_session", lambda env: type("S", (), {"client": lambda self, s: clients[s]})())
    return destroy.main(["--env", n.env_name, "--confirm", n.env_name, *extra])


def test_once_the_pipeline_stack_acts_as_its_deploy_role_destroy_needs_an_administrators_role(world, n, monkeypatch, capsys):
    """That role may not delete the bucket's or the operations topic's policy (only an administrator changes them):
    deleting as it would stop half-way, so destroy says so before deleting anything."""
    cfn = world[0]["cloudformation"]
    cfn.roles[n.stack("pipeline")] = f"arn:aws:iam::123456789012:role{n.role_path}{n.deploy_role('pipeline')}"
    assert _run(world, n, monkeypatch) == 2
    assert "CFN_ROLE_ARN" in capsys.readouterr().err and not [c for c in cfn.calls if c[0] == "delete"]
    assert _run(world, n, monkeypatch, "--cfn-role-arn", ADMIN_ROLE) == 0
    assert [c for c in cfn.calls if c[0] == "delete"] == [("delete", name, ADMIN_ROLE) for name in
                                                          [n.stack(s) for s in reversed(list(BUILDERS))]]


def test_a_role_that_is_not_an_arn_is_refused_before_aws(world, n, monkeypatch, capsys):
    assert _run(world, n, monkeypatch, "--cfn-role-arn", "admin") == 2
    assert "not an IAM role ARN" in capsys.readouterr().err and not world[0]["cloudformation"].calls


def test_a_pipeline_stack_left_with_an_administrators_role_needs_none_given(world, n, monkeypatch):
    """`make deploy CFN_ROLE_ARN=…` leaves that role on the stack until the pipeline's next run: it may delete all."""
    cfn = world[0]["cloudformation"]
    cfn.roles[n.stack("pipeline")] = ADMIN_ROLE
    assert _run(world, n, monkeypatch) == 0
    assert [c for c in cfn.calls if c[0] == "delete"] == [("delete", n.stack(s)) for s in reversed(list(BUILDERS))]


def test_the_production_endpoint_the_rollout_made_goes_first_with_its_autoscaling(world, n):
    """No stack holds it (the model-deployment pipeline's rollout creates it), so no stack deletion would."""
    # Whichever env the config lists first, as if it served models (destroy reads only that it has a deployment block).
    n = dataclasses.replace(n, env=dataclasses.replace(n.env, deployment=n.env.deployment or "a deployment block"))
    clients, _bucket, _key = world
    sm, scaling = clients["sagemaker"], clients["application-autoscaling"]
    sm.create_model(ModelName="m", Containers=[{"Image": "i"}], ExecutionRoleArn="arn:aws:iam::123456789012:role/r")
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 2}])
    sm.create_endpoint(EndpointName=n.production_endpoint, EndpointConfigName="c")
    scaling.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=f"endpoint/{n.production_endpoint}/variant/AllTraffic",
                                     ScalableDimension="sagemaker:variant:DesiredInstanceCount", MinCapacity=2, MaxCapacity=4)
    the_plan = destroy.plan(clients["cloudformation"], sm, n)
    assert the_plan.production_endpoint == n.production_endpoint
    assert any(n.production_endpoint in line for line in the_plan.lines())
    destroy.delete_production_endpoint(sm, scaling, the_plan.production_endpoint)
    assert not scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert destroy.plan(clients["cloudformation"], sm, n).production_endpoint is None


# -- an env taken out of config: found by the naming rule, in the region the operator names ------------------------

def _other_region(project) -> str:
    """A region no env of config/ is in: the removed env's may be any."""
    return next(r for r in ("us-east-1", "ap-southeast-2", "sa-east-1") if r not in {e.region for e in project.environments.values()})


def test_a_removed_env_has_the_names_it_had_while_config_listed_it(project, tmp_path):
    """Its stacks, SageMaker pipeline, model package group and deploy roles, as config/ names them for a listed env."""
    region = _other_region(project)
    cfg = Path(shutil.copytree(config.CONFIG_DIR, tmp_path / "config"))
    data = yaml.safe_load((cfg / "project.yaml").read_text())
    first = data["environments"][0]
    env = yaml.safe_load((cfg / f"{first}.yaml").read_text())
    if env["source"].get("connection_arn"):  # a connection is in its env's region
        env["source"]["connection_arn"] = env["source"]["connection_arn"].replace(f":{env['region']}:", f":{region}:")
    env["region"] = region
    (cfg / f"{ABSENT_ENV}.yaml").write_text(yaml.safe_dump(env))
    data["environments"].append(ABSENT_ENV)
    (cfg / "project.yaml").write_text(yaml.safe_dump(data))
    listed = names_mod.for_env(config.load(cfg), ABSENT_ENV)
    env, removed = destroy.removed_env(project, ABSENT_ENV, region)
    assert env.region == region and removed.env_name == ABSENT_ENV
    assert [removed.stack(s) for s in BUILDERS] == [listed.stack(s) for s in BUILDERS]
    assert (removed.sagemaker_pipeline, removed.model_package_group, removed.deploy_role("pipeline")) == \
        (listed.sagemaker_pipeline, listed.model_package_group, listed.deploy_role("pipeline"))


def test_a_removed_env_is_destroyed_by_name_in_the_region_given(project, monkeypatch, capsys):
    region = _other_region(project)
    _env, removed = destroy.removed_env(project, ABSENT_ENV, region)
    sessions = []
    with deployed(removed) as (clients, _bucket, _key):
        monkeypatch.setattr(destroy, "aws_session", lambda env: sessions.append(env) or type("S", (), {"client": lambda self, s: clients[s]})())
        assert destroy.main(["--env", ABSENT_ENV, "--region", region, "--confirm", ABSENT_ENV]) == 0
        deleted = [c for c in clients["cloudformation"].calls if c[0] == "delete"]
    assert [s.region for s in sessions] == [region]
    assert deleted == [("delete", removed.stack(s)) for s in reversed(list(BUILDERS))]
    assert f"env {ABSENT_ENV} is no longer in config/" in capsys.readouterr().out


def test_a_removed_env_without_its_region_is_refused_in_one_line_naming_region(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    monkeypatch.setattr(destroy, "aws_session", lambda env: pytest.fail("no AWS call before the region is known"))
    assert destroy.main(["--env", ABSENT_ENV, "--confirm", ABSENT_ENV]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"make destroy ENV={ABSENT_ENV} REGION=<region>" in err


def test_at_a_terminal_a_removed_envs_region_is_asked(project, monkeypatch, capsys):
    region = _other_region(project)
    answers = iter([region, ABSENT_ENV])  # the region, then the confirmation
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    _env, removed = destroy.removed_env(project, ABSENT_ENV, region)
    with deployed(removed) as (clients, _bucket, _key):
        monkeypatch.setattr(destroy, "aws_session", lambda env: type("S", (), {"client": lambda self, s: clients[s]})())
        assert destroy.main(["--env", ABSENT_ENV]) == 0
        assert [c[1] for c in clients["cloudformation"].calls if c[0] == "delete"] == [removed.stack(s) for s in reversed(list(BUILDERS))]


@pytest.mark.parametrize("argv, says", [
    (["--env", ABSENT_ENV, "--region", "mars-north-1"], "is not an AWS region"),
    (["--env", "Not_An_Env", "--region", "us-east-1"], "is not an env name"),
])
def test_a_removed_env_with_a_bad_name_or_region_is_refused_before_aws(argv, says, monkeypatch, capsys):
    monkeypatch.setattr(destroy, "aws_session", lambda env: pytest.fail("no AWS call"))
    assert destroy.main([*argv, "--confirm", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err


def test_a_listed_env_in_another_region_than_given_is_refused_before_aws(n, monkeypatch, capsys):
    monkeypatch.setattr(destroy, "aws_session", lambda env: pytest.fail("no AWS call"))
    other = next(r for r in ("us-east-1", "ap-southeast-2") if r != n.env.region)
    assert destroy.main(["--env", n.env_name, "--region", other, "--confirm", n.env_name]) == 2
    assert f"puts env {n.env_name} in {n.env.region}" in capsys.readouterr().err
