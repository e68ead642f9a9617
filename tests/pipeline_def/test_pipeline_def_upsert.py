"""Upsert against moto: create, update, idempotence, tags, description, and the one-line errors.

On the fixture config (tests/fixtures/config: project churn, env dev in eu-west-1), so that the bucket, role and
region below are known whatever config/ holds; the CLI is pointed at it with --config-dir.
"""
from __future__ import annotations

import dataclasses
import json

import botocore.exceptions
import pytest
from moto import mock_aws

from infra.config.names import for_env
from pipeline_def import cli, target, upsert
from pipeline_def import session as sm_session
from pipeline_def import sample_data
from pipeline_def.pipeline import LIBRARY, SCRIPTS, library_prefix, script_key
from tests.conftest import FIXTURE_CONFIG
from tests.conftest import names_for as _configured_names
from tests.support.pipeline_isolation import isolation_problems
from tests.support.s3 import create_bucket

CONFIG_DIR = ("--config-dir", str(FIXTURE_CONFIG))


@pytest.fixture
def project(fixture_project):
    """This module's project is the fixture config's, not config/'s."""
    return fixture_project


def names_for(project, env, **sagemaker):
    """The env's names with the upsert switches set by the test, not by whatever config/ says."""
    n = _configured_names(project, env)
    settings = {"start_on_upsert": False, "sample_data": True, **sagemaker}
    return for_env(n.project, dataclasses.replace(n.env, **settings))

ROLE = "arn:aws:iam::123456789012:role/churn/churn-dev-sagemaker-execution"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
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
    create_bucket(session.client("s3"), BUCKET)
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
        "ARTIFACT_KEY_ARN": KEY,
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
    assert got["PipelineDescription"] == f"{n.project.description} (dev)"
    assert json.loads(got["PipelineDefinition"]) == json.loads(cli_render_with(n))
    wanted = {**n.project.tags, **n.env.tags, "managed-by": upsert.MANAGED_BY}
    assert sorted((t["Key"], t["Value"]) for t in _tags(aws, arn)) == sorted(wanted.items())
    assert upsert.MANAGED_BY != "cloudformation"  # CloudFormation does not manage this pipeline


def cli_render_with(n) -> str:
    """The definition upsert sends, rendered the same way but for the test account's bucket and role."""
    from pipeline_def.pipeline import build_pipeline

    sess = sm_session.pipeline_session(sm_session.boto_session("eu-west-1", offline=True), BUCKET)
    return build_pipeline(n, n.env, sess, role_arn=ROLE, key_arn=KEY).definition()


def test_upsert_uploads_the_step_scripts_under_the_sagemaker_prefix(aws, project, environ):
    n = names_for(project, "dev")
    out = upsert.run(n, environ)
    s3 = sm_session.boto_session("eu-west-1", offline=False).client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    code = [script_key(n, s) for s in SCRIPTS] + [f"{library_prefix(n)}{m}" for m in LIBRARY]
    assert keys == sorted(code + [f"{n.input_prefix}{sample_data.FILE_NAME}"])
    assert all(k.startswith(n.sagemaker_prefix) for k in keys)
    assert [line for line in out if line.startswith("uploaded s3")] == [f"uploaded s3://{BUCKET}/{k}" for k in code]


def test_upsert_puts_the_sample_into_an_empty_input_location_only(aws, project, environ):
    n = names_for(project, "dev")
    s3 = sm_session.boto_session("eu-west-1", offline=False).client("s3")
    out = upsert.run(n, environ)
    key = f"{n.input_prefix}{sample_data.FILE_NAME}"
    assert f"uploaded sample data s3://{BUCKET}/{key}" in out
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == sample_data.csv_bytes()
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"theirs")  # someone uploaded their own data
    out = upsert.run(n, environ)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"theirs"
    assert any(line.startswith("input data present") for line in out)


def test_upsert_leaves_the_input_alone_when_sample_data_is_off(aws, project, environ):
    n = names_for(project, "dev", sample_data=False)
    upsert.run(n, environ)
    s3 = sm_session.boto_session("eu-west-1", offline=False).client("s3")
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=n.input_prefix)["KeyCount"] == 0


