"""Read rendered templates back as plain data (long-form intrinsics) and walk their policies."""
from __future__ import annotations

import functools
import json
from typing import Iterator

import yaml
from cfn_flip import to_json

POLICY_PROPERTIES = {
    "AWS::IAM::Role": ["AssumeRolePolicyDocument", "Policies[].PolicyDocument"],
    "AWS::IAM::Policy": ["PolicyDocument"],
    "AWS::IAM::ManagedPolicy": ["PolicyDocument"],
    "AWS::KMS::Key": ["KeyPolicy"],
    "AWS::S3::BucketPolicy": ["PolicyDocument"],
    "AWS::SNS::TopicPolicy": ["PolicyDocument"],
    "AWS::SQS::QueuePolicy": ["PolicyDocument"],
    "AWS::SageMaker::ModelPackageGroup": ["ModelPackageGroupPolicy"],
}


def load(text: str) -> dict:
    """The template as plain data, a fresh copy on every call; each text is parsed once per process."""
    return json.loads(_as_json(text))


@functools.lru_cache(maxsize=None)
def _as_json(text: str) -> str:
    # Rendered templates are long-form YAML, which libyaml's safe loader reads 5x faster than cfn_flip; the short form
    # (`!Ref`) that some tests write by hand needs cfn_flip's tags.
    try:
        return json.dumps(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except yaml.constructor.ConstructorError:
        return to_json(text)


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def policies(template: dict) -> Iterator[tuple[str, str, str, dict]]:
    """(logical id, resource type, property, policy document) for every policy in the template."""
    for logical_id, resource in sorted(template.get("Resources", {}).items()):
        rtype = resource["Type"]
        props = resource.get("Properties", {})
        for prop in POLICY_PROPERTIES.get(rtype, []):
            if prop.endswith("[].PolicyDocument"):
                for inline in props.get(prop.split("[]")[0], []):
                    yield logical_id, rtype, f"{prop.split('[]')[0]}/{inline.get('PolicyName')}", inline["PolicyDocument"]
            elif prop in props:
                yield logical_id, rtype, prop, props[prop]


def statements(document: dict) -> list[dict]:
    """Every statement, both branches of an Fn::If included (a statement only some configs have)."""
    out = []
    for st in as_list(document.get("Statement", [])):
        branches = st["Fn::If"][1:] if isinstance(st, dict) and set(st) == {"Fn::If"} else [st]
        out += [b for b in branches if b != {"Ref": "AWS::NoValue"}]
    return out


def text_of(value) -> str:
    """A resource/ARN value as text: a plain string, or the string inside Fn::Sub."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return json.dumps(value, sort_keys=True)


def role_statements(template: dict, role: str) -> list[dict]:
    """Every statement a role holds in the template: its inline policies, and the AWS::IAM::Policy and
    customer managed AWS::IAM::ManagedPolicy resources attached to it (Roles: [Ref role])."""
    resources = template["Resources"]
    out = [st for p in resources[role]["Properties"].get("Policies", []) for st in statements(p["PolicyDocument"])]
    for res in resources.values():
        if res.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": role} in res.get("Properties", {}).get("Roles", []):
            out += statements(res["Properties"]["PolicyDocument"])
    return out


def strings(node) -> Iterator[str]:
    """Every string in a nested template fragment (dict values and list items, depth first)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
