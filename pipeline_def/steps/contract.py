"""The preprocessing contract: how raw rows become the model's feature vector, fitted once, saved as JSON.

preprocess.py fits it on the training split and writes contract.json; evaluate.py applies it to the
raw test rows; the registered model carries it (package.py) and inference.py applies it to every
request. So every step and every caller encode the same way, and a request is the raw columns
(contract["columns"]), never a run-dependent one-hot layout.

    {"version": 1, "target": "Churn?", "positive_values": ["True."], "dropped": ["Phone"],
     "columns": [{"name": "State", "kind": "categorical", "categories": ["AK", ...]},
                 {"name": "Day Mins", "kind": "numeric", "fill": 179.4}, ...],
     "features": ["State=AK", ..., "Day Mins", ...]}

pandas and numpy only (both containers have them). Errors are ContractError with one line.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

VERSION = 1
FILE_NAME = "contract.json"
# A text column with more distinct values than this is refused rather than one-hot encoded into
# thousands of columns (the churn data's `Phone` would become ~5,000).
MAX_CATEGORIES = 100
MIN_ROWS_PER_CLASS = 5
# What pandas.read_csv reads as missing by default (its documented na_values), so what preprocess.py reads as
# missing in the training files: a request may send the same tokens (a number then takes the training median).
MISSING_TOKENS = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                            "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})


class ContractError(ValueError):
    """Bad data or a request that does not fit the contract; the text is one line."""


def _names(values) -> str:
    shown = [str(v) for v in list(values)[:8]]
    return ", ".join(shown) + (", ..." if len(values) > 8 else "")


def text(values: pd.Series) -> pd.Series:
    """Values as stripped strings; missing values become ""."""
    return values.astype("object").where(values.notna(), "").astype(str).str.strip()


# -- the label --------------------------------------------------------------------------------------
def labels(frame: pd.DataFrame, target: str, positive_values) -> pd.Series:
    """0/1 from the target column: 1 where the value is one of positive_values (case-insensitive)."""
    if target not in frame.columns:
        raise ContractError(f"target column '{target}' is not in the input (columns: {_names(frame.columns)}); set TargetColumn")
    values = text(frame[target])
    empty = np.flatnonzero((values == "").to_numpy())
    if len(empty):
        raise ContractError(f"target column '{target}' is empty in {len(empty)} row(s), the first at data row {empty[0] + 1}")
    positive = {str(v).strip().lower() for v in positive_values}
    distinct = sorted(set(values))
    if len(distinct) > 2:
        raise ContractError(f"target column '{target}' has {len(distinct)} distinct values ({_names(distinct)}); "
                            f"expected two, one of them in PositiveValues ({', '.join(positive_values)})")
    is_positive = values.str.lower().isin(positive)
    if not is_positive.any():
        raise ContractError(f"no row of target column '{target}' has a PositiveValues value ({', '.join(positive_values)}); "
                            f"values seen: {_names(distinct)}")
    return is_positive.astype("int64").rename(target)


def check_classes(label: pd.Series) -> None:
    counts = label.value_counts()
    for value, name in ((1, "positive"), (0, "negative")):
        if counts.get(value, 0) < MIN_ROWS_PER_CLASS:
            raise ContractError(f"target column '{label.name}' has {counts.get(value, 0)} {name} row(s); "
                                f"need at least {MIN_ROWS_PER_CLASS} of each class to split and evaluate")


# -- fitting ----------------------------------------------------------------------------------------
def _is_row_number(values: pd.Series) -> bool:
    """Integers that are all distinct and consecutive: a row number or serial id, not a measurement."""
    numbers = values.dropna()
    if len(numbers) < 50 or not np.all(np.mod(numbers, 1) == 0):
        return False
    return numbers.is_unique and numbers.max() - numbers.min() + 1 == len(numbers)


def refuse_identifiers(frame: pd.DataFrame) -> None:
    """Near-unique columns carry no signal and (as text) explode one-hot encoding: refuse them, by name."""
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            if _is_row_number(values):
                raise ContractError(f"column '{name}' looks like an identifier (consecutive distinct integers in "
                                    f"{len(values)} rows); add it to DropColumns")
            continue
        distinct = text(values).nunique()
        if distinct > MAX_CATEGORIES:
            kind = "looks like an identifier" if distinct > len(values) / 2 else "has too many categories"
            raise ContractError(f"column '{name}' {kind} ({distinct} distinct text values in {len(values)} rows; "
                                f"at most {MAX_CATEGORIES} allowed); add it to DropColumns")


def fit(frame: pd.DataFrame, target: str, positive_values, dropped) -> dict:
    """The contract for `frame` (the training rows): column kinds, categories, fill values, order."""
    columns = []
    for name in frame.columns:
        if name == target or name in dropped:
            continue
        values = frame[name]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            median = values.astype("float64").median()
            columns.append({"name": str(name), "kind": "numeric", "fill": 0.0 if pd.isna(median) else round(float(median), 6)})
        else:
            categories = sorted(set(text(values)) - {""})
            columns.append({"name": str(name), "kind": "categorical", "categories": categories})
    if not columns:
        raise ContractError(f"no feature columns left after removing the target '{target}' and DropColumns")
    contract = {"version": VERSION, "target": target, "positive_values": list(positive_values),
                "dropped": list(dropped), "columns": columns}
    contract["features"] = feature_names(contract)
    return contract


def feature_names(contract: dict) -> list[str]:
    out = []
    for column in contract["columns"]:
        if column["kind"] == "numeric":
            out.append(column["name"])
        else:
            out.extend(f"{column['name']}={c}" for c in column["categories"])
    return out


# -- applying ---------------------------------------------------------------------------------------
def apply(contract: dict, frame: pd.DataFrame) -> np.ndarray:
    """The feature matrix (float64, contract["features"] order) for raw rows. Extra columns are ignored;
    unknown categories encode as all zeros; missing numbers take the training median; a value no column can
    score (a JSON object or list anywhere, a number XGBoost cannot hold) is a ContractError."""
    missing = [c["name"] for c in contract["columns"] if c["name"] not in frame.columns]
    if missing:
        raise ContractError(f"input lacks column(s) the model expects: {_names(missing)}")
    blocks = []
    for column in contract["columns"]:
        values = frame[column["name"]]
        _refuse_nested(column, values)
        if column["kind"] == "numeric":
            blocks.append(_numbers(column, values)[:, None])
        else:
            words = text(values).to_numpy()
            blocks.append(np.stack([words == c for c in column["categories"]], axis=1).astype("float64")
                          if column["categories"] else np.zeros((len(frame), 0)))
    return np.hstack(blocks) if blocks else np.zeros((len(frame), 0))


def _refuse_nested(column: dict, values: pd.Series) -> None:
    """A JSON object or list is a value of no column: refused, rather than scored as its text (an unknown category)."""
    nested = np.flatnonzero(~values.map(pd.api.types.is_scalar).to_numpy()) if values.dtype == object else []
    if len(nested):
        kind = "object" if isinstance(values.iloc[nested[0]], dict) else "list"
        expects = "numbers" if column["kind"] == "numeric" else "text"
        raise ContractError(f"column '{column['name']}' expects {expects}; data row {nested[0] + 1} has a JSON {kind}")


def _numbers(column: dict, values: pd.Series) -> np.ndarray:
    """A numeric column as floats, missing values (MISSING_TOKENS) filled with the training median.
    Text is parsed from its words (a JSON list or true is not a number). A number XGBoost cannot hold is refused:
    its DMatrix stores float32 and fails on an infinity, so 1e39, finite as float64, is as bad as inf."""
    words = text(values)
    missing = values.isna() | words.isin(MISSING_TOKENS)
    plain = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    numbers = pd.to_numeric((values if plain else words).mask(missing), errors="coerce").astype("float64")
    with np.errstate(over="ignore"):  # the cast is the test: what overflows float32 becomes inf
        held = np.isfinite(numbers.to_numpy().astype("float32"))
    bad = np.flatnonzero(~missing.to_numpy() & ~held)
    if len(bad):
        limit = " within ±3.4e38 (float32, as XGBoost reads them)" if pd.notna(numbers.iloc[bad[0]]) else ""
        raise ContractError(f"column '{column['name']}' expects numbers{limit}; data row {bad[0] + 1} has '{words.iloc[bad[0]][:40]}'")
    return numbers.fillna(column["fill"]).to_numpy()


def request_columns(contract: dict) -> list[str]:
    """What a caller sends, in this order (CSV) or by name (JSON)."""
    return [c["name"] for c in contract["columns"]]


def dumps(contract: dict) -> str:
    return json.dumps(contract, indent=1, sort_keys=True, ensure_ascii=False)


def load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            contract = json.load(f)
    except FileNotFoundError:
        raise ContractError(f"no preprocessing contract at {path}") from None
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path} is not valid JSON: {exc}") from None
    if contract.get("version") != VERSION:
        raise ContractError(f"{path}: contract version {contract.get('version')!r}; this code reads version {VERSION}")
    return contract
