"""CloudWatch Logs' JSON metric filter `{ $.field = "value" }`, as far as the templates use it: does a log line of a
function count?"""
from __future__ import annotations

import json
import re


def matches(pattern: str, line: str) -> bool:
    field, value = re.fullmatch(r'\{ \$\.(\w+) = "([^"]*)" \}', pattern).groups()
    try:
        return json.loads(line).get(field) == value
    except ValueError:
        return False