@pytest.mark.parametrize("configured", [True, False])
def test_upsert_starts_an_execution_when_config_says_so(aws, project, environ, configured):
    n = names_for(project, "dev", start_on_upsert=configured)
    out = upsert.run(n, environ)
    started = [line for line in out if line.startswith("started ")]
    executions = aws.list_pipeline_executions(PipelineName=n.sagemaker_pipeline)["PipelineExecutionSummaries"]
    assert len(started) == len(executions) == (1 if configured else 0)


def test_start_prints_the_execution_arn_and_where_to_watch_it(aws, project, environ, monkeypatch, capsys):
    n = names_for(project, "dev")
    upsert.run(n, environ)
    for k, v in environ.items():
        monkeypatch.setenv(k, v)
    capsys.readouterr()
    assert cli.main(["start", "--env", "dev", *CONFIG_DIR]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    arn_prefix = f"arn:aws:sagemaker:eu-west-1:123456789012:pipeline/{n.sagemaker_pipeline}/execution/"
    assert lines[0].startswith(f"started {arn_prefix}")
    execution_id = lines[0].rsplit("/", 1)[1]
    assert lines[1].startswith("watch: https://eu-west-1.console.aws.amazon.com/") and lines[1].endswith(execution_id)
    assert len(aws.list_pipeline_executions(PipelineName=n.sagemaker_pipeline)["PipelineExecutionSummaries"]) == 1


def test_start_without_credentials_is_one_line_and_exit_1(environ, monkeypatch, capsys, tmp_path):
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code, err = _main(monkeypatch, capsys, environ, command="start")
    assert code == 1
    assert err.startswith("error: no AWS credentials found") and err.count("\n") == 1


def test_start_of_a_pipeline_that_does_not_exist_is_one_line_and_exit_1(aws, environ, monkeypatch, capsys):
    code, err = _main(monkeypatch, capsys, environ, command="start")
    assert code == 1 and err.count("\n") == 1 and err.startswith("error: StartPipelineExecution failed")


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
    assert sorted(keys) == sorted(set(keys)) == sorted({*n.project.tags, *n.env.tags, "managed-by"})


def test_upsert_adds_only_tags_that_changed(aws, project, environ):
    n = names_for(project, "dev")
    upsert.run(n, environ)
    retagged = for_env(n.project, dataclasses.replace(n.env, tags={"environment": "dev", "cost-centre": "ml"}))
    out = upsert.run(retagged, environ)
    assert out[-1] == "tagged cost-centre"


def test_upsert_start_prints_the_execution_arn(aws, project, environ, capsys, monkeypatch):
    n = names_for(project, "dev")
    for k, v in environ.items():
        monkeypatch.setenv(k, v)
    assert cli.main(["upsert", "--start", *CONFIG_DIR]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"started arn:aws:sagemaker:eu-west-1:123456789012:pipeline/{n.sagemaker_pipeline}/execution/")
               for line in lines)


@pytest.mark.parametrize(
    "var, value",
    [("SAGEMAKER_PIPELINE_NAME", "churn-model-build-stable"), ("MODEL_PACKAGE_GROUP_NAME", "churn-model-build-stable-models"),
     ("ENV_NAME", "prod"), ("PROJECT_NAME", "other")],
)
def test_upsert_refuses_names_that_drifted_from_config(project, environ, var, value):
    with pytest.raises(target.UsageError, match=rf"\${var} is '{value}' but config/ gives"):
        upsert.run(names_for(project, "dev"), {**environ, var: value})


def _main(monkeypatch, capsys, environ, *args, command="upsert") -> tuple[int, str]:
    for k in list(environ) + ["SAGEMAKER_ROLE_ARN"]:
        monkeypatch.delenv(k, raising=False)
    for k, v in environ.items():
        monkeypatch.setenv(k, v)
    code = cli.main([command, "--env", "dev", *CONFIG_DIR, *args])
    return code, capsys.readouterr().err


def test_missing_role_is_a_usage_error(environ, monkeypatch, capsys):
    code, err = _main(monkeypatch, capsys, {k: v for k, v in environ.items() if k != "SAGEMAKER_ROLE_ARN"})
    assert (code, err) == (2, "error: no execution role: set SAGEMAKER_ROLE_ARN or pass --role-arn\n")


