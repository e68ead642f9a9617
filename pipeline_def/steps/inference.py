"""Serving code of the registered model: raw rows in, churn probabilities out.

The registered model.tar.gz (package.py) holds `xgboost-model`, `contract.json` and `code/` with this
file and contract.py; the model sets SAGEMAKER_PROGRAM=inference.py and
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code, so the SageMaker XGBoost container serves it in
framework mode with the functions below. evaluate.py scores the test split through the same
functions, so what was evaluated is what is served.

A request is the contract's columns (contract.request_columns), as
  text/csv          one row per line, those columns in that order, no header (a header line equal
                    to the column names is accepted and skipped);
  application/json  {"instances": [{"<column>": value, ...}, ...]} (by name; extra keys ignored).
The response is one probability per row (the container encodes it as CSV or JSON by Accept).
"""
from __future__ import annotations

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


def _decode(body) -> str:
    return body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body)


def parse_request(body, content_type: str, contract: dict) -> pd.DataFrame:
    columns = contract_lib.request_columns(contract)
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "text/csv":
        frame = pd.read_csv(io.StringIO(_decode(body)), header=None, dtype=str, keep_default_na=False, skipinitialspace=True)
        if len(frame) and [str(v).strip() for v in frame.iloc[0]] == columns:
            frame = frame.iloc[1:].reset_index(drop=True)
        if frame.shape[1] != len(columns):
            raise ContractError(f"a CSV request row has {frame.shape[1]} values; the model expects {len(columns)}: {', '.join(columns)}")
        frame.columns = columns
        return frame.replace("", np.nan)
    if kind == "application/json":
        doc = json.loads(_decode(body))
        rows = doc.get("instances") if isinstance(doc, dict) else doc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ContractError('a JSON request is {"instances": [{"<column>": value, ...}, ...]}')
        return pd.DataFrame(rows)
    raise ContractError(f"content type '{content_type}' is not supported; send text/csv or application/json")


# -- the SageMaker XGBoost container's framework-mode hooks ---------------------------------------
def input_fn(request_body, request_content_type):
    return request_body, request_content_type


def predict_fn(input_data, model: Model) -> np.ndarray:
    body, content_type = input_data
    return model.predict(parse_request(body, content_type, model.contract))
