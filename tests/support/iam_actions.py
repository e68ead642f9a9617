"""IAM's action data, as the Service Authorization Reference gives it: the table cfn-lint ships, read offline."""
from __future__ import annotations

import json
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
