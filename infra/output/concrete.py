"""One env's template, concrete: its config values written in where the stacks name them, nothing to evaluate.

The stacks name config values the way CloudFormation reads them, `Ref("ModelPackageGroupName")` or
`Sub("arn:…:${ResourcePrefix}-*")`, so a statement reads as the ARN it grants. For each env this writes the
values in (infra/cfn/parameters.py says which value each name takes), turns a Sub with nothing left to
substitute into a plain string, and drops the parameters so filled: what remains are the parameters decided
at run time (the model package a deployment serves) and CloudFormation's own pseudo parameters.
"""
from __future__ import annotations

import re

_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)\}")  # not ${AWS::Region}, ${Resource.Attribute} or ${!Literal}


def write_in(template: dict, values: dict[str, object]) -> dict:
    """The template with `values` (parameter name -> str, int or list of str) in place of their parameters."""
    if template.get("Conditions"):
        raise ValueError(f"conditions {sorted(template['Conditions'])}: decide them in Python, per env")
    out = {key: _resolve(section, values) for key, section in template.items()}
    parameters = {key: spec for key, spec in template.get("Parameters", {}).items() if key not in values}
    if parameters:
        out["Parameters"] = parameters
    else:
        out.pop("Parameters", None)
    return out


def _resolve(node, values: dict[str, object]):
    if isinstance(node, list):
        return [_resolve(item, values) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in values:
        return values[node["Ref"]]
    if set(node) == {"Fn::Sub"}:
        return _sub(node["Fn::Sub"], values)
    if set(node) == {"Fn::Join"}:
        separator, items = _resolve(node["Fn::Join"], values)
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return separator.join(items)
        return {"Fn::Join": [separator, items]}
    return {key: _resolve(value, values) for key, value in node.items()}


def _sub(arg, values: dict[str, object]):
    text, own = (arg, {}) if isinstance(arg, str) else (arg[0], _resolve(arg[1], values))

    def one(match: re.Match) -> str:
        name = match.group(1)
        value = own.get(name, values.get(name))
        if not isinstance(value, (str, int, list)):  # a pseudo parameter, a resource's attribute
            return match.group(0)
        return ",".join(value) if isinstance(value, list) else str(value)

    text = _VARIABLE.sub(one, text)
    own = {name: value for name, value in own.items() if f"${{{name}}}" in text}
    if "${" not in text:
        return text
    return {"Fn::Sub": [text, own] if own else text}
