"""Analysts named in config may read the KPI data through Athena and QuickSight, and nobody else gains anything.

The rendered pipeline stack is evaluated for each environment of a fixture config that names a role, an
IAM Identity Center (SSO) role by its permission set, and the QuickSight service role; then the artifact
key's and bucket's policies are asked, request by request, what they grant on their own.
"""
from __future__ import annotations

import shutil

import pytest
import yaml

from infra import config
from infra.config import names
from infra.output import render
from infra.config.names import ATHENA_RESULTS_PREFIX, OFFLINE_ACCOUNT
from tests.conftest import ROOT
from tests.support.policy_eval import Request, allowed, denied
from tests.support.resolve import resolve_all

STACKS = ["deploy-roles", "boundaries", "iam", "pipeline", "notifications", "kpi"]
OTHER_ACCOUNT = "999999999999"


def _roles(account: str) -> dict[str, str]:
    """What config names -> an ARN a session of it really has."""
    sso = f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_DataAnalyst_"
    return {
        f"arn:aws:iam::{account}:role/analytics/kpi-reader": f"arn:aws:iam::{account}:role/analytics/kpi-reader",
        f"{sso}*": f"{sso}0123456789abcdef",
        f"arn:aws:iam::{account}:role/service-role/aws-quicksight-service-role-v0":
            f"arn:aws:iam::{account}:role/service-role/aws-quicksight-service-role-v0",
    }


def _account(env) -> str:
    return env.account_id or OFFLINE_ACCOUNT


def _outsiders(account: str) -> list[str]:
    sso = f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_"
    return [
        f"arn:aws:iam::{account}:role/analytics/kpi-reader-2",  # a longer name
        f"arn:aws:iam::{account}:role/analytics/someone-else",
        f"arn:aws:iam::{OTHER_ACCOUNT}:role/analytics/kpi-reader",  # the same name in another account
        f"{sso}Administrator_0123456789abcdef",  # another permission set
        f"arn:aws:iam::{account}:role/service-role/aws-quicksight-service-role-v1",
    ]


def _project(tmp_path, analysts: bool):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    project = config.load(tmp_path / "config")
    for env in project.environments.values():
        path = tmp_path / "config" / f"{env.name}.yaml"
        data = yaml.safe_load(path.read_text())
        if analysts:  # naming principals needs account_id: the connection's, if the config names one
            connection = data["source"].get("connection_arn")
            data["account_id"] = data.get("account_id") or (connection.split(":")[4] if connection else OFFLINE_ACCOUNT)
        data.setdefault("kpi", {})["analyst_principals"] = sorted(_roles(data["account_id"])) if analysts else []
        path.write_text(yaml.safe_dump(data))
    return config.load(tmp_path / "config")


