"""One JSON object per log line, so CloudWatch Logs Insights can filter on fields."""
from __future__ import annotations

import json
import sys
from typing import Any


def log(level: str, message: str, **fields: Any) -> None:
    record = {"level": level, "message": message, **fields}
    print(json.dumps(record, sort_keys=True, default=str), file=sys.stdout, flush=True)
