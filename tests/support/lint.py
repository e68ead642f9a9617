"""cfn-lint through its Python API, for the regions the config names."""
from __future__ import annotations

from cfnlint.api import ManualArgs, lint


def lint_template(text: str, regions: list[str]) -> list[str]:
    """Every error and warning (informational matches are kept out) as 'rule line: message'."""
    matches = lint(text, config=ManualArgs(regions=sorted(set(regions))))
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches if m.rule.id[0] in "EW"]
