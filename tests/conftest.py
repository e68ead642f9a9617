"""Shared fixtures: the project's config, fresh renders, the tests' own fixture config, and the network guard.

Tests never reach the network: any connect() to a non-loopback address fails the test.

Tests never depend on config/'s values: an adopter renames the project, adds, drops and renames envs and
changes addresses there (tests/adopter_check.sh). A test about the project's own config derives what it
expects from the loaded config (`project`, `rendered`, `@pytest.mark.every_env`); a test that needs known
names, env names or addresses uses the fixture config (FIXTURE_CONFIG, `fixture_project`, `fixture_rendered`).
docs/testing.md says more.
"""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# No real credentials or regions leak into tests; moto and offline renders need only fakes.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    }
)
os.environ.pop("AWS_PROFILE", None)

from tests.support import botocore_models  # noqa: E402

botocore_models.install()

from hypothesis import settings  # noqa: E402

from infra import config, stacks
from infra.config import names
from infra.output import render  # noqa: E402

# CI runs the same examples every time (a red build must be reproducible); locally, new ones each run.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

_LOOPBACK = ("127.", "::1", "localhost")

# The tests' own config: a project "customer-churn" (short name "churn", SageMaker pipeline
# "churn-model-build") with envs "dev" (notifies on every status) and "prod" (Approved, Rejected).
FIXTURE_CONFIG = ROOT / "tests" / "fixtures" / "config"

# The envs config/ lists (read once at collection; a broken config/ fails here, loudly).
_CONFIGURED = config.load(config.CONFIG_DIR)
CONFIGURED_ENVS: list[str] = list(_CONFIGURED.environments)


def stacks_of(project, env: str) -> list[str]:
    """The stacks the env renders and deploys (an env that serves no models has no deployment or endpoint stacks)."""
    return list(stacks.of_env(project.env(env)))


# The envs that serve models (config `deployment`): they alone have the deployment and endpoint stacks.
SERVING_ENVS: list[str] = [name for name, env in _CONFIGURED.environments.items() if env.deployment is not None]

# (env, stack) for every template config/ renders.
CONFIGURED_STACKS: list[tuple[str, str]] = [(env, stack) for env in CONFIGURED_ENVS for stack in stacks_of(_CONFIGURED, env)]


def pytest_generate_tests(metafunc):
    """`@pytest.mark.every_env`: one run per env of config/; `every_serving_env`: per env that serves models;
    `every_env_stack`: one per template it renders (`env`, `stack`). Never a hard-coded list: an adopter adds, drops
    and renames envs."""
    if metafunc.definition.get_closest_marker("every_env_stack") is not None:
        metafunc.parametrize(("env", "stack"), CONFIGURED_STACKS, ids=[f"{env}-{stack}" for env, stack in CONFIGURED_STACKS])
    elif metafunc.definition.get_closest_marker("every_serving_env") is not None:
        metafunc.parametrize("env", SERVING_ENVS)
    elif metafunc.definition.get_closest_marker("every_env") is not None:
        metafunc.parametrize("env", CONFIGURED_ENVS)


def absent_env(known) -> str:
    """A valid env name that is none of `known`: the example of an unknown env (never one an adopter may add)."""
    for i in range(len(known) + 1):
        candidate = f"absent{i}"
        if candidate not in known:
            return candidate
    raise AssertionError("unreachable")


ABSENT_ENV = absent_env(CONFIGURED_ENVS)


class NetworkBlocked(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail on any connection that leaves the machine."""
    real_connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if sock.family == socket.AF_UNIX or str(host).startswith(_LOOPBACK):
            return real_connect(sock, address)
        raise NetworkBlocked(f"test tried to reach the network: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: (_ for _ in ()).throw(NetworkBlocked(f"test tried to reach the network: {address!r}")))
    yield


@pytest.fixture(scope="session")
def project():
    return config.load(config.CONFIG_DIR)


@pytest.fixture(scope="session")
def env_names(project):
    return list(project.environments)


@pytest.fixture(scope="session")
def rendered(project):
    """relative path -> text of a fresh render of every file under templates/."""
    return render.render(project)


@pytest.fixture(scope="session")
def fixture_project():
    """The fixture config (FIXTURE_CONFIG), loaded: known names for tests that need them."""
    return config.load(FIXTURE_CONFIG)


@pytest.fixture(scope="session")
def fixture_rendered(fixture_project):
    """relative path -> text of a render of the fixture config."""
    return render.render(fixture_project)


def names_for(project, env: str) -> names.Names:
    return names.for_env(project, env)


@pytest.fixture(scope="session")
def definitions(project):
    """env -> the SageMaker pipeline definition pipeline_def renders offline (parsed), once per session."""
    import json

    from pipeline_def import cli

    return {env: json.loads(cli.render(names.for_env(project, env))) for env in project.environments}
