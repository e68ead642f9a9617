"""What every IAM check reads: each env's concrete templates, of config/ and of the variants that turn each optional
feature on and off (tests/support/concrete_envs.py), so a check covers configs beyond the sample."""
from __future__ import annotations

import pytest

from tests.support.concrete_envs import EnvRender, env_renders


@pytest.fixture(scope="session")
def envs(project, rendered) -> list[EnvRender]:
    return env_renders(project, rendered)
