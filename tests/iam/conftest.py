"""What every IAM check reads: each env's concrete templates, of config/ and of the variants that turn each optional
feature on and off (tests/support/concrete_envs.py), so a check covers configs beyond the sample."""
from __future__ import annotations

import pytest

from infra.cfn import parameters
from infra.stacks import BUILDERS
from tests.support.concrete_envs import EnvRender, env_renders
from tests.support.resolve import resolve_all


@pytest.fixture(scope="session")
def envs(project, rendered) -> list[EnvRender]:
    return env_renders(project, rendered)


@pytest.fixture(scope="session")
def stacks_by_env(envs) -> dict[str, dict]:
    """env label -> every stack of that env, evaluated (tests.support.resolve), each knowing the env's config values.
    Shared: a test that changes one works on a copy (copy.deepcopy)."""
    out = {}
    for env in envs:
        stacks = resolve_all(env.rendered, env.project, env.env, list(BUILDERS))
        values = parameters.config_values(env.names)
        for stack in stacks.values():
            stack.config_values = values
        out[env.label] = stacks
    return out
