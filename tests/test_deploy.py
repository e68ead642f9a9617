"""`make deploy` / `make diff`: refuse clearly without credentials; send what CloudFormation accepts."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from infra import deploy, pipeline
from tests.conftest import ROOT

NO_CREDENTIALS_ENV = {
    "PATH": os.environ.get("PATH", ""),
    "HOME": "/nonexistent",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookup: stays offline
}


@pytest.mark.parametrize("command", ["deploy", "diff"])
def test_deploy_and_diff_fail_with_one_line_when_no_aws_credentials(command):
    result = subprocess.run(
        [sys.executable, "-m", "infra.deploy", command, "--env", "dev"],
        cwd=ROOT, env=NO_CREDENTIALS_ENV, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: no AWS credentials found")


@pytest.mark.parametrize("target", ["deploy", "diff"])
def test_make_targets_run_the_deploy_module_for_the_chosen_env(target):
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(rf"^{target}:.*\n\t(.+)$", makefile, re.M)
    assert recipe and recipe.group(1) == f"$(PY) -m infra.deploy {target} --env $(ENV)"


def test_an_unknown_environment_is_named_in_one_line(capsys):
    assert deploy.main(["diff", "--env", "staging"]) == 2
    err = capsys.readouterr().err
    assert "unknown environment 'staging'" in err and err.count("\n") == 1


def test_bootstrap_deploys_deploy_roles_then_iam_then_the_pipeline_and_nothing_else():
    assert deploy.BOOTSTRAP_STACKS == ("deploy-roles", "iam", "pipeline")


@pytest.mark.parametrize("stack", ["iam", "pipeline"])
def test_bootstrap_templates_fit_inline_and_carry_env_parameters_and_tags(stack):
    body, params, tags = deploy.stack_inputs(ROOT / "templates", stack, "dev")
    assert len(body.encode()) <= deploy.TEMPLATE_BODY_LIMIT
    assert set(json.loads(body)["Parameters"]) == {p["ParameterKey"] for p in params}
    assert {"Key": "environment", "Value": "dev"} in tags
    assert pipeline.CAPABILITIES[stack] == (["CAPABILITY_NAMED_IAM"] if stack == "iam" else [])  # pipeline: no IAM

