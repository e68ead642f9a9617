"""IAM's action data, as the Service Authorization Reference gives it: the table cfn-lint ships, read offline."""
from __future__ import annotations

import json
import re
from pathlib import Path

import cfnlint

_DATA = json.loads((Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json").read_text())


def resource_types(action: str) -> list[str] | None:
    """Resource types the action can be scoped to ([] when none), None when the action is unknown."""
    service, name = action.split(":", 1)
    actions = {k.lower(): v for k, v in _DATA.get(service, {}).get("Actions", {}).items()}
    if name.lower() not in actions:
        return None
    return actions[name.lower()].get("Resources") or []


def _arn_regex(arn_format: str) -> re.Pattern:
    """An ARN format of the table as a regex: partition, region and account are one ARN field each."""
    text = re.sub(r"\$\{(Partition|Region|Account)\}", "[^:]*", arn_format)
    return re.compile(re.sub(r"\$\{[^}]+\}", ".*", text) + "$")


def may_name(action: str, resource: str) -> bool:
    """Whether `resource` (an ARN, "*" in it standing for any text) can be a resource `action` is authorised on: True
    for "*", for an action with no resource type or not in the table (unknown: assume it can)."""
    types = resource_types(action)
    if resource == "*" or not types:
        return True
    service = action.split(":", 1)[0]
    formats = [f for t in types for f in _DATA[service].get("Resources", {}).get(t, {}).get("ARNFormats", [])]
    probe = resource.replace("*", "x")
    return not formats or any(_arn_regex(f).match(probe) for f in formats)
