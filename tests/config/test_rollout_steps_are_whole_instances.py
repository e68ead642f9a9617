"""A canary or linear step the config accepts is at least one whole instance of production's smallest fleet.

The endpoint stack gives the step as CAPACITY_PERCENT of the fleet, and AWS documents no rounding for it (the
SageMaker API reference's CapacitySize and TrafficRoutingConfig say only "batch size ... to turn on traffic on the
new endpoint fleet"). So a step that is a fraction of an instance at min_instances (the default 10% canary on two
instances was 0.2 of one) might round to no instance: the canary would then bake on nothing. The check walks every
rollout the schema allows and asks the loader: a step it accepts is one instance or more; one it refuses is refused
in one line naming deployment.rollout.traffic_percent (or the key at fault before it).
"""
from __future__ import annotations

import itertools

import pytest

from infra.config import serving
from infra.config.loader import deployment_settings
from infra.config.model import ConfigError
from infra.config.schema import DEPLOYMENT, ROLLOUT_TYPES

PERCENTS = range(DEPLOYMENT["properties"]["rollout"]["properties"]["traffic_percent"]["minimum"],
                 DEPLOYMENT["properties"]["rollout"]["properties"]["traffic_percent"]["maximum"] + 1)
INSTANCES = range(DEPLOYMENT["properties"]["min_instances"]["minimum"], DEPLOYMENT["properties"]["min_instances"]["maximum"] + 1)
STEPPED = [t for t in ROLLOUT_TYPES if t != "all_at_once"]


def _settings(rollout: dict, min_instances: int):
    return deployment_settings("dev.yaml", {"min_instances": min_instances, "max_instances": min_instances,
                                            "rollout": {**rollout, "wait_seconds": 0}})


def test_every_accepted_step_is_at_least_one_instance_at_min_instances():
    accepted = 0
    for rollout_type, percent, instances in itertools.product(STEPPED, PERCENTS, INSTANCES):
        try:
            settings = _settings({"type": rollout_type, "traffic_percent": percent}, instances)
        except ConfigError as error:
            assert error.key in ("deployment.rollout.traffic_percent", "deployment.min_instances"), str(error)
            assert "\n" not in str(error)
            continue
        accepted += 1
        assert percent * instances / 100 >= 1, f"{rollout_type} {percent}% of {instances} accepted: under one instance"
        assert serving.step_instances(settings) >= 1
    assert accepted, "no stepped rollout accepted at all"


@pytest.mark.parametrize("rollout_type, instances", itertools.product(STEPPED, INSTANCES))
def test_the_default_step_is_accepted_wherever_a_step_fits(rollout_type, instances):
    try:
        settings = _settings({"type": rollout_type}, instances)
    except ConfigError as error:
        assert instances < serving.MIN_INSTANCES_FOR_STEPS, str(error)  # one instance: no step fits, said in one line
        return
    assert serving.step_instances(settings) >= 1
    smaller = settings.traffic_percent - 1
    assert smaller * instances / 100 < 1 or (rollout_type == "linear" and smaller < serving.LINEAR_MIN_PERCENT), \
        "the default is the smallest whole-instance step"


def test_the_refusal_names_the_key_and_the_smallest_step_that_fits():
    with pytest.raises(ConfigError) as error:
        _settings({"type": "canary", "traffic_percent": 10}, 2)
    assert str(error.value) == ("dev.yaml: deployment.rollout.traffic_percent: 10% of min_instances 2 is 0.2 of an instance; "
                                "a canary step must be at least one whole instance: use at least 50 (or raise min_instances)")
