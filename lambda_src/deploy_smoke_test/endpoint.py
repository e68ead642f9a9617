"""The endpoint is InService and every production variant serves the resolved model package version.

DescribeEndpoint -> its endpoint config -> each variant's model -> the model's container(s)'
ModelPackageName. So a smoke test can never pass on an endpoint still serving another version.
"""
from __future__ import annotations

from shared import clients
from shared.pipeline_job import Failed


def _packages(model: dict) -> list[str]:
    containers = [model.get("PrimaryContainer") or {}] + list(model.get("Containers") or [])
    return [c["ModelPackageName"] for c in containers if c.get("ModelPackageName")]


def check(endpoint_name: str, package_arn: str) -> list[str]:
    """The variant names serving `package_arn`; a Failed naming what the endpoint serves instead."""
    sagemaker = clients.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    status = endpoint.get("EndpointStatus")
    if status != "InService":
        reason = f" ({endpoint['FailureReason'][:300]})" if endpoint.get("FailureReason") else ""
        raise Failed("endpoint_not_in_service", f"endpoint {endpoint_name} is {status}, not InService{reason}")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variants = config.get("ProductionVariants") or []
    if not variants:
        raise Failed("wrong_model", f"endpoint {endpoint_name} (config {config.get('EndpointConfigName')}) has no production variant")
    for variant in variants:
        model = sagemaker.describe_model(ModelName=variant["ModelName"])
        served = _packages(model)
        if served != [package_arn]:
            what = ", ".join(served) if served else "a model not created from a model package"
            raise Failed("wrong_model", f"endpoint {endpoint_name} variant {variant.get('VariantName')} serves {what} "
                                        f"(model {variant['ModelName']}); expected {package_arn}")
    return [v.get("VariantName", "") for v in variants]
