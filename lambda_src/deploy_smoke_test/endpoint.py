"""The endpoint is InService and every production variant serves the resolved model package version
(shared/serving.py). So a smoke test can never pass on an endpoint still serving another version."""
from __future__ import annotations

from shared import serving
from shared.pipeline_job import Failed


def check(endpoint_name: str, package_arn: str) -> list[str]:
    """The variant names serving `package_arn` on an InService endpoint; a Failed naming what it serves instead."""
    served = serving.describe(endpoint_name)
    if served is None:
        raise Failed("endpoint_not_in_service", f"endpoint {endpoint_name} does not exist")
    if served.status != "InService":
        reason = f" ({served.failure_reason[:300]})" if served.failure_reason else ""
        raise Failed("endpoint_not_in_service", f"endpoint {endpoint_name} is {served.status}, not InService{reason}")
    if not served.variants:
        why = served.failure_reason or "has no production variant"
        raise Failed("wrong_model", f"endpoint {endpoint_name} (config {served.config_name}): {why}")
    for variant, packages in served.variants.items():
        if packages != [package_arn]:
            what = ", ".join(packages) if packages else "a model not created from a model package"
            raise Failed("wrong_model", f"endpoint {endpoint_name} variant {variant} serves {what}; expected {package_arn}")
    return list(served.variants)
