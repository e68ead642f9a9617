"""The step scripts on small data: options, data errors, stratified split, the contract, metrics, packaging."""
from __future__ import annotations

import io
import itertools
import json
import re
import tarfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_def.steps import contract, evaluate, inference, package, preprocess


def _churn_frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, rows),
            "monthly_charges": rng.normal(70, 20, rows).round(2),
            "plan": rng.choice(["basic", "premium"], rows),
            "phone": [f"555-{i:04d}" for i in range(rows)],
            "churn": np.where(np.arange(rows) % 4 == 0, "True.", "False."),
        }
    )


def _run(tmp_path, frame, *args, name="data.csv"):
    (tmp_path / "in").mkdir(exist_ok=True)
    frame.to_csv(tmp_path / "in" / name, index=False)
    argv = ["--target-column=churn", "--positive-values=True.", "--drop-columns=phone", *args,
            f"--input-dir={tmp_path / 'in'}", f"--output-dir={tmp_path / 'out'}"]
    return preprocess.main(argv)


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line
    return err.strip()


def test_preprocess_writes_encoded_train_raw_test_and_the_contract(tmp_path):
    assert _run(tmp_path, _churn_frame()) == 0
    train = pd.read_csv(tmp_path / "out" / "train" / "train.csv", header=None)
    saved = contract.load(str(tmp_path / "out" / "contract" / "contract.json"))
    assert saved["features"] == ["tenure", "monthly_charges", "plan=basic", "plan=premium"]
    assert [c["name"] for c in saved["columns"]] == ["tenure", "monthly_charges", "plan"]
    assert (saved["target"], saved["positive_values"], saved["dropped"]) == ("churn", ["True."], ["phone"])
    assert train.shape[1] == 1 + len(saved["features"]) and set(train[0]) == {0, 1}
    test = pd.read_csv(tmp_path / "out" / "test" / "test.csv")
    assert list(test.columns) == list(_churn_frame().columns)  # raw rows: evaluation encodes them with the contract


def test_the_common_churn_shape_works_with_options(tmp_path):
    """Label `Churn?` with True./False., shipped as .txt, an identifier column dropped by option."""
    frame = _churn_frame().rename(columns={"churn": "Churn?", "phone": "Phone"})
    (tmp_path / "in").mkdir()
    frame.to_csv(tmp_path / "in" / "churn.txt", index=False)
    code = preprocess.main(["--target-column=Churn?", "--positive-values=True.", "--drop-columns=Phone", "--file-pattern=*.txt",
                            f"--input-dir={tmp_path / 'in'}", f"--output-dir={tmp_path / 'out'}"])
    assert code == 0


@pytest.mark.parametrize(
    "change, args, expected",
    [
        (lambda f: f, ["--file-pattern=*.parquet"], "no input file matches FilePattern '*.parquet'"),
        (lambda f: f.rename(columns={"churn": "label"}), [], "target column 'churn' is not in the input (columns: tenure"),
        (lambda f: f.assign(churn=["maybe", "True.", "False."] * 20), [], "target column 'churn' has 3 distinct values"),
        (lambda f: f.assign(churn=["yes", "no"] * 30), [], "no row of target column 'churn' has a PositiveValues value (True.)"),
        (lambda f: f.assign(churn=[None] + ["True."] * 59), [], "target column 'churn' is empty in 1 row(s), the first at data row 1"),
        (lambda f: f.assign(churn=["True."] * 2 + ["False."] * 58), [], "has 2 positive row(s); need at least 5"),
        (lambda f: f, ["--drop-columns=Phone"], "DropColumns names 'Phone', not in the input"),
    ],
    ids=["no-matching-file", "missing-target", "not-binary", "no-positive-value", "empty-label", "too-few-positives", "unknown-drop-column"],
)
def test_bad_data_is_one_line_naming_what_is_wrong(tmp_path, capsys, change, args, expected):
    assert _run(tmp_path, change(_churn_frame()), *args) == 1
    err = _error(capsys)
    assert err.startswith("preprocess: ") and expected in err, err
    assert not (tmp_path / "out" / "contract").exists()  # nothing half-written


