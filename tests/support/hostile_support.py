"""Hypothesis strategies for hostile input shared by the hostile-input tests of both Lambda handlers.

Values are what `json.loads` can produce from an event or a report (including NaN/Infinity, which
Python's json accepts), plus the odd Unicode people paste into free-text fields. Lone surrogates are
left to explicit tests: hypothesis' text() never produces them, and valid UTF-8 JSON cannot carry them
except as `\\ud800` escapes.
"""
from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stdout

from botocore.exceptions import ClientError
from hypothesis import strategies as st

MISSING = object()  # "drop this field" marker for event mutations

# Right-to-left override, zero-width space/joiner, BOM, combining marks, astral emoji and math letters,
# C0/C1 controls, a line separator: what breaks subjects, headers and naive truncation.
ODD = "\u202e\u200b\u200d\ufeff\u0301\u0338\U0001F600\U0001D54F\u0000\u0007\u001b\u0085\u2028\t\n\r é中"
odd_text = st.text(alphabet=st.sampled_from(ODD) | st.characters(exclude_categories=("Cs",)), max_size=30)
huge_text = st.builds(lambda chunk, n: (chunk or "x") * n, odd_text, st.integers(1_000, 30_000))
any_text = st.one_of(odd_text, huge_text)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30, max_value=10**300),
    st.floats(allow_nan=True, allow_infinity=True), odd_text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)


def field(*likely):
    """A field value: one of the likely (valid-ish) values, dropped, or anything JSON."""
    return st.one_of(*(st.just(v) for v in likely), st.just(MISSING), json_values, any_text)


def apply(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        if value is MISSING:
            out.pop(key, None)
        else:
            out[key] = value
    return out


versions = st.one_of(
    st.integers(min_value=1, max_value=10_000), st.integers(), st.integers(min_value=10**30, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["7", "-1", "1.5", "1e400", "", " 3 ", "٣", "1_0"]),
    st.just(MISSING), st.booleans(), st.none(),
)
times = st.one_of(
    st.sampled_from(["2026-11-26T10:00:14Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1795687211000",
                     "1e300", "-1e300", "nan", "inf", "", "2026-13-45T99:99:99Z", "2026-11-26", "2026-11-26T10:00:14+14:00"]),
    st.integers(min_value=-10**20, max_value=10**20), st.floats(allow_nan=True, allow_infinity=True), json_values, st.just(MISSING),
)

# Quality reports as stored in S3: valid, wrong shape, NaN, huge numbers, not JSON, deeply nested, big.
_metric_entry = st.one_of(
    st.fixed_dictionaries({"value": st.floats(allow_nan=True, allow_infinity=True) | st.integers() | json_values},
                          optional={"standard_deviation": json_values}),
    json_values,
)
report_docs = st.one_of(
    st.dictionaries(st.sampled_from(["binary_classification_metrics", "regression_metrics", "_metrics", "x_metrics", "other"])
                    | odd_text, st.dictionaries(odd_text, _metric_entry, max_size=6) | json_values, max_size=4),
    json_values,
)
report_bodies = st.one_of(
    report_docs.map(lambda doc: json.dumps(doc).encode()),  # NaN/Infinity come out as Python's json writes them
    st.binary(max_size=200),
    st.sampled_from([b"", b"{not json", b"\xff\xfe\x00", b"[" * 50_000 + b"]" * 50_000, b'{"a_metrics": ' * 5_000 + b"1" + b"}" * 5_000,
                     b'{"binary_classification_metrics": {"auc": {"value": NaN}}}', b"1" * 5_000]),
    st.builds(lambda width, count: json.dumps({"big_metrics": {("n" * width) + str(i): {"value": i} for i in range(count)}}).encode(),
              st.integers(1, 3_000), st.integers(1, 2_000)),
)


def client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "hostile test"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


def run_logged(fn, *args):
    """(result or exception, parsed log lines): every stdout line must be a JSON object."""
    out = io.StringIO()
    with redirect_stdout(out):
        try:
            result = fn(*args)
        except Exception as exc:  # noqa: BLE001 - returned to the property, which decides
            result = exc
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert all(isinstance(line, dict) for line in lines)
    return result, lines


def finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
