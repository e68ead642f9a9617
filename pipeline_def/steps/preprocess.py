"""Preprocessing step: the input files in; train/validation/test splits and the preprocessing contract out.

Runs in the SageMaker scikit-learn container (python3 preprocess.py --target-column=… …) with
contract.py in LIB_DIR; pandas and numpy only. Writes:

    train/train.csv, validation/validation.csv   label first, then the contract's features, no header:
                                                 what the built-in XGBoost algorithm reads
    test/test.csv                                the raw rows, header included: evaluate.py encodes them
                                                 with the contract, as an endpoint encodes a request
    contract/contract.json                       fitted on the training split only

The split is stratified on the label (70/15/15, fixed seed). Bad data stops the step with one line
on stderr naming the file, column or row and what was expected.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import sys

import numpy as np
import pandas as pd

LIB_DIR = "/opt/ml/processing/input/lib"
try:
    from pipeline_def.steps import contract as contract_lib  # imported from the repo (tests)
except ImportError:  # run as a script: contract.py is beside it (local) or in LIB_DIR (container)
    sys.path.insert(0, LIB_DIR)
    import contract as contract_lib

INPUT_DIR = "/opt/ml/processing/input/data"
OUTPUT_DIR = "/opt/ml/processing"
SPLITS = ("train", "validation", "test")
FRACTIONS = (0.7, 0.15, 0.15)
ContractError = contract_lib.ContractError


def _list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def read_input(input_dir: str, pattern: str) -> pd.DataFrame:
    """Every file under input_dir whose name matches `pattern`, as one frame (same header in each)."""
    files = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(input_dir)
        for name in names
        if fnmatch.fnmatch(name, pattern)
    )
    if not files:
        present = sorted(name for _, _, names in os.walk(input_dir) for name in names)
        seen = f" (found: {', '.join(present[:5])})" if present else " (the input location is empty)"
        raise ContractError(f"no input file matches FilePattern '{pattern}' in {input_dir}{seen}")
    frames = []
    for path in files:
        try:
            frame = pd.read_csv(path, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ContractError(f"{os.path.basename(path)}: not a CSV file with a header row: {str(exc).strip()}") from None
        if frames and list(frame.columns) != list(frames[0].columns):
            raise ContractError(f"{os.path.basename(path)}: columns differ from {os.path.basename(files[0])}'s "
                                f"({len(frame.columns)} vs {len(frames[0].columns)} columns)")
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    if data.empty:
        raise ContractError(f"the input files in {input_dir} have a header but no rows")
    return data


def prepare(frame: pd.DataFrame, target: str, positive_values, dropped) -> tuple[pd.DataFrame, pd.Series]:
    """(feature columns, 0/1 label), after checking the options against the data."""
    label = contract_lib.labels(frame, target, positive_values)
    absent = [c for c in dropped if c not in frame.columns]
    if absent:
        raise ContractError(f"DropColumns names {', '.join(repr(c) for c in absent)}, not in the input "
                            f"(columns: {', '.join(map(str, frame.columns))})")
    features = frame.drop(columns=[target, *dropped])
    contract_lib.refuse_identifiers(features)
    contract_lib.check_classes(label)
    return features, label


def split(labels: pd.Series, fractions=FRACTIONS, seed: int = 42) -> dict[str, np.ndarray]:
    """Row positions per split, stratified: each class is shuffled and cut by `fractions` on its own,
    so every split has (about) the input's positive rate and at least one row of each class."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {name: [] for name in SPLITS}
    for value in sorted(pd.unique(labels)):
        rows = np.flatnonzero(labels.to_numpy() == value)
        rng.shuffle(rows)
        n_train = min(max(int(round(fractions[0] * len(rows))), 1), len(rows) - 2)
        n_val = min(max(int(round(fractions[1] * len(rows))), 1), len(rows) - n_train - 1)
        for name, cut in zip(SPLITS, np.split(rows, [n_train, n_train + n_val])):
            parts[name].append(cut)
    return {name: rng.permutation(np.concatenate(cuts)) for name, cuts in parts.items()}


def write_outputs(frame, features, label, contract, rows, output_dir) -> dict[str, int]:
    for name in ("train", "validation"):
        encoded = contract_lib.apply(contract, features.iloc[rows[name]])
        table = np.column_stack([label.to_numpy()[rows[name]], encoded])
        os.makedirs(os.path.join(output_dir, name), exist_ok=True)
        pd.DataFrame(table).to_csv(os.path.join(output_dir, name, f"{name}.csv"), header=False, index=False)
    os.makedirs(os.path.join(output_dir, "test"), exist_ok=True)
    frame.iloc[rows["test"]].to_csv(os.path.join(output_dir, "test", "test.csv"), index=False)
    os.makedirs(os.path.join(output_dir, "contract"), exist_ok=True)
    with open(os.path.join(output_dir, "contract", contract_lib.FILE_NAME), "w", encoding="utf-8") as f:
        f.write(contract_lib.dumps(contract))
    return {name: len(rows[name]) for name in SPLITS}


def run(input_dir, output_dir, target, positive_values, dropped, pattern, seed=42) -> tuple[dict, dict]:
    frame = read_input(input_dir, pattern)
    features, label = prepare(frame, target, positive_values, dropped)
    rows = split(label, seed=seed)
    contract = contract_lib.fit(features.iloc[rows["train"]], target, positive_values, dropped)
    return write_outputs(frame, features, label, contract, rows, output_dir), contract


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-column", required=True)
    parser.add_argument("--positive-values", required=True, help="comma-separated values meaning the positive class")
    parser.add_argument("--drop-columns", default="", help="comma-separated columns to ignore (identifiers…)")
    parser.add_argument("--file-pattern", default="*.csv")
    parser.add_argument("--input-dir", default=INPUT_DIR)
    parser.add_argument("--output-dir", default=OUTPUT_DIR)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    positive = _list(args.positive_values)
    if not positive:
        print("preprocess: PositiveValues is empty; name the value(s) of the target that mean the positive class", file=sys.stderr)
        return 1
    try:
        sizes, contract = run(args.input_dir, args.output_dir, args.target_column, positive,
                              _list(args.drop_columns), args.file_pattern, args.seed)
    except ContractError as exc:
        print(f"preprocess: {exc}", file=sys.stderr)
        return 1
    print(f"preprocess: {', '.join(f'{k}={v} rows' for k, v in sizes.items())}; "
          f"{len(contract['columns'])} input columns -> {len(contract['features'])} features")
    return 0


if __name__ == "__main__":
    sys.exit(main())
