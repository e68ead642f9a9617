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


def describe(endpoint_name: str) -> Served | None:
    """What `endpoint_name` serves; None when there is no such endpoint."""
    sagemaker = clients.client("sagemaker")
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except Exception as exc:  # noqa: BLE001 - classified below
        if clients.error_code(exc) == "ValidationException" and "Could not find endpoint" in str(exc):
            return None
        raise
    config_name = endpoint.get("EndpointConfigName", "")
    variants = {}
    if endpoint.get("EndpointStatus") == "InService":
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        for variant in config.get("ProductionVariants") or []:
            variants[variant.get("VariantName", "")] = packages_of(sagemaker.describe_model(ModelName=variant["ModelName"]))
    return Served(endpoint.get("EndpointStatus", ""), endpoint.get("FailureReason", ""), config_name, variants)