def _policies(project, env_name: str) -> tuple[dict, dict, dict]:
    """(key policy, bucket policy, KPI workgroup configuration) of the env, as CloudFormation would deploy them."""
    stacks = resolve_all(render.render(project), project, env_name, STACKS)
    pipeline = stacks["pipeline"]
    key = pipeline.resources("AWS::KMS::Key")["ArtifactKey"]["Properties"]["KeyPolicy"]
    bucket = pipeline.resources("AWS::S3::BucketPolicy")["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]
    workgroup = stacks["kpi"].resources("AWS::Athena::WorkGroup")["KpiWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    return key, bucket, workgroup


@pytest.fixture(scope="module")
def with_analysts(tmp_path_factory):
    project = _project(tmp_path_factory.mktemp("analysts"), analysts=True)
    return project, {env: _policies(project, env) for env in project.environments}


@pytest.fixture(scope="module")
def without_analysts(tmp_path_factory):
    project = _project(tmp_path_factory.mktemp("nobody"), analysts=False)
    return project, {env: _policies(project, env) for env in project.environments}


def _requests(project, env_name: str, workgroup: dict) -> tuple[list, list]:
    """(what an analyst needs, what an analyst must not get) as (action, resource, context)."""
    env = project.env(env_name)
    n = names.for_env(project, env)
    bucket = f"{n.artifact_bucket_prefix}-{_account(env)}-{env.region}"
    key = f"arn:aws:kms:{env.region}:{_account(env)}:key/<artifact key>"
    # Where the workgroup (enforced) writes every query's results.
    results_bucket, results = workgroup["ResultConfiguration"]["OutputLocation"].removeprefix("s3://").split("/", 1)
    assert results_bucket == bucket
    via_s3 = {"kms:ViaService": f"s3.{env.region}.amazonaws.com"}
    needed = [
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/{n.evaluation_prefix}abc123/evaluation.json", {}),
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/{results}query-1.csv", {}),
        ("s3:PutObject", f"arn:aws:s3:::{bucket}/{results}query-1.csv", {}),
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": n.evaluation_prefix}),
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": f"{n.evaluation_prefix}abc123/"}),
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": results}),
        # The decisions table (who approved which version), beside the reports.
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/{n.decisions_prefix}3-Approved.json", {}),
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": n.decisions_prefix}),
        ("s3:GetBucketLocation", f"arn:aws:s3:::{bucket}", {}),
        ("kms:Decrypt", key, via_s3),
        ("kms:GenerateDataKey", key, via_s3),
    ]
    refused = [
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/lambda/registry_metrics-0123.zip", {}),
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/{n.sagemaker_prefix}data/abc123/train/train.csv", {}),
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/{n.registry_ledger_prefix}3/ModelsApproved", {}),
        ("s3:PutObject", f"arn:aws:s3:::{bucket}/{n.evaluation_prefix}abc123/evaluation.json", {}),
        ("s3:PutObject", f"arn:aws:s3:::{bucket}/{n.decisions_prefix}3-Approved.json", {}),  # no forged decision
        ("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{results}query-1.csv", {}),
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": ""}),
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": "lambda/"}),
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}", {}),
        ("s3:PutBucketPolicy", f"arn:aws:s3:::{bucket}", {}),
        ("kms:Decrypt", key, {}),  # directly, not through S3
        ("kms:Decrypt", key, {"kms:ViaService": f"logs.{env.region}.amazonaws.com"}),
        ("kms:Decrypt", key, {"kms:ViaService": "s3.some-other-region-1.amazonaws.com"}),
        ("kms:Encrypt", key, via_s3),
        ("kms:PutKeyPolicy", key, {}),
    ]
    return needed, refused


def _grants(key_policy, bucket_policy, principal, action, resource, context) -> bool:
    document = key_policy if action.startswith("kms:") else bucket_policy
    return allowed(document, Request(principal, action, resource, context))


def test_each_configured_analyst_may_read_reports_and_results_and_write_results(with_analysts):
    project, policies = with_analysts
    for env_name, (key_policy, bucket_policy, workgroup) in policies.items():
        needed, _ = _requests(project, env_name, workgroup)
        for principal in _roles(_account(project.env(env_name))).values():
            missing = [(a, r, c) for a, r, c in needed if not _grants(key_policy, bucket_policy, principal, a, r, c)]
            assert not missing, f"env {env_name}: {principal} lacks {missing}"


def test_analysts_get_nothing_beyond_reading_the_kpi_data(with_analysts):
    project, policies = with_analysts
    for env_name, (key_policy, bucket_policy, workgroup) in policies.items():
        _, refused = _requests(project, env_name, workgroup)
        for principal in _roles(_account(project.env(env_name))).values():
            extra = [(a, r, c) for a, r, c in refused if _grants(key_policy, bucket_policy, principal, a, r, c)]
            assert not extra, f"env {env_name}: {principal} also gets {extra}"


def test_an_analyst_whose_own_policy_reads_everything_still_reads_only_the_kpi_data(with_analysts):
    """The key lets analysts decrypt through S3 anywhere in the bucket; the bucket policy's Deny keeps
    training data, models, sources and the ledger out of reach even of a broad s3:Get* identity policy."""
    project, policies = with_analysts
    for env_name, (_key, bucket_policy, workgroup) in policies.items():
        needed, refused = _requests(project, env_name, workgroup)
        reads_elsewhere = [(a, r, c) for a, r, c in refused if a == "s3:GetObject"]
        assert reads_elsewhere
        for principal in _roles(_account(project.env(env_name))).values():
            open_reads = [r for a, r, c in reads_elsewhere if not denied(bucket_policy, Request(principal, a, r, c))]
            assert not open_reads, f"env {env_name}: {principal} could read {open_reads} with a broad identity policy"
            kpi_reads = [r for a, r, c in needed if a == "s3:GetObject" and denied(bucket_policy, Request(principal, a, r, c))]
            assert not kpi_reads, f"env {env_name}: {principal} is refused {kpi_reads}"


def test_nobody_else_gains_anything(with_analysts, without_analysts):
    for project, policies in (with_analysts, without_analysts):
        for env_name, (key_policy, bucket_policy, workgroup) in policies.items():
            needed, refused = _requests(project, env_name, workgroup)
            for principal in _outsiders(_account(project.env(env_name))):
                got = [(a, r) for a, r, c in needed + refused if _grants(key_policy, bucket_policy, principal, a, r, c)]
                assert not got, f"env {env_name}: {principal} gets {got}"


def test_without_analysts_in_config_the_policies_name_no_analyst(without_analysts):
    project, policies = without_analysts
    for env_name, (key_policy, bucket_policy, workgroup) in policies.items():
        sids = [s.get("Sid", "") for s in key_policy["Statement"] + bucket_policy["Statement"]]
        assert not [s for s in sids if s.startswith("Analysts")], sids
        needed, _ = _requests(project, env_name, workgroup)
        for principal in _roles(_account(project.env(env_name))).values():
            assert not [a for a, r, c in needed if _grants(key_policy, bucket_policy, principal, a, r, c)]


def test_the_workgroup_writes_where_analysts_may_write_with_the_key_they_may_use(with_analysts):
    project, policies = with_analysts
    for env_name, (_, _, workgroup) in policies.items():
        assert workgroup["EnforceWorkGroupConfiguration"] is True  # a query cannot send its results elsewhere
        result = workgroup["ResultConfiguration"]
        assert result["OutputLocation"].endswith(f"/{ATHENA_RESULTS_PREFIX}")  # the bucket: _requests checks it
        # The artifact key, whose policy test_each_configured_analyst… evaluates.
        assert result["EncryptionConfiguration"] == {"EncryptionOption": "SSE_KMS", "KmsKey": "<GetAtt ArtifactKey.Arn>"}


@pytest.mark.parametrize("arn, problem", [
    ("arn:aws:iam::{account}:user/alice", "is not an IAM role ARN"),
    ("arn:aws:iam::{account}:role/analysts-*", "is not an IAM role ARN"),
    ("arn:aws:iam::*:role/reader", "is not an IAM role ARN"),
    ("arn:aws:iam::{other}:role/reader", "not this environment's account"),
])
def test_analyst_principals_must_be_roles_of_this_environments_account(tmp_path, arn, problem):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    env_name = config.load(tmp_path / "config").environments and next(iter(config.load(tmp_path / "config").environments))
    path = tmp_path / "config" / f"{env_name}.yaml"
    data = yaml.safe_load(path.read_text())
    account = data.setdefault("account_id", "123456789012")  # the env's own, where it names one (its approvers' too)
    data.setdefault("kpi", {})["analyst_principals"] = [arn.format(account=account, other=OTHER_ACCOUNT)]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(config.ConfigError, match=rf"kpi\.analyst_principals\[0\].*{problem}"):
        config.load(tmp_path / "config")
