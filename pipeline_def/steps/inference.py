"""Serving code of the registered model: raw rows in, churn probabilities out.

The registered model.tar.gz (package.py) holds `xgboost-model`, `contract.json` and `code/` with this
file and contract.py; the model's environment (package.SERVING_ENVIRONMENT) names this file, so the
SageMaker XGBoost container serves it in framework mode: model_fn, then transform_fn for each request.
evaluate.py scores the test split through the same Model and contract, so what was evaluated is what
is served.

A request is the contract's columns (contract.request_columns), as
  text/csv          one row per line, those columns in that order, no header (a header line equal
                    to the column names is accepted and skipped);
  application/json  {"instances": [{"<column>": value, ...}, ...]} (by name; extra keys ignored).
The response is one probability per row, text/csv (one a line) or application/json (a list) by Accept.

A client's mistake is answered 4xx with one line naming it (415 for the content type, 406 for Accept, 400 for
the body), never 5xx: the container turns any exception raised here into HTTP 500, which the production
rollout's alarm counts. So the container gets one hook, transform_fn, that answers every request itself.
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # contract.py sits beside this file
try:
    from pipeline_def.steps import contract as contract_lib  # imported from the repo (tests)
except ImportError:
    import contract as contract_lib

MODEL_FILE = "xgboost-model"
ContractError = contract_lib.ContractError


class Model:
    """A booster and its contract. predict() takes raw rows (a DataFrame) and returns probabilities."""

    def __init__(self, booster, contract: dict):
        self.booster, self.contract = booster, contract

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        import xgboost

        features = contract_lib.apply(self.contract, frame)
        # Early stopping keeps the rounds after the best one in the file: predict with the best only.
        best = self.booster.attr("best_iteration")
        rounds = (0, int(best) + 1) if best is not None else (0, 0)
        return self.booster.predict(xgboost.DMatrix(features), iteration_range=rounds)


def load_booster(path: str):
    """The built-in algorithm's model file (XGBoost's own format). The only place that loads xgboost models."""
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(path)
    return booster


def model_fn(model_dir: str) -> Model:
    contract = contract_lib.load(os.path.join(model_dir, contract_lib.FILE_NAME))
    return Model(load_booster(os.path.join(model_dir, MODEL_FILE)), contract)


JSON, CSV = "application/json", "text/csv"


class UnsupportedMediaType(ContractError):
    """The request's content type is neither text/csv nor application/json (HTTP 415)."""


class NotAcceptable(ContractError):
    """The Accept header asks for neither text/csv nor application/json (HTTP 406)."""


def _media_type(header) -> str:
    return (header or "").split(",")[0].split(";")[0].strip().lower()


def _decode(body) -> str:
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body)
    except UnicodeDecodeError as exc:
        raise ContractError(f"the request body is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise ContractError("the request body is empty")
    return text


def _csv_rows(text: str, columns: list[str]) -> pd.DataFrame:
    try:
        rows = [row for row in csv.reader(io.StringIO(text), skipinitialspace=True, strict=True) if row not in ([], [""])]
    except csv.Error as exc:  # an unclosed or stray quote
        raise ContractError(f"the CSV body cannot be read: {exc}") from None
    if rows and [v.strip() for v in rows[0]] == columns:
        rows = rows[1:]
    if not rows:
        raise ContractError("the CSV body has no rows")
    for number, row in enumerate(rows, 1):
        if len(row) != len(columns):
            raise ContractError(f"CSV row {number} has {len(row)} values; the model expects {len(columns)}: {', '.join(columns)}")
    return pd.DataFrame(rows, columns=columns, dtype=object)


def _json_rows(text: str) -> pd.DataFrame:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ContractError(f"the JSON body cannot be read: {' '.join(str(exc).split())[:160]}") from None
    rows = doc.get("instances") if isinstance(doc, dict) else doc
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise ContractError('a JSON request is {"instances": [{"<column>": value, ...}, ...]}, with at least one row')
    # As sent: pandas' own inference would turn a JSON integer too long for a float into an OverflowError (a 500).
    return pd.DataFrame(rows, dtype=object)


def parse_request(body, content_type: str, contract: dict) -> pd.DataFrame:
    """The raw rows of a request; ContractError (one line) for anything the client got wrong."""
    kind = _media_type(content_type)
    if kind not in (CSV, JSON):
        raise UnsupportedMediaType(f"content type '{content_type}' is not supported; send text/csv or application/json")
    text = _decode(body)
    return _csv_rows(text, contract_lib.request_columns(contract)) if kind == CSV else _json_rows(text)


def encode(scores: np.ndarray, accept: str) -> tuple[str, str]:
    """(body, content type): CSV one probability a line, JSON a list; as the container's own encoders write them."""
    kind = _media_type(accept)
    if kind == CSV:
        return "".join(f"{s!s}\n" for s in scores), CSV  # str(): a float32 as numpy writes it
    if kind == JSON:
        return json.dumps(np.asarray(scores).tolist()), JSON
    raise NotAcceptable(f"accept '{accept}' is not supported; ask for text/csv or application/json")


def answer(model: Model, body, content_type: str, accept: str) -> tuple[int, str, str]:
    """(HTTP status, body, content type) for one request: 200 with the scores, or 4xx with the client's mistake
    in one line of text. Anything else raised is the server's fault and stays a 5xx."""
    try:
        return (200, *encode(model.predict(parse_request(body, content_type, model.contract)), accept or JSON))
    except ContractError as exc:
        status = 415 if isinstance(exc, UnsupportedMediaType) else 406 if isinstance(exc, NotAcceptable) else 400
        return status, " ".join(str(exc).split()) + "\n", "text/plain"


# -- the SageMaker XGBoost container's framework-mode hooks ---------------------------------------
def transform_fn(model: Model, body, content_type: str, accept: str):
    """The container's whole request path (it calls this instead of input_fn/predict_fn/output_fn)."""
    from sagemaker_containers.beta.framework import worker  # the container's serving library (its Flask Response)

    status, text, mimetype = answer(model, body, content_type, accept)
    return worker.Response(response=text, status=status, mimetype=mimetype)
