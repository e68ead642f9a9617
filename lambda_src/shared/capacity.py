"""Whether the account's endpoint-instance quotas leave room for this env's deployments.

SageMaker limits the instances of each type that endpoints of an account may run in a region, one quota per
instance type, named "<instance type> for endpoint usage" in Service Quotas (service code "sagemaker"; the quota
codes differ per type, so the quota is found by name). A blue/green rollout runs the old and the new production
fleet at once, so a quota that holds production alone fails the rollout, only once SageMaker provisions the new
fleet. `peak` works out this run's rollout from the live endpoint and what config says
(infra/config/serving.py `instances_needed`); this module reads the quota and what the account's other endpoints
run, with the caller's clients, and words the shortfall.

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


def _count(variant: dict) -> int:
    return max(int(variant.get("CurrentInstanceCount") or 0), int(variant.get("DesiredInstanceCount") or 0))


def _fleets(sagemaker, endpoint_name: str) -> tuple[dict[str, int], dict[str, int]]:
    """(serving, new): instances of each type an endpoint runs now, on its current config and in the new fleet of a
    rollout in progress (PendingDeploymentSummary), each variant at the larger of its current and desired count (a
    scaling activity under way); both empty when there is no such endpoint (nor its config: then
    the types are unknown, and a rollout replaces it anyway)."""
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    except Exception as exc:  # noqa: BLE001 - only a missing endpoint or config is an answer
        response = getattr(exc, "response", None) or {}
        if response.get("Error", {}).get("Code") == "ValidationException" and "Could not find" in str(exc):
            return {}, {}
        raise
    types = {v["VariantName"]: v.get("InstanceType") for v in config.get("ProductionVariants") or []}
    serving: dict[str, int] = {}
    for variant in endpoint.get("ProductionVariants") or []:
        instance_type = types.get(variant["VariantName"])
        if instance_type:
            serving[instance_type] = serving.get(instance_type, 0) + _count(variant)
    new: dict[str, int] = {}
    for variant in (endpoint.get("PendingDeploymentSummary") or {}).get("ProductionVariants") or []:
        if variant.get("InstanceType"):
            new[variant["InstanceType"]] = new.get(variant["InstanceType"], 0) + _count(variant)
    return serving, new


def _add(*counts: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for instance_type, n in count.items():
            total[instance_type] = total.get(instance_type, 0) + n
    return {t: n for t, n in sorted(total.items()) if n}


def peak(sagemaker, plan: dict, production: str) -> dict[str, int]:
    """This run's rollout at its peak, per instance type: staging (its config's count: a later run may be in
    Staging meanwhile), production's fleet when this rollout starts, and the new fleet: the instance count
    production runs then when it autoscales on the same type (RetainAllVariantProperties keeps the variant's
    DesiredInstanceCount: "Update endpoints that use auto scaling", SageMaker developer guide), else the config's,
    min_instances (also on a first deployment). A rollout under way ends before this one starts (the Production stage
    holds one run at a time) and leaves one of its two fleets: the larger of each type counts then. But this run's
    staging may come up while that rollout still runs both, so each type needs the more of the two moments.
    `plan`: infra/config/serving.py `instances_needed`."""
    serving, pending = _fleets(sagemaker, production)
    fleet = {t: max(serving.get(t, 0), pending.get(t, 0)) for t in {*serving, *pending}}
    instance_type, minimum = plan["InstanceType"], plan["MinInstances"]
    retained = fleet.get(instance_type, 0) if minimum != plan["MaxInstances"] else 0
    at_rollout, at_staging = _add(fleet, {instance_type: retained or minimum}), _add(serving, pending)
    return _add(plan["Staging"], {t: max(at_rollout.get(t, 0), at_staging.get(t, 0)) for t in {*at_rollout, *at_staging}})


def in_use(sagemaker, instance_types, exclude) -> dict[str, int]:
    """Instances of each of `instance_types` the account's endpoints in this region run now (both fleets of a rollout
    in progress), except the endpoints named in `exclude` (this env's own, counted by `peak`)."""
    counts = {t: 0 for t in instance_types}
    for page in sagemaker.get_paginator("list_endpoints").paginate():
        for summary in page.get("Endpoints") or []:
            if summary["EndpointName"] in exclude:
                continue
            for instance_type, n in _add(*_fleets(sagemaker, summary["EndpointName"])).items():
                if instance_type in counts:
                    counts[instance_type] += n
    return counts


def shortfalls(needed: dict[str, int], quota: dict[str, float | None], used: dict[str, int], region: str) -> list[str]:
    """One line per instance type whose quota is under what the env needs beside the other endpoints."""
    lines = []
    for instance_type, count in sorted(needed.items()):
        limit, others = quota.get(instance_type), used.get(instance_type, 0)
        if limit is None:
            lines.append(f"Service Quotas lists no quota '{quota_name(instance_type)}' in {region}: SageMaker may not "
                         f"offer {instance_type} for endpoints there; a rollout now needs {count}")
        elif limit < count + others:
            beside = f" beside {others} in use by other endpoints" if others else ""
            lines.append(f"quota '{quota_name(instance_type)}' is {limit:g} in {region}; a rollout now needs {count} "
                         f"at its peak (staging, production's fleet and the new one){beside}: request "
                         f"{count + others} in Service Quotas")
    return lines
