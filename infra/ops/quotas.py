"""The env's endpoint-instance quotas against a rollout's peak now (from the live production endpoint when it
exists), for `make status` and `make deploy`: the same computation and wording as the deployment pipeline's Resolve
action (lambda_src/shared/capacity.py), with the caller's credentials."""
from __future__ import annotations

from infra.config import serving
from infra.config.names import Names
from lambda_src.shared import capacity


def _read(servicequotas, sagemaker, n: Names):
    needed = capacity.peak(sagemaker, serving.instances_needed(n.env.deployment), n.production_endpoint)
    used = capacity.in_use(sagemaker, needed, {n.production_endpoint, n.staging_endpoint})
    return needed, capacity.quotas(servicequotas, needed), used


def shortfalls(servicequotas, sagemaker, n: Names) -> list[str]:
    """One line per instance type whose quota cannot hold a rollout's peak; none where the env serves nothing."""
    if n.env.deployment is None:
        return []
    return capacity.shortfalls(*_read(servicequotas, sagemaker, n), n.env.region)


def lines(servicequotas, sagemaker, n: Names) -> list[str]:
    """One line per instance type: its shortfall, or that its quota holds a rollout's peak."""
    if n.env.deployment is None:
        return []
    needed, quota, used = _read(servicequotas, sagemaker, n)
    out = []
    for instance_type, count in sorted(needed.items()):
        short = capacity.shortfalls({instance_type: count}, quota, used, n.env.region)
        beside = f" beside {used[instance_type]} in use by other endpoints" if used.get(instance_type) else ""
        out += short or [f"quota '{capacity.quota_name(instance_type)}' is {quota[instance_type]:g}: holds a rollout's "
                         f"peak of {count} now{beside}"]
    return out
