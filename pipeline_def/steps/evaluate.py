"""Evaluation step: score the trained model on the raw test rows through its serving code; write evaluation.json.

Runs in the SageMaker XGBoost container (python3 evaluate.py) with contract.py and inference.py in
LIB_DIR. The test rows are encoded by the saved preprocessing contract inside inference.Model, exactly
as an endpoint encodes a request. The report is SageMaker's model-quality format; the pipeline's
condition reads REPORT_METRIC_PATH from it, the model package carries it as ModelQuality statistics,
and the KPI crawler reads every execution's copy:

    {"binary_classification_metrics": {"auc": {"value": 0.91, "standard_deviation": "NaN"},
                                       "accuracy": {"value": 0.88, "standard_deviation": "NaN"}},
     "evaluated_at": "2026-12-07T06:00:00Z"}

Metrics use numpy only; xgboost is needed only to load the model (inference.load_booster), so
everything else is tested locally with a stub model.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tarfile
from datetime import datetime, timezone

import numpy as np
import pandas as pd

LIB_DIR = "/opt/ml/processing/input/lib"
try:
    from pipeline_def.steps import contract as contract_lib, inference  # imported from the repo (tests)
except ImportError:  # run as a script: the modules are beside it (local) or in LIB_DIR (container)
    sys.path.insert(0, LIB_DIR)
    import contract as contract_lib
    import inference

MODEL_DIR = "/opt/ml/processing/model"
TEST_DIR = "/opt/ml/processing/test"
CONTRACT_DIR = "/opt/ml/processing/contract"
OUTPUT_DIR = "/opt/ml/processing/evaluation"
REPORT_FILE = "evaluation.json"
# What the pipeline's ConditionStep reads (JsonGet path) — keep in step with report().
REPORT_METRIC_PATH = "binary_classification_metrics.auc.value"
EVALUATED_AT = "evaluated_at"  # a column of the KPI table; the functions read only the *_metrics sections


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic, ties counted half (same as sklearn's roc_auc_score)."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype="float64")
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both classes in the test split")
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    labels = np.asarray(labels, dtype="int64")
    return float(np.mean((np.asarray(scores) >= threshold).astype("int64") == labels))


def report(labels: np.ndarray, scores: np.ndarray) -> dict:
    def metric(value: float) -> dict:
        return {"value": round(value, 6), "standard_deviation": "NaN"}

    return {"binary_classification_metrics": {"auc": metric(auc(labels, scores)), "accuracy": metric(accuracy(labels, scores))}}


def write_report(doc: dict, output_dir: str) -> str:
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, REPORT_FILE)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, sort_keys=True)
    return path


def read_test(test_dir: str, contract: dict) -> tuple[np.ndarray, pd.DataFrame]:
    """(0/1 labels, raw rows) from preprocess.py's test split (raw CSV with header).

    Read as the endpoint reads a request (inference.parse_request): every value a string, blanks missing.
    Letting pandas guess types here would score rows the endpoint never sees (a code column read as
    floats becomes "10.0", a category the contract does not know)."""
    frame = pd.read_csv(os.path.join(test_dir, "test.csv"), dtype=str, keep_default_na=False)
    frame = frame.replace("", np.nan)
    return contract_lib.labels(frame, contract["target"], contract["positive_values"]).to_numpy(), frame


def extract_model(model_dir: str) -> str:
    """Unpack the training job's model.tar.gz into model_dir; return model_dir."""
    with tarfile.open(os.path.join(model_dir, "model.tar.gz")) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 and backports: refuse links out of the dir
            tar.extractall(model_dir, filter="data")
        else:
            tar.extractall(model_dir)  # noqa: S202 - our own training job's output
    return model_dir


def load_model(model_dir: str, contract: dict):
    """A predictor with .predict(raw rows) -> probabilities: the serving code's own Model."""
    return inference.Model(inference.load_booster(os.path.join(model_dir, inference.MODEL_FILE)), contract)


def evaluate(model_dir: str, test_dir: str, contract_dir: str, output_dir: str, loader=load_model) -> dict:
    contract = contract_lib.load(os.path.join(contract_dir, contract_lib.FILE_NAME))
    model = loader(extract_model(model_dir), contract)
    labels, rows = read_test(test_dir, contract)
    # When, for analysts' trends (docs/analysts.md): ISO 8601 UTC, which Athena reads with from_iso8601_timestamp.
    doc = {**report(labels, model.predict(rows)), EVALUATED_AT: datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    write_report(doc, output_dir)
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=MODEL_DIR)
    parser.add_argument("--test-dir", default=TEST_DIR)
    parser.add_argument("--contract-dir", default=CONTRACT_DIR)
    parser.add_argument("--output-dir", default=OUTPUT_DIR)
    args = parser.parse_args(argv)
    try:
        doc = evaluate(args.model_dir, args.test_dir, args.contract_dir, args.output_dir)
    except ValueError as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    print("evaluate: " + json.dumps(doc, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
