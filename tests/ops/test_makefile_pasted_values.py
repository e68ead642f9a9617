"""Values given to make that its recipes paste into shell commands (ENV, VERSION, CFN_ROLE_ARN…) are refused with one
line naming the variable when they hold anything but the characters such a value needs; nothing runs.

Found by a review: `make approve VERSION='"; touch x; "'` broke out of the recipe's quotes, and a value holding
`$(shell …)` ran as make expanded it, even under `make -n`. These runs use `make -n` and a venv folder under tmp, so
nothing is installed; each hostile value would create a marker file if any of it ran.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

# Each pasted variable, and a target whose recipe pastes it.
PASTED = {"ENV": "deploy", "VERSION": "approve", "CFN_ROLE_ARN": "deploy", "CONFIRM": "destroy", "PURGE": "destroy",
          "REGION": "destroy", "INPUT": "train-local", "SCENARIOS": "adopter-check",
          "SCENARIO": "demo"}
HOSTILE = {
    "command after a separator": "dev; touch {marker}",
    "make's shell function": "$(shell touch {marker})",
    "shell command substitution": "$$(touch {marker})",
    "backquotes": "`touch {marker}`",
    "out of the recipe's quotes": '"; touch {marker}; "',
    "a space": "dev touch",
    "a newline": "dev\ntouch {marker}",
}
LISTS = {"SCENARIOS"}  # words apart by spaces: a space is fine there, nothing else is


def _make(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    venvs = [f"VENV={tmp_path / 'venv'}", f"CHECKOV_VENV={tmp_path / 'venv-checkov'}",
             f"SERVING_VENV={tmp_path / 'venv-serving'}"]
    return subprocess.run(["make", "--no-print-directory", "-n", "-C", str(ROOT), *venvs, *args],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("case", HOSTILE)
@pytest.mark.parametrize("variable", PASTED)
def test_a_hostile_value_is_one_line_naming_the_variable_and_runs_nothing(tmp_path, variable, case):
    if variable in LISTS and case == "a space":
        pytest.skip("a list's words are apart by spaces")
    marker = tmp_path / "ran"
    proc = _make(tmp_path, f"{variable}={HOSTILE[case].format(marker=marker)}", PASTED[variable])
    assert not marker.exists(), f"{variable}: {case} ran"
    assert proc.returncode != 0, f"{variable}: {case} was accepted:\n{proc.stdout}"
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and f"error: {variable} may hold only" in errors[0], proc.stderr


@pytest.mark.parametrize("variable, value", [("CFN_ROLE_ARN", "arn:aws:iam::123456789012:role/path/cfn+deploy=x,y.z@w_v-u"),
                                             ("ENV", "prod-eu"), ("VERSION", "12"), ("REGION", "us-east-1"),
                                             ("INPUT", "data/churn_2024.csv")])
def test_the_values_config_and_aws_use_pass(tmp_path, variable, value):
    proc = _make(tmp_path, f"{variable}={value}", PASTED[variable])
    assert "may hold only" not in proc.stderr, proc.stderr


def test_the_make_commands_the_repository_runs_pass(tmp_path):
    """CI's own calls (.ci/run), such as `make adopter-check SCENARIOS="all drop-first us-east-1"`, once refused by
    this validation: every `make … VAR=…` line there is accepted as written."""
    import re
    import shlex
    calls = [shlex.split(line.strip()) for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if re.match(r"\s*make\s", line) and "=" in line]
    assert calls, ".ci/run passes no variable to make: nothing checked"
    for call in calls:
        proc = _make(tmp_path, *call[1:])
        assert "may hold only" not in proc.stderr, (call, proc.stderr)
