"""The registered model, served by the XGBoost 3.0-5 image's own serving library, answers every client mistake
4xx with one line naming it, and a good request 200: never 5xx, which the production rollout's rollback alarm
counts (Invocation5XXErrors).

The archive is built by the pipeline's packager around a booster trained here and a contract fitted by the
pipeline's contract code. tests/support/serving_container.py starts it in .venv-serving (requirements-serving.txt,
the image's library versions) as the container does: `pip install .` of the code with no package index (network
isolation) and the registered model's environment, then the toolkit's Transformer and Flask Worker.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost
from hypothesis import HealthCheck, given, settings, strategies as st

from pipeline_def.steps import contract as contract_lib
from pipeline_def.steps import inference, package

ROOT = Path(__file__).resolve().parents[2]
SERVING_PYTHON = ROOT / ".venv-serving" / "bin" / "python"
HARNESS = ROOT / "tests" / "support" / "serving_container.py"
CSV, JSON = "text/csv", "application/json"


def training_frame() -> pd.DataFrame:
    n = 60
    return pd.DataFrame({
        "Region": ["north", "south", "east", "west", "north", "east"] * (n // 6),
        "Minutes": [float(i % 13) * 10.5 for i in range(n)],
        "Calls": [i % 7 for i in range(n)],
        "Churn?": ["yes", "no", "no", "yes", "no"] * (n // 5),
    })


def build_archive(tmp: Path) -> Path:
    """model.tar.gz as PackageModel writes it: a booster trained on the contract's features, the contract, the code."""
    frame = training_frame()
    contract = contract_lib.fit(frame.drop(columns=["Churn?"]), "Churn?", ["yes"], [])
    label = contract_lib.labels(frame, "Churn?", ["yes"])
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 2}, xgboost.DMatrix(contract_lib.apply(contract, frame), label=label), 4)
    for name in ("train", "model", "contract"):
        (tmp / name).mkdir()
    booster.save_model(str(tmp / "train" / "model.ubj"))
    import tarfile

    with tarfile.open(tmp / "model" / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp / "train" / "model.ubj", arcname=package.MODEL_FILE)
    (tmp / "contract" / contract_lib.FILE_NAME).write_text(contract_lib.dumps(contract), encoding="utf-8")
    return Path(package.package(str(tmp / "model"), str(tmp / "contract"), str(Path(package.__file__).parent), str(tmp / "out")))


class Container:
    """The harness process: ask(body, content_type, accept) -> (status, body text, content type)."""

    def __init__(self, archive: Path, workdir: Path, environment: dict):
        if not SERVING_PYTHON.exists():
            pytest.fail(f"{SERVING_PYTHON.relative_to(ROOT)} is missing: run `make serving-venv`", pytrace=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "SAGEMAKER_", "PYTHON"))}
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "container.log"  # a file, not a pipe: a full pipe would stall the container
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([str(SERVING_PYTHON), str(HARNESS), str(archive), str(workdir)], env={**env, **environment},
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)

    def _call(self, request: dict) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.process.stdin.close()
            raise AssertionError(f"the container stopped: {self.log.read_text()[-1500:]}")
        return json.loads(line)

    def ask(self, body, content_type: str | None = CSV, accept: str | None = CSV) -> tuple[int, str, str]:
        raw = body if isinstance(body, bytes) else body.encode()
        answer = self._call({"body": base64.b64encode(raw).decode(), "content_type": content_type, "accept": accept})
        return answer["status"], base64.b64decode(answer["body"]).decode("utf-8", "replace"), answer["content_type"]

    def container_encoding(self, values: list[float], accept: str) -> str:
        return base64.b64decode(self._call({"encode": values, "accept": accept})["body"]).decode()

    def stop(self) -> str:
        self.process.stdin.close()
        self.process.wait(timeout=60)
        return self.log.read_text()


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return build_archive(tmp_path_factory.mktemp("serving-model"))


@pytest.fixture(scope="module")
def served(archive, tmp_path_factory):
    container = Container(archive, tmp_path_factory.mktemp("serving-container"), package.SERVING_ENVIRONMENT)
    yield container
    container.stop()


@pytest.fixture(scope="module")
def columns(archive) -> list[str]:
    return ["Region", "Minutes", "Calls"]


GOOD = "north,21.0,3\n"