def test_identifier_like_columns_are_refused_not_exploded(tmp_path, capsys):
    assert _run(tmp_path, _churn_frame(200), "--drop-columns=") == 1
    assert "column 'phone' looks like an identifier (200 distinct text values in 200 rows" in _error(capsys)
    serial = _churn_frame(200).drop(columns="phone").assign(customer_id=range(1000, 1200))
    assert _run(tmp_path, serial, "--drop-columns=") == 1
    assert "column 'customer_id' looks like an identifier" in _error(capsys)


def test_a_file_that_is_not_csv_is_named(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "data.csv").write_bytes(b"")
    assert preprocess.main(["--target-column=churn", "--positive-values=1", f"--input-dir={tmp_path / 'in'}",
                            f"--output-dir={tmp_path / 'out'}"]) == 1
    assert _error(capsys).startswith("preprocess: data.csv: not a CSV file with a header row")


@given(positives=st.integers(5, 60), negatives=st.integers(5, 300), seed=st.integers(0, 2**16))
@settings(max_examples=40, deadline=None)
def test_split_is_stratified_and_puts_every_row_in_exactly_one_split(positives, negatives, seed):
    labels = pd.Series([1] * positives + [0] * negatives)
    parts = preprocess.split(labels, seed=seed)
    assert list(parts) == ["train", "validation", "test"]
    assert sorted(itertools.chain.from_iterable(parts.values())) == list(range(len(labels)))
    for rows in parts.values():
        assert set(labels[rows]) == {0, 1}  # every split has both classes
    rate = positives / len(labels)
    assert abs(labels[parts["train"]].mean() - rate) <= 1 / len(parts["train"]) + 0.02


def test_contract_encodes_new_rows_like_the_training_rows():
    train = _churn_frame().drop(columns=["phone"])
    fitted = contract.fit(train, "churn", ["True."], [])
    request = pd.DataFrame({"plan": ["premium", "gold", None], "tenure": [10, None, 3], "monthly_charges": ["50.5", 20, 1]})
    matrix = contract.apply(fitted, request)
    median = fitted["columns"][0]["fill"]
    assert matrix.tolist() == [[10, 50.5, 0, 1], [median, 20, 0, 0], [3, 1, 0, 0]]  # unknown or missing plan: all zeros
    with pytest.raises(contract.ContractError, match="input lacks column\\(s\\) the model expects: tenure"):
        contract.apply(fitted, request.drop(columns=["tenure"]))
    with pytest.raises(contract.ContractError, match="column 'tenure' expects numbers; data row 2 has 'ten'"):
        contract.apply(fitted, request.assign(tenure=["1", "ten", "3"]))


def test_contract_round_trips_through_json(tmp_path):
    fitted = contract.fit(_churn_frame().drop(columns=["phone"]), "churn", ["True."], ["phone"])
    (tmp_path / "contract.json").write_text(contract.dumps(fitted))
    assert contract.load(str(tmp_path / "contract.json")) == fitted
    (tmp_path / "old.json").write_text(json.dumps({**fitted, "version": 0}))
    with pytest.raises(contract.ContractError, match="contract version 0"):
        contract.load(str(tmp_path / "old.json"))


def test_a_csv_or_json_request_parses_to_the_contract_columns():
    fitted = contract.fit(_churn_frame().drop(columns=["phone"]), "churn", ["True."], ["phone"])
    csv_rows = inference.parse_request(b"12,70.5,basic\n3,,premium\n", "text/csv", fitted)
    assert list(csv_rows.columns) == ["tenure", "monthly_charges", "plan"] and len(csv_rows) == 2
    with_header = inference.parse_request("tenure,monthly_charges,plan\n12,70.5,basic\n", "text/csv; charset=utf-8", fitted)
    assert len(with_header) == 1
    as_json = inference.parse_request(json.dumps({"instances": [{"plan": "basic", "tenure": 12, "monthly_charges": 70.5}]}),
                                      "application/json", fitted)
    assert contract.apply(fitted, as_json).tolist() == contract.apply(fitted, csv_rows.iloc[:1]).tolist()
    with pytest.raises(contract.ContractError, match="CSV row 1 has 2 values; the model expects 3"):
        inference.parse_request("1,2\n", "text/csv", fitted)
    with pytest.raises(contract.ContractError, match="content type 'text/plain' is not supported"):
        inference.parse_request("x", "text/plain", fitted)


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
    """Scores a raw row by its first contract feature: what a loaded booster would do, without xgboost."""

    def __init__(self, model_dir, fitted):
        self.model_dir, self.contract = model_dir, fitted

    def predict(self, rows):
        return contract.apply(self.contract, rows)[:, 0]


