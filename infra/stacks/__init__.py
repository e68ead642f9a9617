"""The stacks this project renders, in deployment order."""
from __future__ import annotations

from typing import Callable

from troposphere import Template

from infra.config.names import SERVING_STACKS, deploys
from infra.stacks import (boundaries, deploy_roles, deployment, iam, kpi, messaging, notifications, pipeline,
                          production_endpoint, serving_iam, staging_endpoint)

# stack key -> build(names of one env) -> Template, in deployment order (infra.config.names.STACKS).
BUILDERS: dict[str, Callable[..., Template]] = {
    "deploy-roles": deploy_roles.build,
    "boundaries": boundaries.build,
    "iam": iam.build,
    "serving-iam": serving_iam.build,
    "messaging": messaging.build,
    "pipeline": pipeline.build,
    "notifications": notifications.build,
    "kpi": kpi.build,
    "deployment": deployment.build,
    "staging-endpoint": staging_endpoint.build,
    "production-endpoint": production_endpoint.build,
}

__all__ = ["BUILDERS", "SERVING_STACKS", "of_env"]


def of_env(env) -> dict[str, Callable[..., Template]]:
    """The stacks the env deploys, in deployment order."""
    return {stack: build for stack, build in BUILDERS.items() if deploys(env, stack)}
