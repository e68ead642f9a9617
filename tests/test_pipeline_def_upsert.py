"""Upsert against moto: create, update, idempotence, tags, description, and the one-line errors."""
from __future__ import annotations

import dataclasses
import json

import botocore.exceptions
import pytest
from moto import mock_aws

from infra.names import for_env
from pipeline_def import cli, upsert
from pipeline_def import session as sm_session
from pipeline_def.pipeline import SCRIPTS, script_key
from tests.conftest import names_for

ROLE = "arn:aws:iam::123456789012:role/churn/churn-dev-sagemaker-execution"
BUCKET = "churn-dev-artifacts-123456789012-eu-west-1"


@pytest.fixture(scope="module")
def _moto():
    """One mock for the module (starting one costs ~0.8 s); each test resets it."""
    mock = mock_aws()
    mock.start()
    yield mock
    mock.stop()


@pytest.fixture
def aws(_moto):
    """A fresh moto account holding the artifact bucket; yields a SageMaker client."""
    _moto.reset()
    session = sm_session.boto_session("eu-west-1", offline=False)
    session.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return session.client("sagemaker")


@pytest.fixture
def environ(project):
    n = names_for(project, "dev")
    return {
        "PROJECT_NAME": n.project.name,
        "ENV_NAME": "dev",
        "SAGEMAKER_PIPELINE_NAME": n.sagemaker_pipeline,
        "MODEL_PACKAGE_GROUP_NAME": n.model_package_group,
        "SAGEMAKER_ROLE_ARN": ROLE,
        "ARTIFACT_BUCKET": BUCKET,
        "AWS_REGION": "eu-west-1",
    }


def _tags(sm, arn) -> list[dict]:
    return sm.list_tags(ResourceArn=arn)["Tags"]


def test_upsert_creates_the_pipeline_with_role_description_and_tags(aws, project, environ):
    n = names_for(project, "dev")
    out = upsert.run(n, environ)
    arn = f"arn:aws:sagemaker:eu-west-1:123456789012:pipeline/{n.sagemaker_pipeline}"
    assert out[-1] == f"created {arn}"
    got = aws.describe_pipeline(PipelineName=n.sagemaker_pipeline)
    assert got["RoleArn"] == ROLE
    assert got["PipelineDescription"] == "Customer churn model build, registry and approval notifications (dev)"
    assert json.loads(got["PipelineDefinition"]) == json.loads(cli_render_with(n))
    assert sorted((t["Key"], t["Value"]) for t in _tags(aws, arn)) == [
        ("environment", "dev"), ("managed-by", "cloudformation"), ("project", "customer-churn")
    ]


def cli_render_with(n) -> str:
    """The definition upsert sends, rendered the same way but for the test account's bucket and role."""
    from pipeline_def.pipeline import build_pipeline

    sess = sm_session.pipeline_session(sm_session.boto_session("eu-west-1", offline=True), BUCKET)
    return build_pipeline(n, n.env, sess, role_arn=ROLE).definition()


def test_upsert_uploads_the_step_scripts_under_the_sagemaker_prefix(aws, project, environ):
    n = names_for(project, "dev")
    out = upsert.run(n, environ)
    s3 = sm_session.boto_session("eu-west-1", offline=False).client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == sorted(script_key(n, s) for s in SCRIPTS)
    assert all(k.startswith(n.sagemaker_prefix) for k in keys)
    assert [line for line in out if line.startswith("uploaded")] == [f"uploaded s3://{BUCKET}/{script_key(n, s)}" for s in SCRIPTS]


def test_upsert_updates_an_existing_pipeline_with_the_change(aws, project, environ):
    n = names_for(project, "dev")
    upsert.run(n, environ)
    stricter = for_env(n.project, dataclasses.replace(n.env, model_approval_threshold=0.9))
    out = upsert.run(stricter, environ)
    assert out[-1].startswith("updated arn:aws:sagemaker:eu-west-1:123456789012:pipeline/")
    definition = json.loads(aws.describe_pipeline(PipelineName=n.sagemaker_pipeline)["PipelineDefinition"])
    threshold = [p for p in definition["Parameters"] if p["Name"] == "ModelApprovalThreshold"]
    assert threshold[0]["DefaultValue"] == 0.9


