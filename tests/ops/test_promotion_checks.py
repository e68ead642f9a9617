"""`make deploy` in a promotion (docs/promotion.md): the serving env refuses, before any change and in one line,
while the source env does not grant it its models; the source env never waits for the serving env, and says so."""
from __future__ import annotations

import pytest
from botocore.stub import Stubber

from infra.config import names as names_mod
from infra.ops import deploy, promotion
from tests.support.concrete_envs import with_promotion

PARTITION = "aws"


@pytest.fixture(scope="module")
def pair(project):
    """(promoted project, the source env's Names, the serving env's Names)."""
    promoted = with_promotion(project)
    taker = next(e for e in promoted.environments.values() if e.deployment and e.deployment.models_from)
    b = names_mod.for_env(promoted, taker)
    return promoted, b.models_source, b


def _sagemaker(region):
    import boto3

    return boto3.client("sagemaker", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")


def _stubbed(b, error_code=None):
    client = _sagemaker(b.env.region)
    stub = Stubber(client)
    params = {"ModelPackageGroupName": promotion.group_arn(b.models_source, PARTITION)}
    if error_code:
        stub.add_client_error("describe_model_package_group", service_error_code=error_code, expected_params=params)
    else:
        stub.add_response("describe_model_package_group", {
            "ModelPackageGroupName": b.models_source.model_package_group, "ModelPackageGroupArn": params["ModelPackageGroupName"],
            "CreationTime": "2026-12-07T00:00:00Z", "CreatedBy": {}, "ModelPackageGroupStatus": "Completed"}, params)
    stub.activate()
    return client, stub


@pytest.mark.parametrize("code", promotion.NOT_GRANTED)
def test_the_serving_env_is_refused_in_one_line_naming_the_source_and_what_to_run(pair, code):
    _, a, b = pair
    client, stub = _stubbed(b, code)
    line = promotion.missing_grant(client, b, PARTITION)
    stub.assert_no_pending_responses()
    assert line == (f"{a.env_name} (account {a.env.account_id}) does not grant {b.env_name} its models yet (SageMaker: "
                    f"{code} on {a.model_package_group}): run `make deploy ENV={a.env_name}` in account {a.env.account_id} first "
                    "(if it ran, your credentials here lack sagemaker:DescribeModelPackageGroup on that group)")


def test_the_serving_env_goes_on_when_the_source_group_admits_it(pair):
    _, _, b = pair
    client, stub = _stubbed(b)
    assert promotion.missing_grant(client, b, PARTITION) is None
    stub.assert_no_pending_responses()


def test_other_failures_are_not_mistaken_for_a_missing_grant(pair):
    """Throttling or an expired token is AWS's one-line error (exit 1), not advice to deploy the other account."""
    from botocore.exceptions import ClientError

    _, _, b = pair
    client, _ = _stubbed(b, "ThrottlingException")
    with pytest.raises(ClientError):
        promotion.missing_grant(client, b, PARTITION)


def test_envs_outside_a_promotion_check_nothing_and_note_nothing(project):
    for env in project.environments:
        n = names_mod.for_env(project, env)
        if n.models_source is None and n.models_taker is None:
            assert promotion.missing_grant(object(), n, PARTITION) is None  # no call: the object has no methods
            assert promotion.taker_note(n) is None


def test_the_source_env_gets_one_note_naming_the_serving_env_and_where_events_wait(pair):
    _, a, b = pair
    note = promotion.taker_note(a)
    assert "\n" not in note and f"`make deploy ENV={b.env_name}` in account {b.env.account_id}" in note
    assert b.promotion_bus in note and a.promotion_rule in note and note.endswith(f"land in {a.archive_pin_dlq}")
    assert promotion.taker_note(b) is None


def _run_main(monkeypatch, promoted, env_name, account):
    """deploy.main for a promotion env on moto (STS, SageMaker, SNS), with credentials of `account`; CloudFormation's
    part (moto's needs more than this venv has) is recorded, not run. (exit code, what it reached, stderr)."""
    from moto import mock_aws

    reached = []
    monkeypatch.setattr(deploy.config, "load", lambda *_a, **_k: promoted)
    monkeypatch.setattr(deploy.render, "render", lambda _p: {})
    monkeypatch.setattr(deploy.render, "stale", lambda *_a: [])
    monkeypatch.setattr(deploy, "_warn_about_quotas", lambda *_a: reached.append("quotas"))
    monkeypatch.setattr(deploy, "check_no_serving_stacks_left", lambda *_a: reached.append("serving stacks left"))
    monkeypatch.setattr(deploy, "bootstrap_stack", lambda _cfn, _n, stack, *_a: reached.append(stack))
    monkeypatch.setattr(deploy, "protect_pipeline_created_stacks", lambda *_a: [])
    for name, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "MOTO_ACCOUNT_ID": account}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        return deploy.main(["deploy", "--env", env_name]), reached


def test_make_deploy_of_the_serving_env_refuses_before_changing_anything(pair, monkeypatch, capsys):
    """moto answers a group ARN of another account as SageMaker does a group not shared: ValidationException."""
    promoted, a, b = pair
    code, reached = _run_main(monkeypatch, promoted, b.env_name, b.env.account_id)
    err = capsys.readouterr().err
    assert code == 2 and reached == []
    assert err == (f"error: {a.env_name} (account {a.env.account_id}) does not grant {b.env_name} its models yet "
                   f"(SageMaker: ValidationException on {a.model_package_group}): run `make deploy ENV={a.env_name}` "
                   f"in account {a.env.account_id} first "
                   "(if it ran, your credentials here lack sagemaker:DescribeModelPackageGroup on that group)\n")


def test_make_deploy_of_the_serving_env_with_the_source_accounts_credentials_is_refused(pair, monkeypatch, capsys):
    promoted, a, b = pair
    code, reached = _run_main(monkeypatch, promoted, b.env_name, a.env.account_id)
    err = capsys.readouterr().err
    assert code == 2 and reached == []
    assert err == (f"error: {b.env.file}: account_id: credentials are for account {a.env.account_id}, config pins "
                   f"{b.env.account_id}\n")


def test_make_deploy_of_the_source_env_never_waits_for_the_serving_env(pair, monkeypatch, capsys):
    promoted, a, _ = pair
    code, reached = _run_main(monkeypatch, promoted, a.env_name, a.env.account_id)
    err = capsys.readouterr().err
    assert code == 0, err
    assert reached == ["quotas", "serving stacks left", *deploy.bootstrap_stacks(a.env)]
    assert f"note: {promotion.taker_note(a)}\n" in err
