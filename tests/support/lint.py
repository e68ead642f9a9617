"""cfn-lint through its Python API, for the regions the config names."""
from __future__ import annotations

import functools

from cfnlint.config import ConfigMixIn
from cfnlint.decode.decode import decode_str
from cfnlint.runner import Runner


@functools.lru_cache(maxsize=None)
def _runner(regions: tuple[str, ...]) -> Runner:
    """A runner per set of regions, its rules loaded once per process (as cfn-lint's command line does for many
    templates): `cfnlint.api.lint` loads every rule module and its data again for each template, half its time."""
    return Runner(ConfigMixIn(regions=list(regions)))


def lint_template(text: str, regions: list[str]) -> list[str]:
    """Every error and warning (informational matches are kept out) as 'rule line: message'."""
    template, matches = decode_str(text)
    if not matches:
        matches = list(_runner(tuple(sorted(set(regions)))).validate_template(template))
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches if m.rule.id[0] in "EW"]