def test_upsert_twice_changes_nothing_and_never_duplicates_tags(aws, project, environ):
    n = names_for(project, "dev")
    upsert.run(n, environ)
    before = aws.describe_pipeline(PipelineName=n.sagemaker_pipeline)
    out = upsert.run(n, environ)
    after = aws.describe_pipeline(PipelineName=n.sagemaker_pipeline)
    assert not any(line.startswith("tagged") for line in out)
    assert after["PipelineDefinition"] == before["PipelineDefinition"]
    assert after["PipelineDescription"] == before["PipelineDescription"]
    keys = [t["Key"] for t in _tags(aws, before["PipelineArn"])]
    assert sorted(keys) == sorted(set(keys)) == ["environment", "managed-by", "project"]


def test_upsert_adds_only_tags_that_changed(aws, project, environ):
    n = names_for(project, "dev")
    upsert.run(n, environ)
    retagged = for_env(n.project, dataclasses.replace(n.env, tags={"environment": "dev", "cost-centre": "ml"}))
    out = upsert.run(retagged, environ)
    assert out[-1] == "tagged cost-centre"


def test_upsert_start_prints_the_execution_arn(aws, project, environ, capsys, monkeypatch):
    for k, v in environ.items():
        monkeypatch.setenv(k, v)
    assert cli.main(["upsert", "--start"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("started arn:aws:sagemaker:eu-west-1:123456789012:pipeline/churn-model-build-dev/execution/")


@pytest.mark.parametrize(
    "var, value",
    [("SAGEMAKER_PIPELINE_NAME", "churn-model-build-stable"), ("MODEL_PACKAGE_GROUP_NAME", "churn-model-build-stable-models"),
     ("ENV_NAME", "prod"), ("PROJECT_NAME", "other")],
)
def test_upsert_refuses_names_that_drifted_from_config(project, environ, var, value):
    with pytest.raises(cli.UsageError, match=rf"\${var} is '{value}' but config/ gives"):
        upsert.run(names_for(project, "dev"), {**environ, var: value})


def _main(monkeypatch, capsys, environ, *args) -> tuple[int, str]:
    for k in list(environ) + ["SAGEMAKER_ROLE_ARN"]:
        monkeypatch.delenv(k, raising=False)
    for k, v in environ.items():
        monkeypatch.setenv(k, v)
    code = cli.main(["upsert", "--env", "dev", *args])
    return code, capsys.readouterr().err


def test_missing_role_is_a_usage_error(environ, monkeypatch, capsys):
    code, err = _main(monkeypatch, capsys, {k: v for k, v in environ.items() if k != "SAGEMAKER_ROLE_ARN"})
    assert (code, err) == (2, "error: no execution role: set SAGEMAKER_ROLE_ARN or pass --role-arn\n")


def test_role_arn_option_stands_in_for_the_variable(aws, environ, monkeypatch, capsys):
    code, _ = _main(monkeypatch, capsys, {k: v for k, v in environ.items() if k != "SAGEMAKER_ROLE_ARN"}, "--role-arn", ROLE)
    assert code == 0
    assert aws.describe_pipeline(PipelineName="churn-model-build-dev")["RoleArn"] == ROLE


def test_a_region_other_than_the_configs_is_refused(environ, monkeypatch, capsys):
    code, err = _main(monkeypatch, capsys, {**environ, "AWS_REGION": "us-east-1"})
    assert code == 2 and "region us-east-1" in err and err.count("\n") == 1


def test_no_credentials_is_one_line_and_exit_1(environ, monkeypatch, capsys, tmp_path):
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code, err = _main(monkeypatch, capsys, environ)
    assert code == 1
    assert err.startswith("error: no AWS credentials found") and err.count("\n") == 1


def test_access_denied_is_one_line_and_exit_1(aws, environ, monkeypatch, capsys):
    def denied(*_a, **_k):
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "User is not authorized\nto perform CreatePipeline"}}, "CreatePipeline"
        )

    monkeypatch.setattr(upsert, "create_or_update", denied)
    code, err = _main(monkeypatch, capsys, environ)
    assert (code, err) == (1, "error: CreatePipeline failed: AccessDeniedException: User is not authorized to perform CreatePipeline\n")


def test_a_bucket_of_another_env_is_refused(aws, environ, monkeypatch, capsys):
    code, err = _main(monkeypatch, capsys, {**environ, "ARTIFACT_BUCKET": "churn-prod-artifacts-123456789012-eu-west-1"})
    assert code == 2 and "is not this env's" in err


def test_without_artifact_bucket_the_bucket_is_derived_from_the_callers_account(aws, project, environ):
    out = upsert.run(names_for(project, "dev"), {k: v for k, v in environ.items() if k != "ARTIFACT_BUCKET"})
    assert out[0].startswith(f"uploaded s3://{BUCKET}/")