def one_line_reason(status: int, body: str) -> bool:
    return 400 <= status < 500 and body.strip() and "\n" not in body.strip()


# -- a good request --------------------------------------------------------------------------------------------
def test_a_good_request_is_answered_200_with_one_probability_per_row(served):
    status, body, content_type = served.ask("north,21.0,3\nwest,99.5,6\n")
    assert (status, content_type.split(";")[0]) == (200, CSV), body
    scores = [float(v) for v in body.split()]
    assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)
    status, body, _ = served.ask(json.dumps({"instances": [{"Region": "north", "Minutes": 21.0, "Calls": 3}]}), JSON, JSON)
    assert status == 200 and len(json.loads(body)) == 1


@pytest.mark.parametrize("accept", [CSV, JSON])
def test_answers_are_encoded_as_the_containers_own_encoder_writes_them(served, accept):
    """The smoke test and every caller read what the container's default output_fn wrote before transform_fn."""
    status, body, _ = served.ask("north,21.0,3\nsouth,0,0\n", CSV, accept)
    values = [float(v) for v in (body.split() if accept == CSV else json.loads(body))]
    assert status == 200 and body == served.container_encoding(values, accept)


def test_a_header_line_equal_to_the_columns_is_skipped(served, columns):
    assert served.ask(",".join(columns) + "\n" + GOOD)[1] == served.ask(GOOD)[1]


# -- missing values: the tokens training reads as missing ------------------------------------------------------
@pytest.mark.parametrize("token", sorted(contract_lib.MISSING_TOKENS))
def test_every_missing_token_training_accepts_takes_the_training_median(served, token):
    status, body, _ = served.ask(f"north,{token},3\n")
    assert status == 200, body
    assert body == served.ask("north,,3\n")[1]
    status, body, _ = served.ask(json.dumps({"instances": [{"Region": "north", "Minutes": token, "Calls": 3}]}), JSON, CSV)
    assert (status, body) == (200, served.ask("north,,3\n")[1])


@pytest.mark.parametrize("column, empty", [("Region", ",21.0,3\n"), ("Minutes", "north,,3\n"), ("Calls", "north,21.0,\n")])
def test_json_null_is_a_missing_value_as_an_empty_csv_field(served, column, empty):
    row = {"Region": "north", "Minutes": 21.0, "Calls": 3, column: None}
    assert served.ask(json.dumps({"instances": [row]}), JSON, CSV) == served.ask(empty)


def test_the_largest_float32_is_a_number_the_model_scores(served):
    status, body, _ = served.ask(f"north,{float(np.finfo(np.float32).max)!r},3\n")
    assert status == 200, body


def test_missing_tokens_are_what_training_reads_as_missing():
    """preprocess.py reads the training files with pandas' defaults: the same tokens, no more, no fewer."""
    from pandas._libs.parsers import STR_NA_VALUES

    assert contract_lib.MISSING_TOKENS == STR_NA_VALUES
    read = pd.read_csv(io.StringIO("x\n" + "\n".join(f'"{t}"' for t in sorted(contract_lib.MISSING_TOKENS))), dtype=str)
    assert read["x"].isna().all()


