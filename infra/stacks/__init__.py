"""The stacks this project renders, in deployment order."""
from __future__ import annotations

from typing import Callable

from troposphere import Template

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

# What only an env that serves models (config `deployment`) deploys: the serving roles (administrator-only), the
# deployment pipeline's stack and the endpoint stacks it deploys. Elsewhere no role may deploy serving, so an env
# starts serving only after an administrator's `make deploy` (docs/operations.md).
SERVING_STACKS = ("serving-iam", "deployment", "staging-endpoint", "production-endpoint")


def of_env(env) -> dict[str, Callable[..., Template]]:
    """The stacks the env deploys, in deployment order."""
    return {stack: build for stack, build in BUILDERS.items() if env.deployment is not None or stack not in SERVING_STACKS}
