"""`make train-local`: rehearse one execution on this machine, without Docker, AWS or network.

Runs the pipeline's own step scripts as their containers run them (`python3 <script> <arguments>`,
the library modules beside them), in the order and with the arguments, hyperparameters and parameter
defaults taken from the rendered definition:

    PreprocessData   steps/preprocess.py with the definition's ContainerArguments
    TrainModel       the built-in XGBoost algorithm, emulated: xgboost.train with the definition's
                     HyperParameters (num_round, early_stopping_rounds on the validation channel),
                     the booster saved as xgboost-model in model.tar.gz, as the container saves it
    EvaluateModel    steps/evaluate.py
    CheckAucThreshold  the report's AUC against ModelApprovalThreshold
    PackageModel     steps/package.py (only when the condition holds), then one request through the
                     packaged serving code, the way an endpoint would answer it

Only the training algorithm is not our code; everything else is the very file SageMaker runs.
Exit status: 0 the model would be registered, 3 the execution would fail at the condition, 1 a step
failed, 2 bad usage.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

from infra.config.names import Names
from pipeline_def import sample_data
from pipeline_def.pipeline import (
    LIBRARY, STEP_CONDITION, STEP_EVALUATE, STEP_FAIL, STEP_PACKAGE, STEP_PREPROCESS, STEP_REGISTER, STEP_TRAIN, STEPS_DIR,
)

EXIT_REGISTERED, EXIT_STEP_FAILED, EXIT_CONDITION_FAILED = 0, 1, 3
INTEGER_HYPERPARAMETERS = ("num_round", "early_stopping_rounds", "max_depth", "seed", "nthread")


class StepFailed(Exception):
    """A step script exited non-zero: its own one-line message is the text."""


def find_step(definition: dict, name: str) -> dict:
    for step in definition["Steps"]:
        if step["Name"] == name:
            return step
        for branch in ("IfSteps", "ElseSteps"):
            for inner in step.get("Arguments", {}).get(branch, []):
                if inner["Name"] == name:
                    return inner
    raise KeyError(name)


def resolve(value, parameters: dict):
    """A definition value with {"Get": "Parameters.X"} and {"Std:Join": …} worked out."""
    if isinstance(value, dict) and "Get" in value and value["Get"].startswith("Parameters."):
        return parameters[value["Get"].split(".", 1)[1]]
    if isinstance(value, dict) and "Std:Join" in value:
        join = value["Std:Join"]
        return join["On"].join(str(resolve(v, parameters)) for v in join["Values"])
    return value


def parameter_values(definition: dict, overrides: dict[str, str]) -> dict:
    values = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise ValueError(f"unknown pipeline parameter {unknown[0]} (known: {', '.join(sorted(values))})")
    return {**values, **overrides}


class Rehearsal:
    def __init__(self, definition: dict, workdir: Path, overrides: dict[str, str], out=print):
        self.definition, self.work, self.out = definition, workdir, out
        self.params = parameter_values(definition, overrides)
        self.code = workdir / "code"  # the scripts and their library side by side, as in LIB_DIR
        self.code.mkdir(parents=True, exist_ok=True)
        for name in ("preprocess.py", "evaluate.py", "package.py", *LIBRARY):
            shutil.copyfile(STEPS_DIR / name, self.code / name)

    def _script(self, step: str, script: str, *args: str) -> str:
        """Run a step script the way its container does; returns its stdout, raises StepFailed."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        proc = subprocess.run([sys.executable, str(self.code / script), *args], capture_output=True, text=True,
                              env=env, cwd=self.work, timeout=600)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"]
            raise StepFailed(f"{step}: {lines[-1]}")
        return proc.stdout.strip()

    def _timed(self, step: str, run):
        start = time.perf_counter()
        result = run()
        self.out(f"[{step}] done in {time.perf_counter() - start:.1f} s")
        return result

    def preprocess(self, input_file: Path | None) -> None:
        data = self.work / "input" / "data"
        data.mkdir(parents=True, exist_ok=True)
        if input_file is None:
            (data / sample_data.FILE_NAME).write_bytes(sample_data.csv_bytes())
            self.out(f"[{STEP_PREPROCESS}] input: generated sample data ({sample_data.DEFAULT_ROWS} rows, {sample_data.LICENSE})")
        else:
            shutil.copyfile(input_file, data / input_file.name)
            self.out(f"[{STEP_PREPROCESS}] input: {input_file}")
        arguments = [resolve(a, self.params) for a in
                     find_step(self.definition, STEP_PREPROCESS)["Arguments"]["AppSpecification"].get("ContainerArguments", [])]
        self.out(f"[{STEP_PREPROCESS}] python3 preprocess.py {' '.join(arguments)}")
        self.out("  " + self._script(STEP_PREPROCESS, "preprocess.py", *arguments,
                                     f"--input-dir={data}", f"--output-dir={self.work}"))

    def hyperparameters(self) -> dict:
        return dict(find_step(self.definition, STEP_TRAIN)["Arguments"]["HyperParameters"])

    def train(self) -> None:
        import numpy as np
        import xgboost

        hp = self.hyperparameters()
        self.out(f"[{STEP_TRAIN}] built-in XGBoost (emulated with xgboost {xgboost.__version__}): "
                 + " ".join(f"{k}={v}" for k, v in sorted(hp.items())))
        params = {k: (int(v) if k in INTEGER_HYPERPARAMETERS else _number_or_text(v)) for k, v in hp.items()}
        rounds, patience = params.pop("num_round"), params.pop("early_stopping_rounds", None)
        params.setdefault("nthread", 1)  # the machine is shared; one thread gives the same trees, without contention
        channels = {}
        for name in ("train", "validation"):
            table = np.loadtxt(self.work / name / f"{name}.csv", delimiter=",", ndmin=2)
            channels[name] = xgboost.DMatrix(table[:, 1:], label=table[:, 0])
        booster = xgboost.train(params, channels["train"], num_boost_round=rounds,
                                evals=[(channels["train"], "train"), (channels["validation"], "validation")],
                                early_stopping_rounds=patience, verbose_eval=False)
        best = booster.attr("best_iteration")
        self.out(f"  {booster.num_boosted_rounds()} rounds trained; best validation AUC {float(booster.attr('best_score') or 'nan'):.4f}"
                 + (f" at round {int(best) + 1}" if best is not None else ""))
        model_dir = self.work / "model"
        model_dir.mkdir(exist_ok=True)
        with warnings.catch_warnings():  # "UBJSON format as default": the container saves it so too
            warnings.simplefilter("ignore", UserWarning)
            booster.save_model(str(self.work / "xgboost-model"))
        with tarfile.open(model_dir / "model.tar.gz", "w:gz") as tar:
            tar.add(self.work / "xgboost-model", arcname="xgboost-model")

    def evaluate(self) -> dict:
        self.out(f"[{STEP_EVALUATE}] python3 evaluate.py")
        self._script(STEP_EVALUATE, "evaluate.py", f"--model-dir={self.work / 'model'}", f"--test-dir={self.work / 'test'}",
                     f"--contract-dir={self.work / 'contract'}", f"--output-dir={self.work / 'evaluation'}")
        report = json.loads((self.work / "evaluation" / "evaluation.json").read_text())
        self.out("  " + json.dumps(report, sort_keys=True))
        return report

    def condition(self, report: dict) -> bool:
        auc = report["binary_classification_metrics"]["auc"]["value"]
        threshold = float(self.params["ModelApprovalThreshold"])
        passed = auc >= threshold
        if passed:
            self.out(f"[{STEP_CONDITION}] AUC {auc} >= {threshold}: {STEP_PACKAGE}, then {STEP_REGISTER} "
                     "(status PendingManualApproval)")
        else:
            self.out(f"[{STEP_CONDITION}] AUC {auc} < {threshold}: {STEP_FAIL}: Model not registered: "
                     f"test AUC {auc} is below the approval threshold {threshold}")
        return passed

    def package(self) -> Path:
        self.out(f"[{STEP_PACKAGE}] python3 package.py")
        self._script(STEP_PACKAGE, "package.py", f"--model-dir={self.work / 'model'}", f"--contract-dir={self.work / 'contract'}",
                     f"--lib-dir={self.code}", f"--output-dir={self.work / 'package'}")
        return self.work / "package" / "model.tar.gz"

    def example_request(self, archive: Path) -> None:
        """Two test rows sent to the packaged model as an endpoint would receive them (text/csv)."""
        served = self.work / "served"
        with tarfile.open(archive) as tar:
            tar.extractall(served, filter="data")
        sys.path.insert(0, str(served / "code"))
        try:
            import importlib

            inference = importlib.import_module("inference")
            model = inference.model_fn(str(served))
            import pandas as pd

            rows = pd.read_csv(self.work / "test" / "test.csv", nrows=2)[inference.contract_lib.request_columns(model.contract)]
            body = rows.to_csv(header=False, index=False)
            scores = model.predict(inference.parse_request(body, "text/csv", model.contract))
        finally:
            sys.path.remove(str(served / "code"))
            for name in ("inference", "contract"):
                sys.modules.pop(name, None)
        columns = inference.contract_lib.request_columns(model.contract)
        self.out(f"[{STEP_REGISTER}] example request to the packaged model (text/csv; columns: {', '.join(columns)}):")
        for line, score in zip(body.strip().splitlines(), scores):
            self.out(f"  {line}  ->  {score:.4f}")


