"""Whether the account's endpoint-instance quotas leave room for this env's deployments.

SageMaker limits the instances of each type that endpoints of an account may run in a region, one quota per
instance type, named "<instance type> for endpoint usage" in Service Quotas (service code "sagemaker"; the quota
codes differ per type, so the quota is found by name). A blue/green rollout runs the old and the new production
fleet at once, so a quota that holds production alone fails the rollout, only once SageMaker provisions the new
fleet. The generator works out what an env needs (infra/config/serving.py `instances_needed`); this module reads
the quota and what the account's other endpoints run, with the caller's clients, and words the shortfall.

Service Quotas lists only the quotas an account has had applied (ListServiceQuotas); the rest have their AWS
default (ListAWSDefaultServiceQuotas). Pure functions of boto3 clients: the Resolve function and `make
status`/`make deploy` share them.
"""
from __future__ import annotations

SERVICE_CODE = "sagemaker"


def quota_name(instance_type: str) -> str:
    return f"{instance_type} for endpoint usage"


def quotas(servicequotas, instance_types) -> dict[str, float | None]:
    """Instance type -> its endpoint-usage quota (the applied value, else AWS's default); None when neither lists it."""
    wanted = {quota_name(t): t for t in instance_types}
    found: dict[str, float | None] = {}
    for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
        for page in servicequotas.get_paginator(operation).paginate(ServiceCode=SERVICE_CODE):
            for quota in page.get("Quotas") or []:
                instance_type = wanted.get(quota.get("QuotaName"))
                if instance_type is not None and instance_type not in found:
                    found[instance_type] = float(quota["Value"])
        if len(found) == len(wanted):
            break
    return {t: found.get(t) for t in instance_types}


def in_use(sagemaker, instance_types, exclude) -> dict[str, int]:
    """Instances of each of `instance_types` the account's endpoints in this region run now (both fleets of a rollout
    in progress), except the endpoints named in `exclude` (this env's own, whose need is counted in full)."""
    counts = {t: 0 for t in instance_types}
    for page in sagemaker.get_paginator("list_endpoints").paginate():
        for summary in page.get("Endpoints") or []:
            if summary["EndpointName"] in exclude:
                continue
            endpoint = sagemaker.describe_endpoint(EndpointName=summary["EndpointName"])
            config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
            types = {v["VariantName"]: v.get("InstanceType") for v in config.get("ProductionVariants") or []}
            for variant in endpoint.get("ProductionVariants") or []:
                instance_type = types.get(variant["VariantName"])
                if instance_type in counts:
                    counts[instance_type] += int(variant.get("CurrentInstanceCount") or 0)
            for variant in (endpoint.get("PendingDeploymentSummary") or {}).get("ProductionVariants") or []:
                if variant.get("InstanceType") in counts:
                    counts[variant["InstanceType"]] += int(variant.get("CurrentInstanceCount") or 0)
    return counts


def shortfalls(needed: dict[str, int], quota: dict[str, float | None], used: dict[str, int], region: str) -> list[str]:
    """One line per instance type whose quota is under what the env needs beside the other endpoints."""
    lines = []
    for instance_type, count in sorted(needed.items()):
        limit, others = quota.get(instance_type), used.get(instance_type, 0)
        if limit is None:
            lines.append(f"Service Quotas lists no quota '{quota_name(instance_type)}' in {region}: SageMaker may not "
                         f"offer {instance_type} for endpoints there; this env needs {count}")
        elif limit < count + others:
            beside = f" beside {others} in use by other endpoints" if others else ""
            lines.append(f"quota '{quota_name(instance_type)}' is {limit:g} in {region}; this env's endpoints need "
                         f"{count} at their peak (a rollout runs both production fleets){beside}: request "
                         f"{count + others} in Service Quotas")
    return lines
