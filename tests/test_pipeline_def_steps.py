"""The step scripts on a tiny dataset: split, label handling, metrics, the report, model loading via a stub."""
from __future__ import annotations

import io
import itertools
import json
import tarfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_def.steps import evaluate, preprocess


def _churn_frame(rows: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, rows),
            "monthly_charges": rng.normal(70, 20, rows).round(2),
            "plan": rng.choice(["basic", "premium"], rows),
            "churn": rng.choice(["True.", "False."], rows),
        }
    )


def test_preprocess_puts_the_label_first_and_one_hot_encodes_text():
    out = preprocess.features_and_label(_churn_frame(), "churn")
    assert list(out.columns) == ["churn", "tenure", "monthly_charges", "plan_basic", "plan_premium"]
    assert set(out["churn"]) == {0, 1}
    assert all(dtype.kind == "f" for dtype in out.dtypes.iloc[1:])


def test_preprocess_rejects_a_label_that_is_not_binary():
    frame = _churn_frame().assign(churn=["maybe"] * 40)
    with pytest.raises(ValueError, match="not binary"):
        preprocess.features_and_label(frame, "churn")


def test_preprocess_names_a_missing_target_column():
    with pytest.raises(ValueError, match="target column 'label' not in the input"):
        preprocess.features_and_label(_churn_frame(), "label")


@given(rows=st.integers(min_value=3, max_value=200), seed=st.integers(0, 2**16))
@settings(max_examples=40, deadline=None)
def test_split_puts_every_row_in_exactly_one_non_empty_split(rows, seed):
    frame = pd.DataFrame({"id": range(rows)})
    parts = preprocess.split(frame, seed=seed)
    assert list(parts) == ["train", "validation", "test"]
    assert all(len(p) >= 1 for p in parts.values())
    assert sorted(itertools.chain.from_iterable(p["id"] for p in parts.values())) == list(range(rows))


def test_split_is_70_15_15_and_repeatable():
    frame = pd.DataFrame({"id": range(100)})
    parts = preprocess.split(frame)
    assert [len(p) for p in parts.values()] == [70, 15, 15]
    assert parts["test"].equals(preprocess.split(frame)["test"])


def test_preprocess_main_writes_headerless_csvs(tmp_path):
    (tmp_path / "in").mkdir()
    _churn_frame().to_csv(tmp_path / "in" / "churn.csv", index=False)
    assert preprocess.main(["--input-dir", str(tmp_path / "in"), "--output-dir", str(tmp_path / "out")]) == 0
    sizes = {s: len(pd.read_csv(tmp_path / "out" / s / f"{s}.csv", header=None)) for s in preprocess.SPLITS}
    assert sizes == {"train": 28, "validation": 6, "test": 6}
    first = pd.read_csv(tmp_path / "out" / "train" / "train.csv", header=None)
    assert set(first[0]) <= {0, 1} and first.shape[1] == 5


def test_preprocess_main_fails_in_one_line_without_input(tmp_path, capsys):
    assert preprocess.main(["--input-dir", str(tmp_path), "--output-dir", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.strip() == f"preprocess: no .csv files in {tmp_path}"


def _pairwise_auc(labels, scores) -> float:
    pos = [s for lab, s in zip(labels, scores) if lab]
    neg = [s for lab, s in zip(labels, scores) if not lab]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@given(st.lists(st.tuples(st.booleans(), st.sampled_from([0.0, 0.1, 0.5, 0.5, 0.7, 0.9, 1.0])), min_size=2, max_size=40))
@settings(max_examples=100, deadline=None)
def test_auc_equals_the_pairwise_definition_with_ties_counted_half(pairs):
    labels, scores = zip(*pairs)
    if len(set(labels)) < 2:
        with pytest.raises(ValueError, match="both classes"):
            evaluate.auc(labels, scores)
        return
    assert evaluate.auc(labels, scores) == pytest.approx(_pairwise_auc(labels, scores))


def test_auc_and_accuracy_on_known_cases():
    assert evaluate.auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert evaluate.auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert evaluate.auc([0, 1], [0.5, 0.5]) == 0.5
    assert evaluate.accuracy([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.5]) == 0.5


def test_report_has_the_model_quality_shape_other_components_rely_on():
    doc = evaluate.report([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    assert doc == {
        "binary_classification_metrics": {
            "auc": {"value": 0.75, "standard_deviation": "NaN"},
            "accuracy": {"value": 0.5, "standard_deviation": "NaN"},
        }
    }
    assert evaluate.REPORT_METRIC_PATH == "binary_classification_metrics.auc.value"


class _StubModel:
    """Scores a row by its first feature: what a loaded XGBoost booster would do, without xgboost."""

    def __init__(self, path):
        self.path = path

    def predict(self, features):
        return np.asarray(features)[:, 0]


def test_evaluate_scores_the_test_split_and_writes_evaluation_json(tmp_path):
    model_dir, test_dir, out_dir = tmp_path / "model", tmp_path / "test", tmp_path / "evaluation"
    model_dir.mkdir()
    test_dir.mkdir()
    with tarfile.open(model_dir / "model.tar.gz", "w:gz") as tar:
        blob = b"not really a booster"
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
    pd.DataFrame([[1, 0.9, 5], [0, 0.2, 5], [1, 0.3, 5], [0, 0.4, 5]]).to_csv(test_dir / "test.csv", header=False, index=False)
    loaded = []
    doc = evaluate.evaluate(str(model_dir), str(test_dir), str(out_dir), loader=lambda p: loaded.append(p) or _StubModel(p))
    assert loaded == [str(model_dir / "xgboost-model")]
    assert (model_dir / "xgboost-model").read_bytes() == b"not really a booster"
    written = json.loads((out_dir / "evaluation.json").read_text())
    assert written == doc
    assert written["binary_classification_metrics"]["auc"]["value"] == 0.75
    assert written["binary_classification_metrics"]["accuracy"]["value"] == 0.75


def test_load_model_is_the_only_code_that_needs_xgboost():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(evaluate))
    importers = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(n, ast.Import) and any(a.name == "xgboost" for a in n.names) for n in ast.walk(node))
    }
    top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert importers == {"load_model"}
    assert not any("xgboost" in ast.unparse(n) for n in top_level)
