"""`sagemaker.data_uploaders`: exactly the named principals may write the input prefix (bucket and key policy), nobody else."""
from __future__ import annotations

import dataclasses
import shutil
from types import MappingProxyType

import pytest
import yaml

from infra import config
from infra.config import names
from infra.output import render
from tests.support.resolve import resolve_all

UPLOADERS = ("arn:aws:iam::000000000000:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_DataScientist_0123456789abcdef",
             "arn:aws:iam::000000000000:user/analyst")


def _with_uploaders(project, uploaders):
    """Each env with `uploaders`, the placeholder account 000000000000 in them read as the env's own."""
    envs = {name: dataclasses.replace(env, data_uploaders=tuple(
                u.replace("000000000000", env.account_id or "000000000000") for u in uploaders))
            for name, env in project.environments.items()}
    return dataclasses.replace(project, environments=MappingProxyType(envs))


def _pipeline_stack(project, env):
    return resolve_all(render.render(project), project, env, ["deploy-roles", "boundaries", "iam", "pipeline"])["pipeline"]


def _statements(stack, logical_id, prop):
    return stack.value(stack.template["Resources"][logical_id]["Properties"][prop])["Statement"]


def _naming(statements, principals):
    return [s for s in statements if isinstance(s.get("Principal"), dict) and s["Principal"].get("AWS") == list(principals)]


@pytest.fixture(scope="module")
def env(project):
    return next(iter(project.environments))


def test_named_uploaders_may_write_only_the_input_prefix(project, env):
    fixture = _with_uploaders(project, UPLOADERS)
    stack = _pipeline_stack(fixture, env)
    n = names.for_env(fixture, env)
    bucket = f"{n.artifact_bucket_prefix}-{stack.pseudo['AWS::AccountId']}-{stack.pseudo['AWS::Region']}"
    granted = _naming(_statements(stack, "ArtifactBucketPolicy", "PolicyDocument"), fixture.env(env).data_uploaders)
    assert {(tuple(s["Action"]), tuple(s["Resource"])) for s in granted} == {
        (("s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"), (f"arn:aws:s3:::{bucket}/{n.input_prefix}*",)),
        (("s3:ListBucket",), (f"arn:aws:s3:::{bucket}",)),
    }
    listing = next(s for s in granted if s["Action"] == ["s3:ListBucket"])
    account = stack.pseudo["AWS::AccountId"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{n.input_prefix}*"]},
                                    "StringEquals": {"aws:PrincipalAccount": account}}
    assert all(s["Condition"]["StringEquals"] == {"aws:PrincipalAccount": account} for s in granted)
    assert all(s["Effect"] == "Allow" for s in granted)


def test_named_uploaders_may_use_the_key_only_through_s3_for_this_bucket(project, env):
    fixture = _with_uploaders(project, UPLOADERS)
    stack = _pipeline_stack(fixture, env)
    n = names.for_env(fixture, env)
    bucket = f"{n.artifact_bucket_prefix}-{stack.pseudo['AWS::AccountId']}-{stack.pseudo['AWS::Region']}"
    (granted,) = _naming(_statements(stack, "ArtifactKey", "KeyPolicy"), fixture.env(env).data_uploaders)
    assert granted["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert granted["Condition"]["StringEquals"] == {"kms:ViaService": f"s3.{stack.pseudo['AWS::Region']}.amazonaws.com",
                                                    "kms:CallerAccount": stack.pseudo["AWS::AccountId"]}
    assert granted["Condition"]["ArnLike"] == {
        "kms:EncryptionContext:aws:s3:arn": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/{n.input_prefix}*"]}


def test_without_uploaders_no_policy_names_anyone_else(project, env):
    stack = _pipeline_stack(_with_uploaders(project, ()), env)
    for logical_id, prop in (("ArtifactBucketPolicy", "PolicyDocument"), ("ArtifactKey", "KeyPolicy")):
        sids = [s["Sid"] for s in _statements(stack, logical_id, prop)]
        assert not [sid for sid in sids if "Uploader" in sid], sids


@pytest.mark.parametrize(
    "value, problem",
    [
        (["arn:aws:iam::123456789012:role/*"], "is not an IAM role or user ARN (no wildcards)"),
        (["arn:aws:iam::123456789012:group/ml"], "is not an IAM role or user ARN"),
        (["arn:aws:iam::222222222222:role/other-account"], "not this environment's account_id 123456789012"),
        ("arn:aws:iam::123456789012:role/x", "expected a list"),
    ],
)
def test_bad_uploaders_are_one_line_config_errors(tmp_path, value, problem):
    shutil.copytree(config.CONFIG_DIR, tmp_path / "config")
    project = yaml.safe_load((tmp_path / "config" / "project.yaml").read_text())
    env = project["environments"][0]
    path = tmp_path / "config" / f"{env}.yaml"
    data = yaml.safe_load(path.read_text())
    data["account_id"] = "123456789012"
    data.setdefault("sagemaker", {})["data_uploaders"] = value
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(config.ConfigError) as err:
        config.load(tmp_path / "config")
    assert "sagemaker.data_uploaders" in str(err.value) and problem in str(err.value) and "\n" not in str(err.value)


def test_uploaders_read_nothing_but_the_input_even_with_broad_policies_and_outsiders_get_nothing(project, env):
    """The key lets uploaders decrypt through S3 in the whole bucket (the encryption context is the bucket):
    the bucket policy refuses them every object outside the input prefix; an ARN of another account in the
    list is granted nothing (config refuses it too)."""
    from tests.support.policy_eval import Request, allowed, denied

    outsider = "arn:aws:iam::999999999999:role/attacker"
    fixture = _with_uploaders(project, (*UPLOADERS, outsider))
    stack = _pipeline_stack(fixture, env)
    n = names.for_env(fixture, env)
    bucket = f"arn:aws:s3:::{n.artifact_bucket_prefix}-{stack.pseudo['AWS::AccountId']}-{stack.pseudo['AWS::Region']}"
    document = stack.value(stack.template["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"])
    local = UPLOADERS[0].replace("000000000000", stack.pseudo["AWS::AccountId"])
    assert denied(document, Request(local, "s3:GetObject", f"{bucket}/{n.sagemaker_prefix}models/x/model.tar.gz"))
    assert denied(document, Request(local, "s3:GetObject", f"{bucket}/lambda/notifier.zip"))
    assert not denied(document, Request(local, "s3:GetObject", f"{bucket}/{n.input_prefix}churn.csv"))
    assert not allowed(document, Request(outsider, "s3:PutObject", f"{bucket}/{n.input_prefix}churn.csv"))
