"""Production's target tracking on invocations per instance, applied by the rollout once the endpoint serves.

The endpoint is not CloudFormation's (rollout.py), so neither is its scalable target: on the first deployment there
is no endpoint to register yet. RegisterScalableTarget and PutScalingPolicy update what exists, so applying after
every rollout is idempotent. SageMaker refuses to change the instance type of an autoscaled variant
(https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html): the rollout releases the target
first, and applies it again after.
"""
from __future__ import annotations

from shared import clients

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
VARIANT = "AllTraffic"  # infra/parts/endpoint.py VARIANT
SCALE_OUT_COOLDOWN_SECONDS = 60  # add instances soon after load rises
SCALE_IN_COOLDOWN_SECONDS = 300  # remove them only when it has stayed down a while


def resource_id(endpoint: str) -> str:
    return f"endpoint/{endpoint}/variant/{VARIANT}"


def registered(endpoint: str) -> bool:
    targets = clients.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=[resource_id(endpoint)], ScalableDimension=DIMENSION)
    return bool(targets.get("ScalableTargets"))


def release(endpoint: str) -> None:
    """Deregister the variant's scalable target (its policies and their alarms go with it), if any."""
    if registered(endpoint):
        clients.client("application-autoscaling").deregister_scalable_target(
            ServiceNamespace=NAMESPACE, ResourceId=resource_id(endpoint), ScalableDimension=DIMENSION)


def apply(endpoint: str, minimum: int, maximum: int, target: float, policy_name: str) -> None:
    """Scale between minimum and maximum on invocations per instance; a fleet whose size cannot change has none."""
    if minimum == maximum:
        release(endpoint)
        return
    scaling = clients.client("application-autoscaling")
    scaling.register_scalable_target(ServiceNamespace=NAMESPACE, ResourceId=resource_id(endpoint),
                                     ScalableDimension=DIMENSION, MinCapacity=minimum, MaxCapacity=maximum)
    scaling.put_scaling_policy(
        PolicyName=policy_name, ServiceNamespace=NAMESPACE, ResourceId=resource_id(endpoint), ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": target,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleOutCooldown": SCALE_OUT_COOLDOWN_SECONDS, "ScaleInCooldown": SCALE_IN_COOLDOWN_SECONDS})
