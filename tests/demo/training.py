"""The model the demo registers and serves: trained for real by `make train-local`'s code (pipeline_def/local.py).

The step scripts run as their containers run them, on the generated sample data, with the definition's
arguments and hyperparameters; only the built-in XGBoost algorithm is emulated (xgboost.train). What comes
back is what the execution would leave: the evaluation report and the packaged model.tar.gz (the booster,
contract.json, code/inference.py).
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline_def import local


class TrainingFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Trained:
    report: bytes  # evaluation.json as evaluate.py wrote it
    archive: bytes  # model.tar.gz as package.py wrote it
    lines: tuple[str, ...]  # what train-local printed
    seconds: float


def train(names, definition: dict) -> Trained:
    lines: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="demo-train-") as tmp:
        work = Path(tmp)
        status = local.run(names, definition, workdir=work, out=lines.append)
        if status != local.EXIT_REGISTERED:
            last = lines[-1] if lines else f"exit status {status}"
            raise TrainingFailed(f"train-local would not register a model (exit {status}): {last}")
        report = (work / "evaluation" / "evaluation.json").read_bytes()
        archive = (work / "package" / "model.tar.gz").read_bytes()
    json.loads(report)  # a report the registry can read
    return Trained(report, archive, tuple(lines), time.perf_counter() - started)
