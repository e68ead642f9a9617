"""cfn-lint through its Python API, for the regions the config names."""
from __future__ import annotations

import functools

from cfnlint.api import ManualArgs, lint
from cfnlint.config import ConfigMixIn
from cfnlint.runner import Runner


@functools.lru_cache(maxsize=None)
def _rules():
    """cfn-lint's rules, loaded once per process (as its command line does for many templates): `lint` without
    them loads every rule module and its data again for each template."""
    return Runner(ConfigMixIn(regions=[])).rules


def lint_template(text: str, regions: list[str]) -> list[str]:
    """Every error and warning (informational matches are kept out) as 'rule line: message'."""
    matches = lint(text, rules=_rules(), config=ManualArgs(regions=sorted(set(regions))))
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches if m.rule.id[0] in "EW"]
