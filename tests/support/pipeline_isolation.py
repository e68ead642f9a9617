"""Which steps of a SageMaker pipeline definition would run a container with a network (issue 25, P4)."""
from __future__ import annotations

from tests.demo.pipeline_run import steps as _steps  # every step, condition branches included

# Steps that start no container: the service itself evaluates them.
NO_CONTAINER = frozenset({"Condition", "Fail", "RegisterModel"})


def _isolated(step: dict) -> bool:
    args = step.get("Arguments", {})
    if step["Type"] == "Processing":
        return args.get("NetworkConfig", {}).get("EnableNetworkIsolation") is True
    if step["Type"] == "Training":
        return args.get("EnableNetworkIsolation") is True
    return False


def isolation_problems(definition: dict) -> list[str]:
    """One line per step that runs a container without network isolation, or whose kind this check does not know."""
    out = []
    for step in _steps(definition):
        if step["Type"] in NO_CONTAINER:
            continue
        if step["Type"] not in ("Processing", "Training"):
            out.append(f"{step['Name']}: a {step['Type']} step; this check knows no way to hold it to isolation")
        elif not _isolated(step):
            out.append(f"{step['Name']}: a {step['Type']} job without network isolation")
    return out
