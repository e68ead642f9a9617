"""Evaluate a rendered template for one environment, as CloudFormation would, as far as it can offline.

Parameters come from the env's TemplateConfiguration (or the template's defaults), pseudo parameters
from the env's config (a placeholder account), imports from the exports of stacks resolved earlier
(resolve_all), or, for one stack evaluated alone (alone), readable markers like "<import churn-dev-pipeline-X>".
What only exists after a deploy (GetAtt, Ref of a resource) stays a readable marker like
"<GetAtt Topic.Arn>" or "<Ref Topic>".
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from tests.support.cfn import load

from infra.config.names import OFFLINE_ACCOUNT as PLACEHOLDER_ACCOUNT  # the account offline renders use
NO_VALUE = object()


class Unresolved(Exception):
    pass


@dataclass
class Stack:
    """One template, evaluated for one environment."""

    key: str
    name: str
    template: dict
    parameters: dict[str, object]
    pseudo: dict[str, str]
    exports_in: dict[str, object] | None = field(default_factory=dict)  # None: imports stay markers

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_rendered(cls, rendered: dict[str, str], stack: str, env, stack_name: str, exports_in=None,
                      imports_as_markers: bool = False) -> "Stack":
        template = load(rendered[f"{env.name}/{stack}.yaml"])
        config = json.loads(rendered[f"{env.name}/{stack}.json"])
        params = {}
        for key, spec in template.get("Parameters", {}).items():
            raw = config["Parameters"].get(key, spec.get("Default"))
            if raw is None:
                raise Unresolved(f"{env.name}/{stack}.yaml parameter {key} has no value in {env.name}/{stack}.json and no default")
            params[key] = [v.strip() for v in str(raw).split(",")] if spec["Type"] == "CommaDelimitedList" else str(raw)
        pseudo = {
            "AWS::Region": env.region,
            "AWS::AccountId": env.account_id or PLACEHOLDER_ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": stack_name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{env.region}:{env.account_id or PLACEHOLDER_ACCOUNT}:stack/{stack_name}/id",
        }
        return cls(stack, stack_name, template, params, pseudo, None if imports_as_markers else dict(exports_in or {}))

    # -- evaluation ---------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def value(self, node):
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            handler = _FUNCTIONS.get(fn)
            if handler:
                return handler(self, arg)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}

    def ref(self, name: str):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.template.get("Resources", {}):
            return self.physical(name, None)
        raise Unresolved(f"{self.key}.yaml: Ref to unknown {name}")

    def sub(self, arg) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self.value(v) for k, v in arg[1].items()})

        def one(match):
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return str(extra[name])
            if "." in name and name.split(".")[0] in self.template.get("Resources", {}):
                return str(self.physical(*name.split(".", 1)))
            value = self.ref(name)
            return ",".join(value) if isinstance(value, list) else str(value)

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def physical(self, logical_id: str, attribute: str | None):
        """What Ref (attribute None) or GetAtt gives for resources whose name we set ourselves."""
        res = self.template["Resources"][logical_id]
        props = res.get("Properties", {})
        region, account = self.pseudo["AWS::Region"], self.pseudo["AWS::AccountId"]
        named = {
            "AWS::IAM::Role": ("RoleName", lambda n: f"arn:aws:iam::{account}:role{self.value(props.get('Path', '/'))}{n}", "name"),
            "AWS::SNS::Topic": ("TopicName", lambda n: f"arn:aws:sns:{region}:{account}:{n}", "arn"),
            "AWS::SQS::Queue": ("QueueName", lambda n: f"arn:aws:sqs:{region}:{account}:{n}", "url"),
            "AWS::Lambda::Function": ("FunctionName", lambda n: f"arn:aws:lambda:{region}:{account}:function:{n}", "name"),
            "AWS::S3::Bucket": ("BucketName", lambda n: f"arn:aws:s3:::{n}", "name"),
            "AWS::CodeBuild::Project": ("Name", lambda n: f"arn:aws:codebuild:{region}:{account}:project/{n}", "name"),
            "AWS::CloudWatch::Alarm": ("AlarmName", lambda n: f"arn:aws:cloudwatch:{region}:{account}:alarm:{n}", "name"),
        }.get(res["Type"])
        if named and named[0] in props:
            name = self.value(props[named[0]])
            if attribute == "Arn":
                return named[1](name)
            if attribute is None:
                if named[2] == "arn":
                    return named[1](name)
                if named[2] == "url":
                    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"
                return name
        return f"<{'Ref' if attribute is None else 'GetAtt'} {logical_id}{'' if attribute is None else '.' + attribute}>"

    def import_value(self, arg):
        name = self.value(arg)
        if self.exports_in is None:
            return f"<import {name}>"
        if name not in self.exports_in:
            raise Unresolved(f"{self.key}.yaml imports '{name}', which no earlier stack exports")
        return self.exports_in[name]

    def resources(self, rtype: str | None = None) -> dict[str, dict]:
        """Resources (optionally of one type) whose Condition holds, with properties evaluated."""
        out = {}
        for logical_id, res in self.template.get("Resources", {}).items():
            if rtype and res["Type"] != rtype:
                continue
            if "Condition" in res and not self.condition(res["Condition"]):
                continue
            out[logical_id] = {**res, "Properties": self.value(res.get("Properties", {}))}
        return out

    def imports(self) -> list[tuple[str, object]]:
        """(where, export name) for every Fn::ImportValue anywhere in the template, in every Fn::If branch."""
        return [(where, self.value(node["Fn::ImportValue"])) for where, node in walk(self.template)
                if isinstance(node, dict) and "Fn::ImportValue" in node]

    def exports(self) -> dict[str, object]:
        out = {}
        for key, output in self.template.get("Outputs", {}).items():
            if "Condition" in output and not self.condition(output["Condition"]):
                continue
            if "Export" in output:
                out[self.value(output["Export"]["Name"])] = self.value(output["Value"])
        return out


def walk(node, where: str = ""):
    """(path, node) for the node and everything inside it, paths like Resources.Key.Properties.Policy[2]."""
    yield where, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{where}[{i}]")


def _if(stack: Stack, arg):
    name, yes, no = arg
    return stack.value(yes if stack.condition(name) else no)


def _join(stack: Stack, arg):
    sep, items = arg
    values = stack.value(items)
    return sep.join(str(v) for v in values)


def _find_in_map(stack: Stack, arg):
    name, top, second = (stack.value(a) for a in arg)
    try:
        return stack.template["Mappings"][name][top][second]
    except KeyError:
        raise Unresolved(f"{stack.key}.yaml: Fn::FindInMap {name} has no {top}/{second}") from None


def _select(stack: Stack, arg):
    index, items = arg
    return stack.value(items)[int(stack.value(index))]


def _split(stack: Stack, arg):
    sep, text = arg
    return str(stack.value(text)).split(sep)


_FUNCTIONS = {
    "Ref": lambda s, a: s.ref(a),
    "Fn::Sub": lambda s, a: s.sub(a),
    "Fn::If": _if,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::FindInMap": _find_in_map,
    "Fn::Split": _split,
    "Fn::GetAtt": lambda s, a: s.physical(*(a if isinstance(a, list) else a.split(".", 1))),
    "Fn::ImportValue": lambda s, a: s.import_value(a),
    "Fn::Equals": lambda s, a: s.value(a[0]) == s.value(a[1]),
    "Fn::Not": lambda s, a: not s.value(a[0]),
    "Fn::And": lambda s, a: all(s.value(x) for x in a),
    "Fn::Or": lambda s, a: any(s.value(x) for x in a),
    "Condition": lambda s, a: s.condition(a),
    "Fn::GetAZs": lambda s, a: [f"{s.pseudo['AWS::Region']}a"],
}


def resolve_all(rendered: dict[str, str], project, env_name: str, order: list[str]) -> dict[str, Stack]:
    """Evaluate every stack the env renders in deployment order, each seeing the exports of those before it (an env
    that serves no models has no deployment or endpoint stacks)."""
    from infra.config import names as names_mod

    env = project.env(env_name)
    n = names_mod.Names(project, env)
    exports: dict[str, object] = {}
    stacks = {}
    for key in order:
        if f"{env_name}/{key}.yaml" not in rendered:
            continue
        stack = Stack.from_rendered(rendered, key, env, n.stack(key), exports)
        stacks[key] = stack
        exports.update(stack.exports())
    return stacks


def alone(rendered: dict[str, str], project, env_name: str, key: str) -> Stack:
    """One stack evaluated for one env without the stacks before it: its imports read "<import NAME>"."""
    from infra.config import names as names_mod

    env = project.env(env_name)
    return Stack.from_rendered(rendered, key, env, names_mod.Names(project, env).stack(key),
                               imports_as_markers=True)


def allow_statements(stacks: dict[str, Stack]):
    """(where: "stack logical-id Sid", statement) for each Allow statement of every resolved resource's inline
    `Policies` and `PolicyDocument` (roles, policies, boundaries, resource policies)."""
    for key, stack in stacks.items():
        for logical_id, res in stack.resources().items():
            props = res["Properties"]
            documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
            documents += [props["PolicyDocument"]] if "PolicyDocument" in props else []
            for document in documents:
                statements = document.get("Statement", [])
                for st in statements if isinstance(statements, list) else [statements]:
                    if st.get("Effect") == "Allow":
                        yield f"{key} {logical_id} {st.get('Sid')}", st
