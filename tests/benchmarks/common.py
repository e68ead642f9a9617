"""Measuring helpers: cold-process wall time (median) and peak RSS of a command."""
from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


@dataclass
class Row:
    what: str
    value: str
    goal: str = ""
    verdict: str = ""


def run_cold(cmd: list[str], runs: int = 7, env: dict | None = None) -> tuple[float, float]:
    """(median wall seconds, max peak RSS in MB) of `cmd` run `runs` times as fresh processes."""
    times, peaks = [], []
    full_env = {**os.environ, **(env or {})}
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=full_env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        # ru_maxrss of children is the max over all waited children so far (KB on Linux).
        peaks.append(max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
    return statistics.median(times), max(peaks) / 1024


def peak_rss_mb(cmd: list[str], env: dict | None = None) -> float:
    """Peak RSS of one run, measured in a wrapper process so earlier children don't count."""
    code = (
        "import resource,subprocess,sys;"
        "subprocess.run(sys.argv[1:],check=True,stdout=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([PY, "-c", code, *cmd], cwd=ROOT, env={**os.environ, **(env or {})}, check=True, capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform(terse=True)}"


def print_table(rows: list[Row]) -> None:
    print(f"machine: {machine()}")
    width = max(len(r.what) for r in rows)
    vwidth = max(len(r.value) for r in rows)
    gwidth = max(len(r.goal) for r in rows)
    for r in rows:
        print(f"  {r.what:<{width}}  {r.value:>{vwidth}}  {r.goal:<{gwidth}}  {r.verdict}")
