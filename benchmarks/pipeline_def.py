"""Rendering the SageMaker pipeline definition in a fresh process, against the SDK's import floor."""
from __future__ import annotations

from benchmarks.common import PY, Row, peak_rss_mb, run_cold

QUIET = {"SAGEMAKER_SUPPRESS_V2_WARNING": "1", "AWS_EC2_METADATA_DISABLED": "true"}
RENDER = [PY, "-m", "pipeline_def", "render", "--env", "dev"]


def rows() -> list[Row]:
    floor, _ = run_cold([PY, "-c", "import sagemaker"], runs=5, env=QUIET)
    render, _ = run_cold(RENDER, runs=5, env=QUIET)
    rss = peak_rss_mb(RENDER, env=QUIET)
    return [
        Row("import sagemaker (SDK 2.x floor), median s", f"{floor:.3f}"),
        Row("python -m pipeline_def render --env dev, median s", f"{render:.3f}", "< 3 s", "ok" if render < 3 else "OVER"),
        Row("pipeline_def render above the import floor, s", f"{render - floor:.3f}", "< 0.5 s", "ok" if render - floor < 0.5 else "OVER"),
        Row("pipeline_def render peak RSS, MB", f"{rss:.1f}"),
    ]