def _model_tar(model_dir, blob=b"not really a booster"):
    model_dir.mkdir(exist_ok=True)
    with tarfile.open(model_dir / "model.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))


def test_evaluate_scores_raw_test_rows_through_the_contract_and_writes_evaluation_json(tmp_path):
    model_dir, test_dir, contract_dir, out_dir = (tmp_path / d for d in ("model", "test", "contract", "evaluation"))
    _model_tar(model_dir)
    test_dir.mkdir()
    contract_dir.mkdir()
    rows = pd.DataFrame({"score": [0.9, 0.2, 0.3, 0.4], "label": ["y", "n", "y", "n"]})
    rows.to_csv(test_dir / "test.csv", index=False)
    (contract_dir / "contract.json").write_text(contract.dumps(contract.fit(rows, "label", ["y"], [])))
    seen = []
    doc = evaluate.evaluate(str(model_dir), str(test_dir), str(contract_dir), str(out_dir),
                            loader=lambda d, c: seen.append(d) or _StubModel(d, c))
    assert seen == [str(model_dir)] and (model_dir / "xgboost-model").read_bytes() == b"not really a booster"
    written = json.loads((out_dir / "evaluation.json").read_text())
    assert written == doc
    assert written["binary_classification_metrics"]["auc"]["value"] == 0.75
    assert written["binary_classification_metrics"]["accuracy"]["value"] == 0.75
    # Dated for the analysts' trend query (docs/analysts.md), in the form Athena's from_iso8601_timestamp reads.
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", written[evaluate.EVALUATED_AT])


def test_package_holds_booster_contract_and_serving_code_byte_stably(tmp_path):
    from pipeline_def.pipeline import STEPS_DIR

    _model_tar(tmp_path / "model", b"booster bytes")
    (tmp_path / "contract").mkdir()
    (tmp_path / "contract" / "contract.json").write_text("{}")
    first = package.package(str(tmp_path / "model"), str(tmp_path / "contract"), str(STEPS_DIR), str(tmp_path / "a"))
    second = package.package(str(tmp_path / "model"), str(tmp_path / "contract"), str(STEPS_DIR), str(tmp_path / "b"))
    with tarfile.open(first) as tar:
        assert tar.getnames() == ["code/contract.py", "code/inference.py", "contract.json", "xgboost-model"]
        assert tar.extractfile("xgboost-model").read() == b"booster bytes"
        assert tar.extractfile("code/inference.py").read() == (STEPS_DIR / "inference.py").read_bytes()
    assert open(first, "rb").read() == open(second, "rb").read()


def test_only_inference_loads_xgboost():
    import ast
    import inspect

    for module in (evaluate, preprocess, package, contract):
        tree = ast.parse(inspect.getsource(module))
        assert not any(isinstance(n, (ast.Import, ast.ImportFrom)) and "xgboost" in ast.unparse(n) for n in ast.walk(tree)), module


def test_evaluation_encodes_each_test_row_exactly_as_the_endpoint_would(tmp_path):
    """What is evaluated is what is served: a code column that looks numeric in the test split (10, 20, blank)
    once became "10.0" under pandas' type guessing and encoded as an unknown category."""
    train = pd.DataFrame({"code": ["10", "20", "X", "10"], "tenure": [1, 2, 3, 4], "churn": ["True.", "False.", "False.", "True."]})
    fitted = contract.fit(train, "churn", ["True."], [])
    test_rows = "code,tenure,churn\n10,1,True.\n20,,False.\n,3,False.\n"
    (tmp_path / "test.csv").write_text(test_rows)
    _labels, evaluated = evaluate.read_test(str(tmp_path), fitted)
    served = inference.parse_request("\n".join(line.rsplit(",", 1)[0] for line in test_rows.splitlines()[1:]), "text/csv", fitted)
    assert np.array_equal(contract.apply(fitted, evaluated), contract.apply(fitted, served))
