"""Packaging step: the trained model, its preprocessing contract and its serving code as one model.tar.gz.

Runs in the SageMaker XGBoost container (python3 package.py) only when the model passed the
condition, before it is registered. The archive is what the model package points to:

    xgboost-model          the built-in algorithm's booster, unchanged
    contract.json          preprocess.py's contract (evaluate.py scored the test rows with it)
    code/inference.py      model_fn / transform_fn for the container's framework mode
    code/contract.py

Members are sorted, owned by root and dated 0, so the same inputs give the same bytes.
"""
from __future__ import annotations

import argparse
import gzip
import io
import os
import sys
import tarfile

MODEL_DIR = "/opt/ml/processing/model"
CONTRACT_DIR = "/opt/ml/processing/contract"
LIB_DIR = "/opt/ml/processing/input/lib"
OUTPUT_DIR = "/opt/ml/processing/package"
MODEL_FILE = "xgboost-model"
CONTRACT_FILE = "contract.json"
CODE_FILES = ("contract.py", "inference.py")
ARCHIVE = "model.tar.gz"
# The registered model's container environment: serve code/inference.py in the XGBoost container's framework
# mode. At start the container runs `pip install .` on code/; pip's default build isolation would fetch
# setuptools from the package index, which an endpoint with network isolation cannot reach. pip reads
# PIP_NO_<OPTION> inverted: "false" here is --no-build-isolation (pip's configuration docs; pypa/pip#5735).
SERVING_ENVIRONMENT = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    "PIP_NO_BUILD_ISOLATION": "false",
}


def _booster_bytes(model_dir: str) -> bytes:
    with tarfile.open(os.path.join(model_dir, ARCHIVE)) as tar:
        member = tar.getmember(MODEL_FILE)  # KeyError when the training output is not the built-in algorithm's
        return tar.extractfile(member).read()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 0, 0o644, "root", "root"
    tar.addfile(info, io.BytesIO(data))


def package(model_dir: str, contract_dir: str, lib_dir: str, output_dir: str) -> str:
    members = {MODEL_FILE: _booster_bytes(model_dir)}
    with open(os.path.join(contract_dir, CONTRACT_FILE), "rb") as f:
        members[CONTRACT_FILE] = f.read()
    for name in CODE_FILES:
        with open(os.path.join(lib_dir, name), "rb") as f:
            members[f"code/{name}"] = f.read()
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, ARCHIVE)
    buffer = io.BytesIO()
    # gzip with mtime 0: the archive's bytes depend on its members only.
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name in sorted(members):
            _add(tar, name, members[name])
    with open(path, "wb") as f:
        f.write(buffer.getvalue())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=MODEL_DIR)
    parser.add_argument("--contract-dir", default=CONTRACT_DIR)
    parser.add_argument("--lib-dir", default=LIB_DIR)
    parser.add_argument("--output-dir", default=OUTPUT_DIR)
    args = parser.parse_args(argv)
    try:
        path = package(args.model_dir, args.contract_dir, args.lib_dir, args.output_dir)
    except (OSError, KeyError, tarfile.TarError) as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 1
    print(f"package: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
