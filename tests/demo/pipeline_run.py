"""Stand in for one pipeline execution: moto stores the pipeline but runs no step.

The demo does what the execution's last steps would leave behind: the evaluation report at the
URI the definition computes, and a model version registered with the arguments of the definition's
RegisterModel step (its `Get`/`Std:Join` expressions evaluated for this execution).
"""
from __future__ import annotations


class Unsupported(ValueError):
    """The definition uses an expression this stand-in cannot evaluate."""


def steps(definition: dict):
    """Every step, including those nested in condition branches."""
    stack = list(definition.get("Steps", []))
    while stack:
        step = stack.pop(0)
        yield step
        args = step.get("Arguments", {})
        stack += args.get("IfSteps", []) + args.get("ElseSteps", [])


def output_key(step: dict) -> str | None:
    """The KMS key a processing or training step names for its outputs (None: it names none)."""
    args = step["Arguments"]
    config = args["ProcessingOutputConfig"] if step["Type"] == "Processing" else args["OutputDataConfig"]
    return config.get("KmsKeyId")


def register_step(definition: dict) -> dict:
    found = [s for s in steps(definition) if s.get("Type") == "RegisterModel"]
    if len(found) != 1:
        raise Unsupported(f"expected one RegisterModel step, found {len(found)}")
    return found[0]


def evaluate(node, values: dict[str, object]):
    """Replace {"Get": path} by values[path] and {"Std:Join": …} by the joined text."""
    if isinstance(node, list):
        return [evaluate(n, values) for n in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Get"}:
        if node["Get"] not in values:
            raise Unsupported(f"no stand-in value for {node['Get']}")
        return values[node["Get"]]
    if set(node) == {"Std:Join"}:
        join = node["Std:Join"]
        return join["On"].join(str(evaluate(v, values)) for v in join["Values"])
    return {k: evaluate(v, values) for k, v in node.items()}


def parameter_defaults(definition: dict) -> dict[str, object]:
    return {f"Parameters.{p['Name']}": p.get("DefaultValue") for p in definition.get("Parameters", [])}


def create_model_package_kwargs(register_arguments: dict, execution_arn: str) -> dict:
    """CreateModelPackage arguments from an evaluated RegisterModel step (empty sections dropped)."""
    kwargs = {k: v for k, v in register_arguments.items() if k != "SkipModelValidation"}
    metrics = {k: v for k, v in kwargs.get("ModelMetrics", {}).items() if v}
    kwargs["ModelMetrics"] = metrics
    kwargs["MetadataProperties"] = {"GeneratedBy": execution_arn}
    for container in kwargs.get("InferenceSpecification", {}).get("Containers", []):
        if not container.get("Environment"):
            container.pop("Environment", None)
    return kwargs
