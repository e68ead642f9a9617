"""The action's inputs: UserParameters (the endpoint, the resolved version, what to do) and the latency budget."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from shared.pipeline_job import Failed, Job, one_line, user_parameters_json

MAX_ROLLOUT_SECONDS = 28800 + 3600  # SageMaker's longest rollout, and an hour for the driver to start it
# A versioned model package: arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>
PACKAGE_ARN = re.compile(r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:model-package/[A-Za-z0-9-]{1,63}/[0-9]{1,9}\Z")
ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z")


@dataclass(frozen=True)
class Parameters:
    endpoint_name: str
    package_arn: str
    budget_ms: int
    approved_only: bool = False  # only check the version is still Approved (right before production changes)
    rollout_seconds: int = 0  # send bake traffic while the endpoint's rollout runs, at most this long (bake.py)


def _bad(message: str) -> Failed:
    return Failed("bad_parameters", message, "ConfigurationError")


def read(job: Job) -> Parameters:
    budget = os.environ.get("LATENCY_BUDGET_MS", "")
    if not budget.isdigit() or int(budget) < 1:
        raise _bad(f"the function's LATENCY_BUDGET_MS environment variable must be a positive integer, not {budget[:50]!r}")
    given = user_parameters_json(job)
    endpoint, package = given.get("EndpointName"), given.get("ModelPackageArn")
    if not isinstance(endpoint, str) or not ENDPOINT_NAME.match(endpoint):
        raise _bad(f"UserParameters EndpointName must be an endpoint name, not {one_line(str(endpoint), 200)!r}")
    if not isinstance(package, str) or not PACKAGE_ARN.match(package):
        hint = " (an unresolved pipeline variable: is the Resolve action's namespace right?)" if "#{" in str(package) else ""
        raise _bad(f"UserParameters ModelPackageArn must be a versioned model package ARN, not "
                   f"{one_line(str(package), 300)!r}{hint}")
    approved_only = given.get("StillApprovedOnly", False)
    if not isinstance(approved_only, bool):
        raise _bad(f"UserParameters StillApprovedOnly must be true or false, not {one_line(str(approved_only), 50)!r}")
    bake = given.get("RolloutSeconds", 0)
    if isinstance(bake, bool) or not isinstance(bake, int) or not 0 <= bake <= MAX_ROLLOUT_SECONDS:
        raise _bad(f"UserParameters RolloutSeconds must be a whole number of seconds up to {MAX_ROLLOUT_SECONDS}, not "
                   f"{one_line(str(bake), 50)!r}")
    if approved_only and bake:
        raise _bad("UserParameters may set one of StillApprovedOnly and RolloutSeconds")
    return Parameters(endpoint, package, int(budget), approved_only, bake)
