"""The Makefile refuses a Python older than 3.11 with one clear line, before any venv or pip.

Found: on Python 3.10 the first `make templates` ran `python -m venv` and pip, which failed with
`No matching distribution found for rpds-py==…`, saying nothing about the interpreter. The pins need 3.11+.
These runs use a stand-in interpreter (the real one, reporting another version) and a venv folder under
tmp, so nothing is installed and nothing in the repository changes.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

REACHED = "STAND-IN PYTHON REACHED"


def _stand_in(tmp_path, version: tuple) -> str:
    """An interpreter that says it is `version`: it runs `-c` code, and stops loudly at anything else (venv, pip)."""
    script = tmp_path / f"python{version[0]}.{version[1]}"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.version_info = {tuple(version) + ('final', 0)!r}\n"
        "if len(sys.argv) > 2 and sys.argv[1] == '-c':\n"
        "    code, sys.argv = sys.argv[2], ['-c', *sys.argv[3:]]\n"
        "    exec(compile(code, '<string>', 'exec'), {'__name__': '__main__'})\n"
        "else:\n"
        f"    sys.exit({REACHED!r} + ': ' + ' '.join(sys.argv[1:]))\n"
    )
    script.chmod(0o755)
    return str(script)


def _make(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    venvs = [f"VENV={tmp_path / 'venv'}", f"CHECKOV_VENV={tmp_path / 'venv-checkov'}"]
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *venvs, *args],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("target", ["templates", "security"])
def test_python_3_10_stops_with_one_line_before_any_venv(tmp_path, target):
    old = _stand_in(tmp_path, (3, 10, 13))
    proc = _make(tmp_path, f"PYTHON={old}", target)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {old} is Python 3.10; this project needs Python 3.11 or newer "
                      "(run make with PYTHON=python3.11 or newer)"], proc.stderr
    assert REACHED not in proc.stderr + proc.stdout, "the venv was attempted anyway"
    assert "No matching distribution" not in proc.stderr
    assert not (tmp_path / "venv").exists() and not (tmp_path / "venv-checkov").exists()


def test_a_venv_made_with_an_old_python_is_named_too(tmp_path):
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    os.symlink(_stand_in(tmp_path, (3, 9, 18)), tmp_path / "venv" / "bin" / "python")
    proc = _make(tmp_path, "templates")
    assert proc.returncode != 0
    assert f"error: {tmp_path / 'venv' / 'bin' / 'python'} is Python 3.9; this project needs Python 3.11 or newer (make clean;" in proc.stderr
    assert REACHED not in proc.stderr + proc.stdout


def test_a_missing_interpreter_is_one_line(tmp_path):
    proc = _make(tmp_path, f"PYTHON={tmp_path / 'no-such-python'}", "templates")
    assert proc.returncode != 0
    assert f"error: {tmp_path / 'no-such-python'} not found; this project needs Python 3.11 or newer" in proc.stderr


@pytest.mark.parametrize("version", [(3, 11, 0), (3, 13, 1)])
def test_python_3_11_and_newer_pass_the_check(tmp_path, version):
    proc = _make(tmp_path, f"PYTHON={_stand_in(tmp_path, version)}", "templates")
    assert f"{REACHED}: -m venv" in proc.stderr, proc.stderr
    assert "error:" not in proc.stderr


def test_make_help_lists_every_target_the_makefile_declares():
    """`make help` prints the README's table: a target missing from the table is missing from the help."""
    import re

    from infra.ops import make_help

    phony = re.search(r"^\.PHONY: (.+)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    listed = " ".join(usage for usage, _ in make_help.rows((ROOT / "README.md").read_text(encoding="utf-8")))
    missing = [target for target in phony if not re.search(rf"\bmake {re.escape(target)}\b", listed)]
    assert not missing, f"README's Make targets table (and so make help) lacks: {missing}"
