"""What SageMaker requires of an env's `deployment` settings, worked out once for the loader and the templates.

The loader refuses settings SageMaker would refuse at deploy time; the endpoint stacks' parameters take their
derived values (rollout timeout, whether an instance type has local storage) from here.
"""
from __future__ import annotations

import math
import re

from infra.config.model import Deployment

# Deployment guardrails (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html):
# a canary is at most 50% of the new fleet, a linear step 10 to 50%; both are whole instances, so a fleet of
# one instance has no canary or step smaller than all of it.
MIN_INSTANCES_FOR_STEPS = 2
LINEAR_MIN_PERCENT = 10


def step_instances(d: Deployment) -> float:
    """A canary or linear step at min_instances, in instances. The templates give it as CAPACITY_PERCENT of the
    fleet; AWS documents no rounding for that (API reference, CapacitySize and TrafficRoutingConfig: "Batch size for
    the first step to turn on traffic on the new endpoint fleet"), so config takes no step under one instance."""
    return d.traffic_percent * d.min_instances / 100


def smallest_step_percent(rollout_type: str, min_instances: int) -> int:
    """The default traffic_percent: the smallest share that is one whole instance at min_instances (at least 10 for a
    linear step); above 50 (one instance) no canary or step fits, and the loader says so."""
    percent = math.ceil(100 / min_instances)
    return max(percent, LINEAR_MIN_PERCENT) if rollout_type == "linear" else percent

# BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds: 600 to 28800 (botocore's SageMaker model); it must exceed
# the rollout's waits. Provisioning the new fleet comes first: half an hour covers SageMaker's usual 5-15 minutes.
PROVISIONING_ALLOWANCE_SECONDS = 1800
MIN_ROLLOUT_TIMEOUT_SECONDS = 600
MAX_ROLLOUT_TIMEOUT_SECONDS = 28800
# The old fleet stays this long after the new one took all traffic: CloudWatch evaluates a minute's data a minute
# or two after it, so an alarm on the last minute of the final baking period can still roll back to it.
TERMINATION_WAIT_SECONDS = 300


def rollout_steps(d: Deployment) -> int:
    """Baking periods of a rollout: all at once bakes once, a canary twice (canary, then all), linear once per step."""
    if d.rollout_type == "linear":
        return math.ceil(100 / d.traffic_percent)
    return 2 if d.rollout_type == "canary" else 1


def rollout_timeout_seconds(d: Deployment) -> int:
    """Provisioning, every baking period and the termination wait; SageMaker's minimum when that is less."""
    return max(MIN_ROLLOUT_TIMEOUT_SECONDS,
               PROVISIONING_ALLOWANCE_SECONDS + rollout_steps(d) * d.wait_seconds + TERMINATION_WAIT_SECONDS)


STAGING_INSTANCES = 1


def instances_needed(d: Deployment) -> dict:
    """What config says of the instances a rollout adds, for the quota check before staging (the Resolve function's
    INSTANCES_NEEDED): production's instance type, min_instances (the new fleet's count unless the rollout retains an
    autoscaled one) and max_instances, and staging's instances. The rest are live: the fleet production runs now
    (lambda_src/shared/capacity.py `peak`)."""
    return {"InstanceType": d.instance_type, "MinInstances": d.min_instances, "MaxInstances": d.max_instances,
            "Staging": {d.staging_instance_type: STAGING_INSTANCES}}


def worst_case(d: Deployment) -> dict[str, int]:
    """The most a rollout can need when runs overlap: production autoscaled to max_instances, the new fleet
    retaining that count, and a later run's staging endpoint beside them."""
    most = {d.instance_type: 2 * d.max_instances}
    most[d.staging_instance_type] = most.get(d.staging_instance_type, 0) + STAGING_INSTANCES
    return dict(sorted(most.items()))


# Instance families with NVMe instance storage. SageMaker encrypts that storage with a hardware key on the
# instance; the KmsKeyId of an endpoint config does not apply to it, and older SageMaker releases refused the
# call outright ("If you specify a value for KmsKeyId when using any nitro-based instances with local storage,
# the call to CreateEndpointConfig fails"). So the templates give a KmsKeyId only to instance types without it.
# EC2 names them with a "d" after the generation (m5d, c6id, g4dn, p4d, ...); these have it without the letter:
_INSTANCE_STORAGE_FAMILIES = frozenset({"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"})
_D_FAMILY = re.compile(r"^[a-z]+\d+[a-z-]*d[a-z]*$")


def has_instance_storage(instance_type: str) -> bool:
    """Whether an ml.<family>.<size> instance type has local NVMe storage (where KmsKeyId encrypts nothing)."""
    family = instance_type.split(".")[1]
    return family in _INSTANCE_STORAGE_FAMILIES or bool(_D_FAMILY.match(family))
