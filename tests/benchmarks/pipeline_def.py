"""Rendering the SageMaker pipeline definition in a fresh process, against the SDK's import floor."""
from __future__ import annotations

import statistics

from tests.benchmarks.common import PY, Row, peak_rss_mb, run_cold

QUIET = {"SAGEMAKER_SUPPRESS_V2_WARNING": "1", "AWS_EC2_METADATA_DISABLED": "true"}
FLOOR = [PY, "-c", "import sagemaker"]
RENDER = [PY, "-m", "pipeline_def", "render", "--env", "dev"]
RUNS = 7


def rows() -> list[Row]:
    # Interleaved, so load from other processes hits floor and render alike and the difference holds.
    floors, renders = [], []
    for _ in range(RUNS):
        floors.append(run_cold(FLOOR, runs=1, env=QUIET)[0])
        renders.append(run_cold(RENDER, runs=1, env=QUIET)[0])
    floor, render = statistics.median(floors), statistics.median(renders)
    over = statistics.median(r - f for r, f in zip(renders, floors))
    rss = peak_rss_mb(RENDER, env=QUIET)
    return [
        Row("import sagemaker (SDK 2.x floor), median s", f"{floor:.3f}"),
        Row("python -m pipeline_def render --env dev, median s", f"{render:.3f}", "< 3 s", "ok" if render < 3 else "OVER"),
        Row("pipeline_def render above the import floor, median s", f"{over:.3f}", "< 0.5 s", "ok" if over < 0.5 else "OVER"),
        Row("pipeline_def render peak RSS, MB", f"{rss:.1f}"),
    ]
