"""Any YAML document gives either a valid config or the one-line error; never a traceback."""
from __future__ import annotations

import shutil
import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra import config
from tests.conftest import FIXTURE_CONFIG

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40),
    st.sampled_from(["eu-west-1", "Approved", "codecommit", "s3", "ml.m5.large", "a@example.com", "cron(0 6 * * ? *)"]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=12), st.integers()), inner, max_size=5)),
    max_leaves=20,
)
KEYS = ["region", "account_id", "source", "notifications", "sagemaker", "kpi", "log_retention_days", "tags", "type",
        "emails", "statuses", "branch", "repository", "connection_arn", "bucket", "key"]
env_shaped = st.dictionaries(st.sampled_from(KEYS), documents, max_size=8)


def _one_line_or_valid(tmp_path, text: str) -> None:
    cfg = tmp_path / "config"
    if not cfg.exists():
        shutil.copytree(FIXTURE_CONFIG, cfg)  # the tests' own config: dev.yaml is one of its envs
    (cfg / "dev.yaml").write_text(text, encoding="utf-8")
    try:
        config.load(cfg)
    except config.ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and "dev.yaml" in message, message


settings_ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings_
@given(documents)
def test_any_yaml_value_is_valid_or_one_line_error(tmp_path, doc):
    _one_line_or_valid(tmp_path, yaml.safe_dump(doc, allow_unicode=True))


@settings_
@given(env_shaped)
def test_env_shaped_mappings_are_valid_or_one_line_error(tmp_path, doc):
    _one_line_or_valid(tmp_path, yaml.safe_dump(doc, allow_unicode=True))


@settings_
@given(st.text(alphabet=string.printable + "ü→\t{}[]&*!|>'\"%@`", max_size=200))
def test_arbitrary_text_is_valid_or_one_line_error(tmp_path, text):
    _one_line_or_valid(tmp_path, text)
