"""The request to send, built from the version's own preprocessing contract (docs/model-contract.md).

The model archive (the package's ModelDataUrl, model.tar.gz) holds contract.json:
    {"version": 1, "columns": [{"name": "State", "kind": "categorical", "categories": ["AK", ...]},
                               {"name": "Day Mins", "kind": "numeric", "fill": 179.4}, ...], ...}
The archive is read as a stream and only up to contract.json (the packager writes it before the
model file); archives over MAX_ARCHIVE_BYTES are refused before reading.

Rows sent: a typical row (each numeric column's training median, each categorical column's first
category), a row with a missing number and a category the model never saw (the contract says both
must work), and a row with each categorical column's last category.
"""
from __future__ import annotations

import csv
import io
import json
import math
import tarfile

from shared import clients
from shared.pipeline_job import Failed

FILE_NAME = "contract.json"
VERSION = 1
MAX_ARCHIVE_BYTES = 2 * 1024**3
MAX_CONTRACT_BYTES = 5_000_000
# The packager writes contract.json among the first few members: a hostile archive (a million empty members, a
# gzip bomb ahead of it) is refused here instead of filling the function's memory or running out its time.
MAX_MEMBERS_BEFORE_CONTRACT = 100
MAX_BYTES_BEFORE_CONTRACT = 64 * 1024**2
UNKNOWN_CATEGORY = "smoke-test-unknown-category"


class _Capped(io.RawIOBase):
    """A read-only stream that refuses to deliver more than `limit` bytes."""

    def __init__(self, body, limit: int):
        self._body, self._left = body, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._left <= 0:
            return 0  # the end, whatever the body says: tarfile reports a truncated archive
        data = self._body.read(min(len(buffer), self._left))
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[5:].partition("/") if isinstance(uri, str) and uri.startswith("s3://") else ("", "", "")
    if not bucket or not key:
        raise Failed("bad_contract", f"the model package's ModelDataUrl is not an s3://bucket/key URI: {str(uri)[:300]!r}")
    return bucket, key


def load(model_data_url: str) -> dict:
    bucket, key = split_s3_uri(model_data_url)
    response = clients.client("s3").get_object(Bucket=bucket, Key=key)
    size = int(response.get("ContentLength") or 0)
    if size > MAX_ARCHIVE_BYTES:
        response["Body"].close()
        raise Failed("bad_contract", f"{model_data_url} is {size} bytes; the smoke test reads archives up to {MAX_ARCHIVE_BYTES}")
    try:
        stream = io.BufferedReader(_Capped(response["Body"], size or MAX_ARCHIVE_BYTES), 1024 * 1024)
        with tarfile.open(fileobj=stream, mode="r|gz") as archive:
            skipped_members = skipped_bytes = 0
            for member in archive:
                if member.name.lstrip("./") != FILE_NAME:
                    skipped_members, skipped_bytes = skipped_members + 1, skipped_bytes + max(member.size, 0)
                    if skipped_members > MAX_MEMBERS_BEFORE_CONTRACT or skipped_bytes > MAX_BYTES_BEFORE_CONTRACT:
                        raise ValueError(f"no {FILE_NAME} within the first {MAX_MEMBERS_BEFORE_CONTRACT} members and "
                                         f"{MAX_BYTES_BEFORE_CONTRACT} bytes (this project's packager writes it first)")
                    continue
                if not member.isfile() or member.size > MAX_CONTRACT_BYTES:
                    raise ValueError(f"{FILE_NAME} is not a file of at most {MAX_CONTRACT_BYTES} bytes")
                return validate(json.loads(archive.extractfile(member).read()), model_data_url)
    except (tarfile.TarError, OSError, EOFError, ValueError, RecursionError) as exc:
        raise Failed("bad_contract", f"cannot read {FILE_NAME} from {model_data_url}: {type(exc).__name__}: {str(exc)[:300]}") from None
    finally:
        response["Body"].close()
    raise Failed("bad_contract", f"{model_data_url} holds no {FILE_NAME}: it was not packaged by this project's pipeline")


def validate(contract, where: str) -> dict:
    def bad(what: str) -> Failed:
        return Failed("bad_contract", f"{FILE_NAME} in {where}: {what}")

    if not isinstance(contract, dict) or contract.get("version") != VERSION:
        raise bad(f"not a version-{VERSION} contract")
    columns = contract.get("columns")
    if not isinstance(columns, list) or not columns:
        raise bad("no columns")
    for i, column in enumerate(columns):
        if not isinstance(column, dict) or not isinstance(column.get("name"), str):
            raise bad(f"column {i} has no name")
        kind = column.get("kind")
        if kind == "numeric":
            fill = column.get("fill")
            if isinstance(fill, bool) or not isinstance(fill, (int, float)) or not math.isfinite(fill):
                raise bad(f"numeric column {column['name']!r} has no finite fill value")
        elif kind == "categorical":
            categories = column.get("categories")
            if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
                raise bad(f"categorical column {column['name']!r} has no list of categories")
        else:
            raise bad(f"column {column['name']!r} has kind {str(kind)[:50]!r}")
    return contract


def rows(contract: dict) -> list[dict]:
    """Rows by column name; None is a missing value."""
    columns = contract["columns"]

    def typical(column, pick):
        if column["kind"] == "numeric":
            return column["fill"]
        return pick(column["categories"]) if column["categories"] else None

    first = [{c["name"]: typical(c, lambda cats: cats[0]) for c in columns}]
    last = [{c["name"]: typical(c, lambda cats: cats[-1]) for c in columns}]
    odd = dict(first[0])
    numeric = [c["name"] for c in columns if c["kind"] == "numeric"]
    categorical = [c["name"] for c in columns if c["kind"] == "categorical"]
    if numeric and len(columns) > 1:  # a one-column row with its value missing is a blank CSV line
        odd[numeric[0]] = None
    if categorical:
        odd[categorical[0]] = UNKNOWN_CATEGORY
    return first + ([odd] if odd != first[0] else []) + last


def _text(value) -> str:
    return "" if value is None else repr(float(value)) if isinstance(value, (int, float)) else value


def csv_body(contract: dict, request_rows: list[dict]) -> bytes:
    """text/csv: one line per row, the contract's columns in order, no header."""
    names = [c["name"] for c in contract["columns"]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in request_rows:
        writer.writerow([_text(row[name]) for name in names])
    return buffer.getvalue().encode("utf-8")


def json_body(request_rows: list[dict]) -> bytes:
    """application/json: {"instances": [{"<column>": value, ...}, ...]}."""
    return json.dumps({"instances": request_rows}, allow_nan=False, ensure_ascii=False).encode("utf-8")
