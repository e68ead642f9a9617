"""Whatever changes an endpoint and whatever tests it run in one stage of the model-deployment pipeline.

The pipeline runs in SUPERSEDED mode: CodePipeline locks a stage to one run, and a newer run waits at the stage's
entrance until the older one leaves it. Two runs can be in two different stages at once, though. So if staging were
deployed in one stage and smoke-tested in the next, a newer run could redeploy (or delete) staging while an older run's
smoke test was still sending it requests, and the older run would pass or fail on the wrong version. The check: for
each endpoint, the stages whose actions deploy or delete its stack, or name it in their UserParameters, are a single
stage. It runs on every env of the config under test and on the fixture config with every deployment switch.
"""
from __future__ import annotations

import json

import pytest

from infra.config import names
from tests.support.deployment_stages import branches as _branches, deployment_stages as _stages, fixture_serving as _fixture_serving

ENDPOINTS = {"staging-endpoint": "staging_endpoint", "production-endpoint": "production_endpoint"}


def stages_touching(stages: list, n: names.Names) -> dict[str, set[str]]:
    """Endpoint name -> the stages whose actions change its stack or call it."""
    stacks = {n.stack(key): getattr(n, attribute) for key, attribute in ENDPOINTS.items()}
    touching: dict[str, set[str]] = {endpoint: set() for endpoint in stacks.values()}
    for stage in (s for item in stages for s in _branches(item)):
        for action in (a for item in stage["Actions"] for a in _branches(item)):
            configuration = action["Configuration"]
            endpoint = stacks.get(configuration.get("StackName"))
            if endpoint is None and configuration.get("UserParameters", "").startswith("{"):
                endpoint = json.loads(configuration["UserParameters"]).get("EndpointName")
            if endpoint in touching:
                touching[endpoint].add(stage["Name"])
    return touching


def problems(stages: list, n: names.Names) -> list[str]:
    return [f"{endpoint} is changed or tested in stages {', '.join(sorted(where))}: a newer run can change it between them"
            for endpoint, where in stages_touching(stages, n).items() if len(where) > 1]


def _serving_envs(project) -> list[str]:
    return [env for env, settings in project.environments.items() if settings.deployment is not None]


def test_every_serving_env_changes_and_tests_each_endpoint_in_one_stage(project, rendered):
    for env in _serving_envs(project):
        n = names.for_env(project, env)
        touching = stages_touching(_stages(rendered, project, env), n)
        assert all(touching.values()), f"{env}: an endpoint no stage touches: {touching}"
        assert not problems(_stages(rendered, project, env), n), env


@pytest.mark.parametrize("settings", [{"keep_staging": False, "approval": True}, {"keep_staging": True, "approval": False}])
def test_every_deployment_switch_keeps_each_endpoint_in_one_stage(tmp_path, settings):
    n, stages = _fixture_serving(tmp_path, settings)
    assert not problems(stages, n)


def test_the_check_catches_a_smoke_test_in_a_stage_after_staging(tmp_path):
    """The layout before: Staging deployed the stack, SmokeTest called it, CleanUpStaging deleted it."""
    n, stages = _fixture_serving(tmp_path, {})
    (staging,) = [s for item in stages for s in _branches(item) if s["Name"] == "Staging"]
    actions = [a for item in staging["Actions"] for a in _branches(item)]
    split = [s for item in stages for s in _branches(item) if s["Name"] != "Staging"] + [
        {"Name": "Staging", "Actions": [actions[0]]}, {"Name": "SmokeTest", "Actions": actions[1:]}]
    assert problems(split, n) == [f"{n.staging_endpoint} is changed or tested in stages SmokeTest, Staging: a newer run can "
                                  "change it between them"]
