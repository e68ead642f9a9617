"""Warm `make test` (venvs installed): every check, as CI runs them, timed end to end."""
from __future__ import annotations

import os
import resource
import subprocess
import time

from tests.benchmarks.common import ROOT, Row

GOAL_S = 60


def rows() -> list[Row]:
    # A clean make: no job server or flags inherited from the `make bench` that runs this.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(["make", "--no-print-directory", "test"], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    summary = next((line for line in reversed(result.stdout.splitlines()) if " passed" in line or " failed" in line), "")
    verdict = "FAILED" if result.returncode else ("ok" if seconds < GOAL_S else "OVER")
    return [
        Row(f"make test, warm ({os.cpu_count()} cores, load average {load:.1f} before), s", f"{seconds:.1f}",
            f"< {GOAL_S} s", verdict),
        Row("  same, CPU seconds of every process (pytest workers, checkov, generate)", f"{cpu:.1f}", summary.strip()),
    ]
