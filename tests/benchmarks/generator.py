"""Rendering every stack for every environment, against the import floor (interleaved runs)."""
from __future__ import annotations

import os
import statistics

from tests.benchmarks.common import PY, Row, peak_rss_mb, run_cold

RUNS = 15
GOAL = 2.5  # x the floor: 40x faster than `cdk synth` of an equivalent app (9.7 s on this machine)
FLOOR = [PY, "-c", "import troposphere, awacs"]
RENDER = [PY, "generate.py", "--check"]  # a full render of all stacks and envs, compared with templates/
# Both commands read cached bytecode, as any second run does: the floor's packages were compiled at install,
# and one render first lets Python cache the repository's modules (unless PYTHONDONTWRITEBYTECODE says no).
BYTECODE = {"PYTHONDONTWRITEBYTECODE": ""}


def rows() -> list[Row]:
    run_cold(RENDER, runs=1, env=BYTECODE)
    floors, renders = [], []
    for _ in range(RUNS):  # interleaved, so load from other processes hits floor and render alike
        floors.append(run_cold(FLOOR, runs=1, env=BYTECODE)[0])
        renders.append(run_cold(RENDER, runs=1, env=BYTECODE)[0])
    floor, render = statistics.median(floors), statistics.median(renders)
    ratio = render / floor
    rss = peak_rss_mb(RENDER)
    load = os.getloadavg()[0]
    return [
        Row(f"import troposphere, awacs (floor), median of {RUNS}, s", f"{floor:.3f}"),
        Row(f"generate.py --check (all stacks, all envs, cold process), median of {RUNS} interleaved, s", f"{render:.3f}",
            f"<= {GOAL}x floor: {ratio:.2f}x (load average {load:.1f})", "ok" if ratio <= GOAL else "OVER"),
        Row("generate.py peak RSS, MB", f"{rss:.1f}", "< 80 MB", "ok" if rss < 80 else "OVER"),
    ]
