"""Rendering every stack for every environment, cold process, against `cdk synth` of the same templates.

Both are timed in the same run, in CPU seconds of every process each starts (the wall time of an idle
machine), so load from other jobs moves neither. The CDK app (tests/benchmarks/cdk/app.py) includes each
rendered template as it is; its synthesized Resources are checked equal to ours before it is timed.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import tempfile
from pathlib import Path

import yaml

from tests.benchmarks.common import PY, ROOT, Row, peak_rss_mb, run_cold

RUNS = 15
CDK_RUNS = 3  # each takes 10-20 s of CPU
GOAL = 1.0  # s: `make templates` stays well under a second
FASTER = 15  # x: the render against cdk synth of the same templates (issue 24's target)
RENDER = [PY, "generate.py", "--check"]  # a full render of all stacks and envs, compared with templates/
# Read cached bytecode, as any second run does: one render first lets Python cache the repository's modules
# (unless PYTHONDONTWRITEBYTECODE says no).
BYTECODE = {"PYTHONDONTWRITEBYTECODE": ""}
CDK_DIR = ROOT / "tests" / "benchmarks" / "cdk"
CDK_VENV = ROOT / ".venv-cdk"  # aws-cdk-lib and, in node_modules, the CLI (Makefile)
CDK_PYTHON = CDK_VENV / "bin" / "python"
# No update check, notices or telemetry: the CLI would otherwise reach the network.
CDK_ENV = {"CDK_DISABLE_VERSION_CHECK": "1", "CDK_DISABLE_CLI_TELEMETRY": "true"}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cdk_synth(out: Path) -> list[str]:
    return [str(CDK_VENV / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "--no-notices",
            "--no-version-reporting", "--no-path-metadata", "--no-asset-metadata", "--output", str(out),
            "--app", f"{CDK_PYTHON} {CDK_DIR / 'app.py'} {ROOT / 'templates'}"]


def _same_resources(out: Path) -> None:
    """Refuse a comparison with an app that synthesizes anything else than our templates."""
    for template in sorted((ROOT / "templates").glob("*/*.yaml")):
        synthesized = json.loads((out / f"{template.parent.name}-{template.stem}.template.json").read_text())
        if synthesized["Resources"] != yaml.safe_load(template.read_text())["Resources"]:
            raise SystemExit(f"error: cdk synth of {template.relative_to(ROOT)} differs from the template")


def _run_quietly(cmd: list[str], cwd: str) -> None:
    """CDK prints notes on every synth (feature flags, its Node.js support): shown only when it fails."""
    done = subprocess.run(cmd, cwd=cwd, env={**os.environ, **CDK_ENV}, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"error: cdk synth exited {done.returncode}:\n{done.stderr}")


def _cdk_cpu_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = _cdk_synth(Path(tmp) / "cdk.out")
        _run_quietly(cmd, tmp)
        _same_resources(Path(tmp) / "cdk.out")
        before = _cpu_seconds()
        for _ in range(CDK_RUNS):
            _run_quietly(cmd, tmp)
        return (_cpu_seconds() - before) / CDK_RUNS


def rows() -> list[Row]:
    run_cold(RENDER, runs=1, env=BYTECODE)
    before = _cpu_seconds()
    wall, _ = run_cold(RENDER, runs=RUNS, env=BYTECODE)
    cpu = (_cpu_seconds() - before) / RUNS
    cdk = _cdk_cpu_seconds()
    rss = peak_rss_mb(RENDER)
    load = os.getloadavg()[0]
    return [
        Row(f"generate.py --check (all stacks, all envs, cold process), CPU s per run, mean of {RUNS}", f"{cpu:.3f}",
            f"< {GOAL:.0f} s", "ok" if cpu < GOAL else "OVER"),
        Row(f"cdk synth of the same templates (CfnInclude), CPU s per run, mean of {CDK_RUNS}", f"{cdk:.1f}",
            f">= {FASTER}x the render: {cdk / cpu:.0f}x", "ok" if cdk / cpu >= FASTER else "OVER"),
        Row(f"generate.py --check, wall s, median of {RUNS} (load average {load:.1f})", f"{wall:.3f}"),
        Row("generate.py peak RSS, MB", f"{rss:.1f}", "< 80 MB", "ok" if rss < 80 else "OVER"),
    ]
