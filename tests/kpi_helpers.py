"""Reading the rendered KPI template the way CloudFormation would, for one environment's parameters."""
from __future__ import annotations

import json
import re

from cfnlint.decode import cfn_yaml

PSEUDO = {"AWS::Region": "eu-west-1", "AWS::AccountId": "111111111111", "AWS::Partition": "aws", "AWS::NoValue": None}
_VAR = re.compile(r"\$\{([A-Za-z0-9:]+)\}")


def template(rendered: dict) -> dict:
    return cfn_yaml.loads(rendered["kpi.yaml"])


def env_parameters(rendered: dict, env: str, tmpl: dict) -> dict:
    """TemplateConfiguration values, typed as CloudFormation types them (lists for CommaDelimitedList)."""
    values = json.loads(rendered[f"{env}/kpi.json"])["Parameters"]
    out = {}
    for key, value in values.items():
        kind = tmpl["Parameters"][key]["Type"]
        out[key] = value.split(",") if kind == "CommaDelimitedList" else value
    return out


def substitute(text: str, variables: dict) -> str:
    def one(match):
        name = match.group(1)
        if name not in variables:
            raise AssertionError(f"Sub variable ${{{name}}} has no value")
        return str(variables[name])

    return _VAR.sub(one, text)


def evaluate(node, params: dict, conditions: dict | None = None):
    """A small intrinsic-function evaluator: enough for our conditions, Subs, Selects and Ifs."""
    ev = lambda n: evaluate(n, params, conditions)  # noqa: E731
    if isinstance(node, list):
        return [v for v in (ev(n) for n in node) if v is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (fn, arg), = node.items()
        if fn == "Ref":
            if arg == "AWS::NoValue":
                return _NO_VALUE
            if arg in params:
                return params[arg]
            return PSEUDO[arg] if arg in PSEUDO else node  # a resource: keep the Ref
        if fn == "Fn::Join":
            return arg[0].join(ev(arg[1]))
        if fn == "Fn::Split":
            return ev(arg[1]).split(arg[0])
        if fn == "Fn::Select":
            return ev(arg[1])[int(arg[0])]
        if fn == "Fn::Equals":
            return ev(arg[0]) == ev(arg[1])
        if fn == "Fn::Not":
            return not ev(arg[0])
        if fn == "Fn::If":
            return ev(arg[1]) if evaluate_condition(arg[0], params, conditions) else ev(arg[2])
        if fn == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], {k: ev(v) for k, v in arg[1].items()})
            return substitute(text, {**PSEUDO, **params, **extra})
        if fn == "Fn::ImportValue":
            return f"<import {ev(arg)}>"
    return {k: v for k, v in ((k, ev(v)) for k, v in node.items()) if v is not _NO_VALUE}


def evaluate_condition(name: str, params: dict, conditions: dict) -> bool:
    return bool(evaluate(conditions[name], params, conditions))


class _NoValue:
    pass


_NO_VALUE = _NoValue()
