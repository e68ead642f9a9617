"""`make train-local`: the real step scripts and real XGBoost on the sample data, offline; both condition outcomes."""
from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from infra.config.names import for_env
from pipeline_def import cli, local, sample_data
from tests.conftest import CONFIGURED_ENVS, names_for

THRESHOLD = 0.7  # the test's own, not config's


@pytest.fixture(scope="module")
def setup(project):
    n = names_for(project, CONFIGURED_ENVS[0])
    n = for_env(n.project, dataclasses.replace(n.env, model_approval_threshold=THRESHOLD))
    return n, json.loads(cli.definition_json(n))


def _rehearse(setup, tmp_path, **kwargs) -> tuple[int, list[str]]:
    n, definition = setup
    lines: list[str] = []
    code = local.run(n, definition, workdir=tmp_path / "work", out=lines.append, **kwargs)
    return code, lines


def _auc(tmp_path) -> float:
    report = json.loads((tmp_path / "work" / "evaluation" / "evaluation.json").read_text())
    return report["binary_classification_metrics"]["auc"]["value"]


def test_sample_data_is_byte_stable_licensed_and_shaped_like_the_common_churn_data():
    data = sample_data.csv_bytes()
    assert data == sample_data.csv_bytes.__wrapped__()  # generated afresh, not the memoized bytes
    assert hashlib.sha256(data).hexdigest() == "4eb6f51c5efaf427f1d1320aa14fa401a5fff73d27b521fd697684214eba1d37"
    assert sample_data.csv_bytes(seed=1) != data
    frame = pd.read_csv(pd.io.common.BytesIO(data))
    assert len(frame) == sample_data.DEFAULT_ROWS and tuple(frame.columns) == sample_data.COLUMNS
    assert set(frame[sample_data.TARGET_COLUMN]) == {"True.", "False."}
    assert frame["Phone"].is_unique  # the identifier column the default DropColumns removes
    assert 0.08 < (frame[sample_data.TARGET_COLUMN] == "True.").mean() < 0.25
    assert sample_data.LICENSE == "CC0-1.0"


def test_sample_data_registers_a_model_that_serves_raw_rows(setup, tmp_path):
    code, lines = _rehearse(setup, tmp_path)
    n, _ = setup
    assert code == local.EXIT_REGISTERED, lines
    assert _auc(tmp_path) >= THRESHOLD
    assert lines[-1].startswith(f"decision: register into {n.model_package_group}")
    steps = [line.split("]")[0][1:] for line in lines if line.startswith("[")]
    assert list(dict.fromkeys(steps)) == ["PreprocessData", "TrainModel", "EvaluateModel", "CheckAucThreshold", "PackageModel", "RegisterModel"]
    answers = [line for line in lines if "  ->  " in line]
    assert len(answers) == 2 and all(0.0 <= float(a.rsplit(" ", 1)[1]) <= 1.0 for a in answers)


def test_early_stopping_stops_before_the_round_cap(setup, tmp_path):
    code, lines = _rehearse(setup, tmp_path)
    cap = int(local.find_step(setup[1], "TrainModel")["Arguments"]["HyperParameters"]["num_round"])
    trained = next(line for line in lines if "rounds trained" in line)
    assert code == local.EXIT_REGISTERED and int(trained.split()[0]) < cap


def test_shuffled_labels_fail_the_condition_and_register_nothing(setup, tmp_path):
    frame = pd.read_csv(pd.io.common.BytesIO(sample_data.csv_bytes()))
    target = sample_data.TARGET_COLUMN
    frame[target] = np.random.default_rng(7).permutation(frame[target].to_numpy())
    frame.to_csv(tmp_path / "shuffled.csv", index=False)
    code, lines = _rehearse(setup, tmp_path, input_file=tmp_path / "shuffled.csv")
    assert code == local.EXIT_CONDITION_FAILED, lines
    assert _auc(tmp_path) < THRESHOLD
    assert any("FailBelowThreshold: Model not registered" in line for line in lines)
    assert not (tmp_path / "work" / "package").exists()


def test_malformed_input_stops_at_preprocess_with_one_line(setup, tmp_path, capsys):
    frame = pd.read_csv(pd.io.common.BytesIO(sample_data.csv_bytes())).drop(columns=[sample_data.TARGET_COLUMN])
    frame.to_csv(tmp_path / "nolabel.csv", index=False)
    code, _ = _rehearse(setup, tmp_path, input_file=tmp_path / "nolabel.csv")
    err = capsys.readouterr().err
    assert code == local.EXIT_STEP_FAILED
    assert err.count("\n") == 1 and err.startswith("error: PreprocessData: preprocess: target column 'Churn?' is not in the input")


def test_parameters_can_be_overridden_like_an_execution_would(setup, tmp_path):
    frame = pd.read_csv(pd.io.common.BytesIO(sample_data.csv_bytes()), nrows=400).rename(columns={"Churn?": "left", "Phone": "msisdn"})
    frame.to_csv(tmp_path / "renamed.txt", index=False)
    code, lines = _rehearse(setup, tmp_path, input_file=tmp_path / "renamed.txt",
                            overrides={"TargetColumn": "left", "DropColumns": "msisdn", "FilePattern": "*.txt",
                                       "ModelApprovalThreshold": "0.0"})
    assert code == local.EXIT_REGISTERED, lines
    assert any("--target-column=left" in line and "--file-pattern=*.txt" in line for line in lines)


def test_cli_refuses_a_missing_input_file_and_an_unknown_parameter(tmp_path, capsys):
    assert cli.main(["train-local", "--env", CONFIGURED_ENVS[0], "--input", str(tmp_path / "nope.csv")]) == 2
    assert capsys.readouterr().err.strip().endswith("nope.csv: no such file")
    assert cli.main(["train-local", "--env", CONFIGURED_ENVS[0], "--param", "Nope=1"]) == 2
    assert "unknown pipeline parameter Nope" in capsys.readouterr().err