def test_role_arn_option_stands_in_for_the_variable(aws, project, environ, monkeypatch, capsys):
    code, _ = _main(monkeypatch, capsys, {k: v for k, v in environ.items() if k != "SAGEMAKER_ROLE_ARN"}, "--role-arn", ROLE)
    assert code == 0
    assert aws.describe_pipeline(PipelineName=_configured_names(project, "dev").sagemaker_pipeline)["RoleArn"] == ROLE


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


def _job_keys(sm, pipeline: str) -> dict[str, str | None]:
    from tests.demo.pipeline_run import output_key, steps

    definition = json.loads(sm.describe_pipeline(PipelineName=pipeline)["PipelineDefinition"])
    return {s["Name"]: output_key(s) for s in steps(definition) if s["Type"] in ("Processing", "Training")}


def test_every_job_names_the_artifact_key_the_build_is_given(aws, project, environ):
    n = names_for(project, "dev")
    upsert.run(n, environ)
    keys = _job_keys(aws, n.sagemaker_pipeline)
    assert keys and set(keys.values()) == {KEY}, keys


def test_every_job_of_the_upserted_pipeline_runs_with_network_isolation(aws, project, environ):
    """What SageMaker holds after the upsert, not only what render prints (issue 25, P4)."""
    n = names_for(project, "dev")
    upsert.run(n, environ)
    definition = json.loads(aws.describe_pipeline(PipelineName=n.sagemaker_pipeline)["PipelineDefinition"])
    assert not isolation_problems(definition)
    assert {s["Type"] for s in definition["Steps"]} >= {"Processing", "Training"}


def test_the_upsert_reads_nothing_under_the_pipelines_prefix(aws, project, environ, monkeypatch):
    """It may list input/ (is it empty?) and write the step code and the sample; it reads no object (issue 25, P4)."""
    import botocore.client

    calls = []
    real = botocore.client.BaseClient._make_api_call

    def record(client, operation, params):
        if client.meta.service_model.service_name == "s3":
            calls.append((operation, params.get("Key") or params.get("Prefix")))
        return real(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    n = names_for(project, "dev")
    upsert.run(n, environ)
    upsert.run(n, environ)  # the second finds the input present
    assert {op for op, _ in calls} == {"PutObject", "ListObjectsV2"}, calls
    assert {key for op, key in calls if op == "ListObjectsV2"} == {n.input_prefix}
    code = {script_key(n, s) for s in SCRIPTS} | {f"{library_prefix(n)}{m}" for m in LIBRARY}
    assert {key for op, key in calls if op == "PutObject"} == code | {f"{n.input_prefix}{sample_data.FILE_NAME}"}


def test_the_sample_is_written_only_where_no_object_is(aws, project, environ, monkeypatch):
    """If someone's data lands between the list and the write, S3 refuses the write (If-None-Match) and theirs stays."""
    n = names_for(project, "dev")
    s3 = sm_session.boto_session("eu-west-1", offline=False).client("s3")
    key = f"{n.input_prefix}{sample_data.FILE_NAME}"
    monkeypatch.setattr(s3, "list_objects_v2", lambda **_: {"KeyCount": 0})  # the list saw nothing
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"theirs")
    assert upsert.seed_sample_data(s3, n, BUCKET) is None
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"theirs"


def test_without_artifact_key_arn_the_key_behind_the_envs_alias_is_named(aws, project, environ):
    n = names_for(project, "dev")
    kms = sm_session.boto_session("eu-west-1", offline=False).client("kms")
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=n.artifact_key_alias, TargetKeyId=key_arn)
    upsert.run(n, {k: v for k, v in environ.items() if k != "ARTIFACT_KEY_ARN"})
    assert set(_job_keys(aws, n.sagemaker_pipeline).values()) == {key_arn}


@pytest.mark.parametrize("given", [
    "alias/churn-dev-artifacts",  # the bucket policy compares key ARNs: an alias would be refused at the first upload
    "arn:aws:kms:eu-west-1:123456789012:alias/churn-dev-artifacts",
    "1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",  # another region
])
def test_an_artifact_key_that_is_not_a_key_arn_in_the_envs_region_is_a_usage_error(aws, environ, monkeypatch, capsys, given):
    code, err = _main(monkeypatch, capsys, {**environ, "ARTIFACT_KEY_ARN": given})
    assert code == 2 and err.startswith(f"error: artifact key '{given}' is not a KMS key ARN in eu-west-1") and err.count("\n") == 1
