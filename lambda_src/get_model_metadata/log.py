"""One JSON line per decision, so CloudWatch Logs Insights can filter on any field."""
from __future__ import annotations

import json
import sys


def log(level: str, decision: str, **fields) -> None:
    record = {"level": level, "decision": decision, **fields}
    sys.stdout.write(json.dumps(record, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