def _number_or_text(value: str):
    try:
        return float(value)
    except ValueError:
        return value


def run(names: Names, definition: dict, *, input_file: Path | None = None, workdir: Path | None = None,
        overrides: dict[str, str] | None = None, out=print) -> int:
    """Rehearse one execution; returns the exit status (see the module docstring)."""
    if input_file is not None and not input_file.is_file():
        raise ValueError(f"--input {input_file}: no such file")
    own_dir = workdir is None
    work = Path(tempfile.mkdtemp(prefix=f"{names.sagemaker_pipeline}-local-")) if own_dir else workdir
    start = time.perf_counter()
    try:
        rehearsal = Rehearsal(definition, work, overrides or {}, out)
        out(f"train-local: {names.sagemaker_pipeline} in {work}")
        rehearsal._timed(STEP_PREPROCESS, lambda: rehearsal.preprocess(input_file))
        rehearsal._timed(STEP_TRAIN, rehearsal.train)
        report = rehearsal._timed(STEP_EVALUATE, rehearsal.evaluate)
        if not rehearsal.condition(report):
            out(f"decision: fail (the execution would stop at {STEP_FAIL}; nothing registered) "
                f"after {time.perf_counter() - start:.1f} s")
            return EXIT_CONDITION_FAILED
        archive = rehearsal._timed(STEP_PACKAGE, rehearsal.package)
        rehearsal.example_request(archive)
        out(f"decision: register into {names.model_package_group} after {time.perf_counter() - start:.1f} s")
        return EXIT_REGISTERED
    except StepFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STEP_FAILED
    finally:
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)
