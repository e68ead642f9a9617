"""Preprocessing step: one CSV in, train/validation/test CSVs out, label first, no header.

Runs in the SageMaker scikit-learn container (python3 preprocess.py). Only pandas and numpy are
used, so the logic is tested locally without scikit-learn. The built-in XGBoost algorithm reads
CSV with the label in the first column and no header row; the test split keeps the same layout so
evaluate.py can score it.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np
import pandas as pd

INPUT_DIR = "/opt/ml/processing/input"
OUTPUT_DIR = "/opt/ml/processing"
SPLITS = ("train", "validation", "test")
TRUE_WORDS = {"1", "true", "true.", "yes", "y", "t"}
FALSE_WORDS = {"0", "false", "false.", "no", "n", "f"}


def binary_label(values: pd.Series) -> pd.Series:
    """0/1 from 0/1, booleans or yes/no/true/false words (the churn data says "True."/"False.")."""
    words = values.astype(str).str.strip().str.lower()
    unknown = sorted(set(words) - TRUE_WORDS - FALSE_WORDS)
    if unknown:
        raise ValueError(f"label column has values that are not binary: {unknown[:5]}")
    return words.isin(TRUE_WORDS).astype("int64")


def features_and_label(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """Label first, then numeric features; text columns one-hot encoded, missing numbers as the median."""
    if target not in frame.columns:
        raise ValueError(f"target column '{target}' not in the input (columns: {', '.join(map(str, frame.columns))})")
    label = binary_label(frame[target])
    features = frame.drop(columns=[target])
    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    features = pd.get_dummies(features, columns=sorted(text), dtype="float64")
    features = features.astype("float64")
    features = features.fillna(features.median(numeric_only=True)).fillna(0.0)
    return pd.concat([label.rename(target), features], axis=1)


def split(frame: pd.DataFrame, fractions=(0.7, 0.15, 0.15), seed: int = 42) -> dict[str, pd.DataFrame]:
    """Shuffle with a fixed seed and cut into train/validation/test (every row in exactly one split)."""
    if len(frame) < len(SPLITS):
        raise ValueError(f"need at least {len(SPLITS)} rows to split, got {len(frame)}")
    order = np.random.default_rng(seed).permutation(len(frame))
    n_train = int(round(fractions[0] * len(frame)))
    n_val = int(round(fractions[1] * len(frame)))
    # Every split gets at least one row, whatever the rounding did.
    n_train = min(max(n_train, 1), len(frame) - 2)
    n_val = min(max(n_val, 1), len(frame) - n_train - 1)
    cuts = np.split(order, [n_train, n_train + n_val])
    return {name: frame.iloc[idx].reset_index(drop=True) for name, idx in zip(SPLITS, cuts)}


def read_input(input_dir: str) -> pd.DataFrame:
    files = sorted(glob.glob(os.path.join(input_dir, "*.csv")))
    if not files:
        raise ValueError(f"no .csv files in {input_dir}")
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


def write_splits(splits: dict[str, pd.DataFrame], output_dir: str) -> None:
    for name, frame in splits.items():
        os.makedirs(os.path.join(output_dir, name), exist_ok=True)
        frame.to_csv(os.path.join(output_dir, name, f"{name}.csv"), header=False, index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-column", default="churn")
    parser.add_argument("--input-dir", default=INPUT_DIR)
    parser.add_argument("--output-dir", default=OUTPUT_DIR)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    try:
        data = features_and_label(read_input(args.input_dir), args.target_column)
    except ValueError as exc:
        print(f"preprocess: {exc}", file=sys.stderr)
        return 1
    splits = split(data, seed=args.seed)
    write_splits(splits, args.output_dir)
    print("preprocess: " + ", ".join(f"{k}={len(v)} rows" for k, v in splits.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
