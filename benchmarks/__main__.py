"""Print the benchmark table. Each module contributes rows; add yours to SECTIONS."""
from __future__ import annotations

import importlib

from benchmarks.common import print_table

SECTIONS = ["benchmarks.generator", "benchmarks.pipeline", "benchmarks.notifications", "benchmarks.kpi", "benchmarks.pipeline_def"]


def main() -> None:
    rows = []
    for name in SECTIONS:
        rows += importlib.import_module(name).rows()
    print_table(rows)


if __name__ == "__main__":
    main()
