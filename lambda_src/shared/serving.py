"""What an endpoint serves: DescribeEndpoint -> its endpoint config -> each variant's model -> the model package
version(s) its containers were created from. The smoke test checks it; Resolve compares production with it."""
from __future__ import annotations

from dataclasses import dataclass

from . import clients


@dataclass(frozen=True)
class Served:
    status: str  # EndpointStatus
    failure_reason: str
    config_name: str
    variants: dict[str, list[str]]  # variant name -> the distinct model package ARNs its model was made from


def packages_of(model: dict) -> list[str]:
    """The distinct ModelPackageName values of a model's containers (PrimaryContainer and/or Containers)."""
    containers = [model.get("PrimaryContainer") or {}] + list(model.get("Containers") or [])
    return sorted({c["ModelPackageName"] for c in containers if c.get("ModelPackageName")})


def _missing(exc: Exception) -> bool:
    return clients.error_code(exc) == "ValidationException" and "Could not find" in str(exc)


def describe_endpoint(endpoint_name: str) -> dict | None:
    """DescribeEndpoint's answer; None when there is no such endpoint."""
    try:
        return clients.client("sagemaker").describe_endpoint(EndpointName=endpoint_name)
    except Exception as exc:  # noqa: BLE001 - classified below
        if _missing(exc):
            return None
        raise


def describe(endpoint_name: str) -> Served | None:
    """What `endpoint_name` serves; None when there is no such endpoint. While the endpoint is InService or Updating
    (autoscaling), its current config's variants; none when that config or its model no longer exists (then
    `failure_reason` says so)."""
    endpoint = describe_endpoint(endpoint_name)
    if endpoint is None:
        return None
    sagemaker = clients.client("sagemaker")
    config_name, status = endpoint.get("EndpointConfigName", ""), endpoint.get("EndpointStatus", "")
    variants, reason = {}, endpoint.get("FailureReason", "")
    if status in ("InService", "Updating"):
        try:
            config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
            for variant in config.get("ProductionVariants") or []:
                variants[variant.get("VariantName", "")] = packages_of(sagemaker.describe_model(ModelName=variant["ModelName"]))
        except Exception as exc:  # noqa: BLE001 - a config or model deleted under a running endpoint
            if not _missing(exc):
                raise
            variants, reason = {}, f"its endpoint config {config_name} or its model no longer exists"
    return Served(status, reason, config_name, variants)
