"""`python -m infra.ops.lint_regions`: the regions config/ names, as cfn-lint's --regions for `make lint`.

A region the pinned cfn-lint does not know yet is linted as us-east-1 (with a note), so a new region
does not stop the lint.
"""
from __future__ import annotations

import sys

from infra import config


def lint_regions(known: set[str]) -> tuple[list[str], list[str]]:
    """(regions to lint for, configured regions cfn-lint does not know)."""
    used = sorted({env.region for env in config.load().environments.values()})
    unknown = [region for region in used if region not in known]
    return sorted({region if region in known else "us-east-1" for region in used}), unknown


def main() -> int:
    from cfnlint.helpers import REGIONS  # the dev venv's cfn-lint

    regions, unknown = lint_regions(set(REGIONS))
    if unknown:
        print(f"note: the pinned cfn-lint does not know {', '.join(unknown)} yet; linting for us-east-1 in its place",
              file=sys.stderr)
    print(" ".join(regions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
