"""What the endpoint answered: one probability per row, each a finite number in [0, 1].

The container encodes the model's output by Accept: text/csv as numbers separated by commas or
newlines; application/json as a list of numbers (or of one-number lists), or {"predictions": [...]}
whose items are numbers or {"score": number}.
"""
from __future__ import annotations

import json
import re

MAX_ANSWER_BYTES = 1_000_000


class BadAnswer(ValueError):
    pass


def _number(value, position: int) -> float:
    if isinstance(value, dict) and "score" in value:
        value = value["score"]
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadAnswer(f"value {position + 1} is not a number: {json.dumps(value, default=str)[:60]}")
    try:
        number = float(value)
    except ValueError:
        raise BadAnswer(f"value {position + 1} is not a number: {str(value)[:60]!r}") from None
    if not 0.0 <= number <= 1.0:  # NaN fails every comparison, so it fails here too
        raise BadAnswer(f"value {position + 1} is {str(value)[:60]}, not a probability in [0, 1]")
    return number


def _values(body: bytes, accept: str) -> list:
    text = body.decode("utf-8")
    if accept == "text/csv":
        return [token for token in re.split(r"[,\s]+", text.strip()) if token] if text.strip() else []
    document = json.loads(text)
    if isinstance(document, dict) and isinstance(document.get("predictions"), list):
        document = document["predictions"]
    if not isinstance(document, list):
        raise BadAnswer(f"a JSON answer is a list or {{\"predictions\": [...]}}, not {text[:80]!r}")
    return document


def probabilities(body: bytes, accept: str, expected_rows: int) -> list[float]:
    if len(body) > MAX_ANSWER_BYTES:
        raise BadAnswer(f"answer of {len(body)} bytes for {expected_rows} rows")
    try:
        values = _values(body, accept)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, BadAnswer):
            raise
        raise BadAnswer(f"answer is not {accept}: {type(exc).__name__}: {body[:80]!r}") from None
    if len(values) != expected_rows:
        raise BadAnswer(f"{expected_rows} rows sent, {len(values)} probabilities back")
    return [_number(value, i) for i, value in enumerate(values)]