# -- client mistakes: 4xx with the reason, one line ------------------------------------------------------------
MISTAKES = {
    "malformed row (unclosed quote)": ('north,"21.0,3\n', CSV, CSV, 400, "cannot be read"),
    "too few values": ("north,21.0\n", CSV, CSV, 400, "has 2 values; the model expects 3"),
    "too many values": ("north,21.0,3,9\n", CSV, CSV, 400, "has 4 values; the model expects 3"),
    "a short later row": ("north,21.0,3\nsouth,1\n", CSV, CSV, 400, "row 2 has 2 values"),
    "not a number": ("north,lots,3\n", CSV, CSV, 400, "column 'Minutes' expects numbers; data row 1 has 'lots'"),
    "infinity": ("north,inf,3\n", CSV, CSV, 400, "expects numbers"),
    "empty body": ("", CSV, CSV, 400, "empty"),
    "blank lines only": ("\n \n", CSV, CSV, 400, "empty"),
    "header only": ("Region,Minutes,Calls\n", CSV, CSV, 400, "no rows"),
    # The toolkit decodes a body sent as exactly text/csv itself, replacing what is not UTF-8; with a charset it does not.
    "not UTF-8, text/csv": (b"north,\xff\xfe,3\n", CSV, CSV, 400, "expects numbers"),
    "not UTF-8, with a charset": (b"north,\xff\xfe,3\n", CSV + "; charset=utf-8", CSV, 400, "not UTF-8"),
    "JSON that is not JSON": ("{instances:", JSON, JSON, 400, "JSON body cannot be read"),
    "JSON of the wrong shape": ('{"rows": []}', JSON, JSON, 400, '{"instances"'),
    "JSON without rows": ('{"instances": []}', JSON, JSON, 400, "at least one row"),
    "JSON lacking a column": ('{"instances": [{"Region": "north", "Calls": 3}]}', JSON, JSON, 400, "lacks column(s) the model expects: Minutes"),
    "JSON list as a number": ('{"instances": [{"Region": "north", "Minutes": [1], "Calls": 3}]}', JSON, JSON, 400, "expects numbers"),
    "JSON true as a number": ('{"instances": [{"Region": "north", "Minutes": true, "Calls": 3}]}', JSON, JSON, 400, "expects numbers"),
    # Finite as float64 but not as float32, which XGBoost's DMatrix stores (and refuses as inf).
    "a number beyond float32": ("north,1e39,3\n", CSV, CSV, 400, "column 'Minutes' expects numbers within ±3.4e38"),
    "a negative number beyond float32": ("north,-1e39,3\n", CSV, CSV, 400, "expects numbers within ±3.4e38"),
    "float32's rounding edge": ("north,3.4028235677973366e+38,3\n", CSV, CSV, 400, "expects numbers within ±3.4e38"),
    "a 500-digit JSON integer": (json.dumps({"instances": [{"Region": "north", "Minutes": 10**500, "Calls": 3}]}), JSON, JSON, 400, "column 'Minutes' expects numbers"),
    "a JSON integer too long for Python": ('{"instances": [{"Region": "north", "Minutes": 1' + "0" * 4300 + ', "Calls": 3}]}', JSON, JSON, 400, "JSON body cannot be read"),
    "JSON object as a number": ('{"instances": [{"Region": "north", "Minutes": {"a": 1}, "Calls": 3}]}', JSON, JSON, 400, "column 'Minutes' expects numbers; data row 1 has a JSON object"),
    "JSON object as text": ('{"instances": [{"Region": {"a": 1}, "Minutes": 1, "Calls": 3}]}', JSON, JSON, 400, "column 'Region' expects text; data row 1 has a JSON object"),
    "JSON list as text": ('{"instances": [{"Region": "north", "Minutes": 1, "Calls": 3}, {"Region": [1, 2], "Minutes": 1, "Calls": 3}]}', JSON, JSON, 400, "column 'Region' expects text; data row 2 has a JSON list"),
    "unsupported content type": (GOOD, "application/x-npy", CSV, 415, "content type 'application/x-npy' is not supported"),
    "text/plain": (GOOD, "text/plain", CSV, 415, "send text/csv or application/json"),
    "unsupported accept": (GOOD, CSV, "application/x-recordio-protobuf", 406, "accept"),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_client_mistake_is_a_4xx_with_its_reason(served, name):
    body, content_type, accept, expected, reason = MISTAKES[name]
    status, text, _ = served.ask(body, content_type, accept)
    assert status == expected and reason in text, (status, text)
    assert one_line_reason(status, text), text


def test_every_contract_error_the_request_path_raises_is_answered_4xx():
    """The class: answer() maps every ContractError (every refusal parse_request, contract.apply and encode can
    raise) to a 4xx; subclasses included. A new refusal that is not a ContractError fails the fuzz test below."""
    errors = [inference.ContractError, inference.UnsupportedMediaType, inference.NotAcceptable]

    class Raises:
        contract = {"columns": []}

        def __init__(self, error):
            self.error = error

        def predict(self, _):
            raise self.error("x")

    for error in errors:
        status, _, _ = inference.answer(Raises(error), "a\n", CSV, CSV)
        assert 400 <= status < 500, error


def _rows(draw_text):
    return st.lists(st.lists(draw_text, min_size=0, max_size=5), min_size=0, max_size=4)


KINDS = {"Region": "categorical", "Minutes": "numeric", "Calls": "numeric"}
FLOAT32_EDGE = 3.4028235677973366e+38  # float32's largest value plus half a step: the first float64 that rounds to inf
BEYOND_FLOAT32 = st.floats(min_value=FLOAT32_EDGE, allow_infinity=False) | st.floats(max_value=-FLOAT32_EDGE, allow_infinity=False)
LONG_INTEGERS = st.builds(lambda sign, digits: sign * int("1" + digits), st.sampled_from([1, -1]), st.text("0123456789", min_size=38, max_size=600))
VALUES = st.one_of(st.sampled_from(sorted(contract_lib.MISSING_TOKENS) + ["north", "1e400", "-0", '"', "a,b", " 7", "\x00"]),
                   st.text(max_size=8), st.floats(allow_nan=True, allow_infinity=True).map(repr), BEYOND_FLOAT32.map(repr), LONG_INTEGERS.map(str))
CSV_BODIES = _rows(VALUES).map(lambda rows: "\n".join(",".join(r) for r in rows))
JSON_SCALARS = st.none() | st.booleans() | st.floats() | st.integers() | BEYOND_FLOAT32 | LONG_INTEGERS | st.text(max_size=6)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
JSON_BODIES = st.one_of(
    # every column present, so each value, scalar or not, reaches its column's kind
    st.lists(st.fixed_dictionaries({name: JSON_VALUES for name in KINDS}, optional={"x": JSON_VALUES}), min_size=1, max_size=3).map(lambda r: json.dumps({"instances": r})),
    st.lists(st.dictionaries(st.sampled_from([*KINDS, "x"]), JSON_VALUES, max_size=4), max_size=3).map(lambda r: json.dumps({"instances": r})),
    JSON_VALUES.map(json.dumps), st.text(max_size=30))


def unscorable(value, kind: str) -> bool:
    """A value the contract cannot score whatever the rest of the request: a JSON object or list in any column; in
    a numeric column, a number whose float32 (what XGBoost stores) is infinite. False means "not known to be bad"."""
    if isinstance(value, (dict, list)):
        return True
    if kind != "numeric" or value is None or isinstance(value, bool):
        return False
    try:
        number = float(value)
    except OverflowError:  # an integer too long for a float
        return True
    except ValueError:
        return False
    with np.errstate(over="ignore"):  # a margin: pandas' to_numeric can parse text 1e-13 off; MISTAKES holds the edge
        return bool(np.isinf(np.float32(number * (1 - 1e-12))))


def must_refuse(body, content_type: str) -> bool:
    """The request holds a value that is unscorable in its column, read as the documented request format."""
    if content_type == JSON:
        try:
            rows = json.loads(body).get("instances")
        except (ValueError, AttributeError):
            return False
        return isinstance(rows, list) and any(unscorable(row[name], kind) for row in rows if isinstance(row, dict)
                                              for name, kind in KINDS.items() if name in row)
    try:
        rows = list(csv.reader(io.StringIO(body if isinstance(body, str) else body.decode()), skipinitialspace=True, strict=True))
    except (csv.Error, UnicodeDecodeError):
        return False
    return any(len(row) == len(KINDS) and any(unscorable(value, kind) for value, kind in zip(row, KINDS.values())) for row in rows)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(CSV_BODIES.map(lambda b: (b, CSV)), JSON_BODIES.map(lambda b: (b, JSON)), st.binary(max_size=40).map(lambda b: (b, CSV))),
       accept=st.sampled_from([CSV, JSON, None, "*/*"]))
def test_no_client_controlled_body_gets_a_5xx_and_no_unscorable_value_a_200(served, body, accept):
    status, text, _ = served.ask(body[0], body[1], accept)
    assert status == 200 or one_line_reason(status, text), (status, text)
    if must_refuse(*body):
        assert status == 400 and one_line_reason(status, text), (status, text)


# -- the start path ----------------------------------------------------------------------------------------------
def test_the_model_code_installs_with_no_package_index_only_with_the_registered_environment(archive, tmp_path):
    """The class: anything the container's start-time `pip install .` would fetch fails an isolated endpoint.
    The same archive without PIP_NO_BUILD_ISOLATION must fail here (pip then fetches setuptools), or this
    check would prove nothing."""
    without = {k: v for k, v in package.SERVING_ENVIRONMENT.items() if k != "PIP_NO_BUILD_ISOLATION"}
    failed = Container(archive, tmp_path / "without", without)
    failed.process.stdin.close()
    assert failed.process.wait(timeout=120) != 0
    assert "pip install of the model code failed" in failed.log.read_text()
