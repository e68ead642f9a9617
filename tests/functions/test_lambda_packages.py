"""Each function's zip: its key changes when, and only when, a file it holds changes (its own or the shared
code), and it imports on its own, from the zip alone, the way Lambda loads it."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.config.names import Names
from infra.output import lambda_package
from tests.conftest import ROOT

LAMBDA_SRC = ROOT / "lambda_src"


@pytest.fixture
def source(tmp_path):
    """A copy of lambda_src/ with the notifier and the shared code; returns the notifier's folder."""
    for folder in ("get_model_metadata", lambda_package.SHARED):
        shutil.copytree(LAMBDA_SRC / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "get_model_metadata"


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


def test_key_changes_when_the_shared_code_changes(source):
    before = lambda_package.code_key(source)
    shared_log = source.parent / lambda_package.SHARED / "log.py"
    shared_log.write_text(shared_log.read_text() + "\n# changed\n")
    assert lambda_package.code_key(source) != before


def test_key_changes_when_a_file_is_added_or_renamed(source):
    before = lambda_package.code_key(source)
    (source / "report.py").rename(source / "quality_report.py")
    renamed = lambda_package.code_key(source)
    assert renamed != before
    (source / "extra.py").write_text("")
    assert lambda_package.code_key(source) not in (before, renamed)


def test_the_zip_holds_the_handler_under_its_package_folder_and_the_shared_code_beside_it(source):
    names = zipfile.ZipFile(io.BytesIO(lambda_package.build_zip(source))).namelist()
    assert {"get_model_metadata/handler.py", "get_model_metadata/__init__.py", "shared/__init__.py", "shared/log.py"} <= set(names)
    assert names == sorted(names)


# What Lambda's Python runtime provides beside the zip: the standard library and the AWS SDK.
LAMBDA_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


@pytest.fixture(scope="module")
def lambda_runtime(tmp_path_factory):
    """A folder holding only the packages Lambda's runtime adds to the standard library (links into this venv)."""
    import importlib.util

    folder = tmp_path_factory.mktemp("lambda-runtime")
    for name in LAMBDA_RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (folder / source.name).symlink_to(source)
    return folder


@pytest.mark.parametrize("folder", sorted(lambda_package.FUNCTIONS))
def test_each_function_imports_from_its_zip_alone(folder, tmp_path, lambda_runtime):
    """Lambda's code root is the zip: a function that imports what its zip lacks (infra, tests, a sibling
    function, shared code the packager left out, a library of this venv such as yaml) fails here, in a fresh
    interpreter that sees the standard library, the zip and the runtime's AWS SDK only (-I -S: no site-packages)."""
    zipfile.ZipFile(io.BytesIO(lambda_package.build_zip(LAMBDA_SRC / folder))).extractall(tmp_path)
    code = f"import sys; sys.path[:0] = [{str(tmp_path)!r}, {str(lambda_runtime)!r}]; import {folder}.handler"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


def test_every_function_folder_is_packaged():
    """A function folder missing from FUNCTIONS gets no zip and no code key: its stack would deploy nothing."""
    folders = {p.parent.name for p in LAMBDA_SRC.glob("*/handler.py")}
    missing = folders - set(lambda_package.FUNCTIONS)
    assert not missing, f"add {sorted(missing)} to FUNCTIONS in infra/output/lambda_package.py (the parameter naming its zip)"


def test_only_python_sources_count(source):
    """A stray file (an editor's backup, .DS_Store) changes neither the key nor the zip: the Synth build, from a
    clean checkout, must reproduce the committed keys."""
    before, zipped = lambda_package.code_key(source), lambda_package.build_zip(source)
    (source / ".DS_Store").write_bytes(b"\0\1")
    (source.parent / lambda_package.SHARED / "log.py~").write_text("old")
    assert (lambda_package.code_key(source), lambda_package.build_zip(source)) == (before, zipped)


# The model-deployment functions: only an env that serves models (config `deployment`) deploys them.
SERVING_FUNCTIONS = {"deploy_resolve", "deploy_smoke_test"}
# A source env's archive pin: only an env whose approved versions another account serves deploys it.
SOURCE_FUNCTIONS = {"archive_pin"}


@pytest.mark.every_env
def test_each_envs_templates_write_in_the_current_keys(rendered, project, env):
    """Every function of the env's templates deploys the zip of its own folder's current sources (Code.S3Key, written
    in: no *CodeKey parameter is left to fill), and every packaged function is deployed in the env."""
    from tests.support.cfn import load

    deployed: dict[str, set[str]] = {}
    for path, text in rendered.items():
        if not (path.startswith(f"{env}/") and path.endswith(".yaml")):
            continue
        template = load(text)
        assert not [p for p in template.get("Parameters", {}) if p in lambda_package.FUNCTIONS.values()], path
        for resource in template.get("Resources", {}).values():
            if resource["Type"] == "AWS::Lambda::Function":
                folder = resource["Properties"]["Handler"].split(".", 1)[0]
                deployed.setdefault(folder, set()).add(resource["Properties"]["Code"]["S3Key"])
    for path, text in rendered.items():
        if path.startswith(f"{env}/") and path.endswith(".json"):
            assert not set(lambda_package.FUNCTIONS.values()) & set(json.loads(text)["Parameters"]), path
    serves = project.env(env).deployment is not None
    source = Names(project, project.env(env)).models_taker is not None
    current = {folder: {lambda_package.code_key(LAMBDA_SRC / folder)} for folder in lambda_package.FUNCTIONS
               if (serves or folder not in SERVING_FUNCTIONS) and (source or folder not in SOURCE_FUNCTIONS)}
    assert deployed == current
