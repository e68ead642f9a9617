"""One env's concrete template, as render writes it, for the loaded config or a variant of one env.

`template(project, env, stack, **changes)` builds `stack` for `env` with `changes` applied to the env
(dataclasses.replace on the loaded Environment) and returns the concrete template as plain data: what
templates/<env>/<stack>.yaml would hold for that config. Tests use it to check an env that has a feature
and one that lacks it without writing config files.
"""
from __future__ import annotations

import dataclasses
import json

from infra.cfn import parameters
from infra.config import names as names_mod
from infra.output import concrete, lambda_package, render
from infra.stacks import BUILDERS


def variant(project, env: str, **changes):
    """The loaded env `env` of `project`, with `changes` (fields of infra.config.model.Environment)."""
    return dataclasses.replace(project.environments[env], **changes)


def names(project, env: str, **changes) -> names_mod.Names:
    return names_mod.Names(project, variant(project, env, **changes))


def template(project, env: str, stack: str, **changes) -> dict:
    """templates/<env>/<stack>.yaml as plain data, for `env` with `changes`."""
    n = names(project, env, **changes)
    values = {**parameters.config_values(n), **lambda_package.parameters(render.LAMBDA_SRC)}
    # Through JSON, as the YAML file reads back: plain dicts, lists, strings and numbers.
    return json.loads(json.dumps(concrete.write_in(BUILDERS[stack](n).to_dict(), values)))


def strings(node) -> list[str]:
    """Every string anywhere in `node` (keys excluded)."""
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return [node] if isinstance(node, str) else []
