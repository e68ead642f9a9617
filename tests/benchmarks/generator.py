"""Rendering every stack for every environment, against the import floor."""
from __future__ import annotations

from tests.benchmarks.common import PY, Row, peak_rss_mb, run_cold


def rows() -> list[Row]:
    floor, _ = run_cold([PY, "-c", "import troposphere, awacs"])
    render, _ = run_cold([PY, "generate.py", "--check"])
    rss = peak_rss_mb([PY, "generate.py", "--check"])
    ratio = render / floor
    return [
        Row("import troposphere, awacs (floor), median s", f"{floor:.3f}"),
        Row("generate.py --check (all stacks, all envs), median s", f"{render:.3f}", f"<= 1.5x floor: {ratio:.2f}x", "ok" if ratio <= 1.5 else "OVER"),
        Row("generate.py peak RSS, MB", f"{rss:.1f}", "< 80 MB", "ok" if rss < 80 else "OVER"),
    ]
