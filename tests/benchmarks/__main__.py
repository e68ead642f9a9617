"""Print the benchmark table. Each module contributes rows; add yours to SECTIONS."""
from __future__ import annotations

import importlib

from tests.benchmarks.common import print_table

SECTIONS = ["tests.benchmarks.generator", "tests.benchmarks.make_test", "tests.benchmarks.pipeline", "tests.benchmarks.notifications", "tests.benchmarks.kpi", "tests.benchmarks.pipeline_def"]


def main() -> None:
    rows = []
    for name in SECTIONS:
        rows += importlib.import_module(name).rows()
    print_table(rows)


if __name__ == "__main__":
    main()
