"""`python -m infra.ops.lint_regions`: each env of config/ and the region to lint its templates for (`make lint`).

One line per env, "<env> <region>". A region the pinned cfn-lint does not know yet is linted as us-east-1 (with a
note), so a new region does not stop the lint.
"""
from __future__ import annotations

import sys

from infra import config


def lint_regions(known: set[str]) -> tuple[dict[str, str], list[str]]:
    """(env -> region to lint its templates for, configured regions cfn-lint does not know)."""
    regions = {name: env.region for name, env in config.load().environments.items()}
    unknown = sorted({region for region in regions.values() if region not in known})
    return {name: region if region in known else "us-east-1" for name, region in regions.items()}, unknown


def main() -> int:
    from cfnlint.helpers import REGIONS  # the dev venv's cfn-lint

    regions, unknown = lint_regions(set(REGIONS))
    if unknown:
        print(f"note: the pinned cfn-lint does not know {', '.join(unknown)} yet; linting for us-east-1 in its place",
              file=sys.stderr)
    print("\n".join(f"{env} {region}" for env, region in regions.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
