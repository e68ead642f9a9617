"""What every operator command shares: one-line errors, exit codes, and the AWS session."""
from __future__ import annotations

import sys
from typing import Callable

from infra import config
from infra.config import names as names_mod
from infra.ops.deploy import DeployError, check_account, session


class OpsError(Exception):
    """A problem worded as one line; the command exits 2."""


def env_names(env_name: str) -> tuple[config.Environment, names_mod.Names]:
    project = config.load(config.CONFIG_DIR)
    env = project.env(env_name)
    return env, names_mod.for_env(project, env)


def aws_session(env: config.Environment):
    """Credentials for the env's region and pinned account, or a one-line error before any API call."""
    s = session(env.region)
    check_account(s, env)
    return s


def run(main: Callable[[], int]) -> int:
    """Run a command; every expected failure is one line on stderr (2: usage, config, credentials; 1: AWS)."""
    try:
        return main()
    except (config.ConfigError, DeployError, OpsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - AWS refusals and connection errors, as one line
        if type(exc).__module__.startswith("botocore"):
            print(f"error: AWS: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 1
        raise
