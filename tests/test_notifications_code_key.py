"""The notifier's zip key (NotifierCodeKey) changes when, and only when, a Lambda source file changes."""
from __future__ import annotations

import os
import shutil
import zipfile
import io

import pytest

from infra.output import lambda_package
from tests.notifier_support import ROOT


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "get_model_metadata"
    shutil.copytree(ROOT / "lambda_src" / "get_model_metadata", folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_key_is_stable_across_copies_mtimes_modes_and_bytecode(source):
    before = lambda_package.code_key(source)
    handler = source / "handler.py"
    os.utime(handler, (0, 1_000_000_000))
    handler.chmod(0o755)
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"\0junk")
    assert lambda_package.code_key(source) == before
    assert lambda_package.build_zip(source) == lambda_package.build_zip(source)


def test_key_changes_when_a_source_file_changes(source):
    before = lambda_package.code_key(source)
    handler = source / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    assert lambda_package.code_key(source) != before


def test_key_changes_when_a_file_is_added_or_renamed(source):
    before = lambda_package.code_key(source)
    (source / "log.py").rename(source / "logging_json.py")
    renamed = lambda_package.code_key(source)
    assert renamed != before
    (source / "extra.py").write_text("")
    assert lambda_package.code_key(source) not in (before, renamed)


def test_the_zip_holds_the_handler_under_its_package_folder(source):
    names = zipfile.ZipFile(io.BytesIO(lambda_package.build_zip(source))).namelist()
    assert "get_model_metadata/handler.py" in names and "get_model_metadata/__init__.py" in names


def test_rendered_parameters_carry_the_current_key(rendered, env_names):
    key = lambda_package.code_key(ROOT / "lambda_src" / "get_model_metadata")
    for env in env_names:
        assert f'"NotifierCodeKey": "{key}"' in rendered[f"{env}/notifications.json"], env
