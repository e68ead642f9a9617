"""Deterministic Lambda zips, keyed by a hash of their sources.

The key changes when, and only when, a source file's path or bytes change, so a push that does
not touch the Lambda leaves its stack's template (and the pipeline) untouched.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from infra.config.names import LAMBDA_PREFIX

# lambda_src/<folder> -> the name its S3 key is written in for (Ref("NotifierCodeKey") in a stack).
FUNCTIONS = {"get_model_metadata": "NotifierCodeKey", "registry_metrics": "MetricsCodeKey", "report_partitions": "PartitionsCodeKey",
             "subscriber_check": "SubscriberCheckCodeKey", "deploy_resolve": "ResolveCodeKey", "deploy_smoke_test": "SmokeTestCodeKey",
             "archive_pin": "ArchivePinCodeKey"}

# lambda_src/shared/: code every function uses, packaged into each zip beside the function's own folder.
SHARED = "shared"

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold
_IGNORED_PARTS = {"__pycache__", ".pytest_cache"}


def source_files(folder: Path) -> list[Path]:
    """The Python sources under folder: a stray file (an editor's backup, .DS_Store) is neither zipped nor hashed,
    so a key rendered on a laptop is the key the Synth build reproduces from a clean checkout."""
    files = [p for p in folder.rglob("*.py") if p.is_file() and not (_IGNORED_PARTS & set(p.parts))]
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def zip_entries(folder: Path) -> list[tuple[str, Path]]:
    """(name in the zip, file), sorted by name: the function's folder, then lambda_src/shared/ as `shared/`."""
    entries = [(f"{folder.name}/{p.relative_to(folder).as_posix()}", p) for p in source_files(folder)]
    shared = folder.parent / SHARED
    if shared.is_dir():
        entries += [(f"{SHARED}/{p.relative_to(shared).as_posix()}", p) for p in source_files(shared)]
    return sorted(entries)


def digest(folder: Path) -> str:
    """A hash of every file the zip holds, names and bytes: a change to shared code changes every key."""
    h = hashlib.sha256()
    for name, path in zip_entries(folder):
        rel = name.encode()
        data = path.read_bytes()
        h.update(len(rel).to_bytes(4, "big") + rel + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def code_key(folder: Path) -> str:
    return f"{LAMBDA_PREFIX}{folder.name}-{digest(folder)[:24]}.zip"


def build_zip(folder: Path) -> bytes:
    """The zip's bytes depend only on file paths and contents: fixed times, modes and order.

    Files sit under the folder's name, so the function is a package (handler
    "<folder>.handler.lambda_handler") and relative imports work in Lambda and in tests alike; the shared
    code sits beside it as the package `shared`.
    """
    import io
    import zipfile  # here, not at the top: rendering only hashes the sources; the synth build zips them

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in zip_entries(folder):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return buffer.getvalue()


def parameters(lambda_src: Path) -> dict[str, str]:
    """Parameter values naming each function's zip key, for the folders that exist."""
    return {param: code_key(lambda_src / folder) for folder, param in FUNCTIONS.items() if (lambda_src / folder).is_dir()}


def write_zips(lambda_src: Path, out_dir: Path) -> list[Path]:
    """Write each function's zip to out_dir/<code key>; return the paths (used by the synth build)."""
    written = []
    for folder in FUNCTIONS:
        source = lambda_src / folder
        if not source.is_dir():
            continue
        target = out_dir / code_key(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(build_zip(source))
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    """Write every function's zip under argv[0] (default build/) and print the paths: the Synth build's step."""
    root = Path(__file__).resolve().parents[2]
    out = Path(argv[0]) if argv else root / "build"
    for path in write_zips(root / "lambda_src", out):
        print(path)
    return 0
