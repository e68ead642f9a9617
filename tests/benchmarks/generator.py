"""Rendering every stack for every environment, cold process, against `cdk synth` of an equivalent app."""
from __future__ import annotations

import os
import resource

from tests.benchmarks.common import PY, Row, peak_rss_mb, run_cold

RUNS = 15
GOAL = 1.0  # s: `make templates` stays well under a second
CDK_SYNTH = 9.7  # s: `cdk synth` of the AWS CDK sample this project replaces, measured once on this machine
RENDER = [PY, "generate.py", "--check"]  # a full render of all stacks and envs, compared with templates/
# Read cached bytecode, as any second run does: one render first lets Python cache the repository's modules
# (unless PYTHONDONTWRITEBYTECODE says no).
BYTECODE = {"PYTHONDONTWRITEBYTECODE": ""}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rows() -> list[Row]:
    run_cold(RENDER, runs=1, env=BYTECODE)
    before = _cpu_seconds()
    wall, _ = run_cold(RENDER, runs=RUNS, env=BYTECODE)
    # CPU seconds per run: what the wall time is on an idle machine (one thread), whatever else runs now.
    cpu = (_cpu_seconds() - before) / RUNS
    rss = peak_rss_mb(RENDER)
    load = os.getloadavg()[0]
    return [
        Row(f"generate.py --check (all stacks, all envs, cold process), CPU s per run, mean of {RUNS}", f"{cpu:.3f}",
            f"< {GOAL:.0f} s; {CDK_SYNTH / cpu:.0f}x faster than cdk synth ({CDK_SYNTH} s)", "ok" if cpu < GOAL else "OVER"),
        Row(f"generate.py --check, wall s, median of {RUNS} (load average {load:.1f})", f"{wall:.3f}"),
        Row("generate.py peak RSS, MB", f"{rss:.1f}", "< 80 MB", "ok" if rss < 80 else "OVER"),
    ]
