"""The SageMaker XGBoost 3.0-5 container's single-model serving path, run on a model.tar.gz, in-process.

Run by .venv-serving's Python (requirements-serving.txt: the image's own serving library, sagemaker-containers,
and its pandas, numpy, XGBoost and Flask versions), never by the test venv:

    python serving_container.py MODEL_TAR_GZ WORKDIR     (the model's environment in os.environ)

What the container does at start, with its library's own functions: extract the archive to <base>/model, copy
SAGEMAKER_SUBMIT_DIRECTORY to <base>/code, write the setup.py it writes (modules.prepare) and `pip install .`
there (modules.install), with no package index, as under network isolation. Then what its WSGI app
(sagemaker_xgboost_container.serving.main, not on PyPI: its dispatch is reproduced in _user_transformer below)
does: import SAGEMAKER_PROGRAM, build the toolkit's Transformer from its hooks, load the model, and serve the
toolkit's Flask Worker. gunicorn and nginx in front of it pass statuses through; Flask's test client stands in
for them, so no socket is opened.

Protocol: one JSON object a line on stdin, {"body": base64, "content_type": str|null, "accept": str|null}; one a
line on stdout, {"status": int, "body": base64, "content_type": str}. {"encode": [numbers], "accept": str} answers
{"body": base64} with the container's own encoder (what its default output_fn writes). A failed start exits non-zero
with one line on stderr.
"""
from __future__ import annotations

import base64
import collections
import collections.abc
import importlib
import json
import os
import sys
import tarfile
import warnings


def _start(archive: str, workdir: str):
    base = os.path.join(workdir, "ml")
    os.environ["SAGEMAKER_BASE_DIR"] = base  # the toolkit's /opt/ml, read when it is imported
    os.environ["SAGEMAKER_SUBMIT_DIRECTORY"] = os.environ["SAGEMAKER_SUBMIT_DIRECTORY"].replace("/opt/ml", base, 1)
    with tarfile.open(archive) as tar:
        tar.extractall(os.path.join(base, "model"), filter="data")
    # The image's Dockerfile rewrites collections.Mapping to collections.abc.Mapping in the toolkit (Python 3.10+).
    collections.Mapping = collections.abc.Mapping
    warnings.simplefilter("ignore")  # pkg_resources' deprecation, on every import of the toolkit
    from sagemaker_containers.beta.framework import env, files, modules

    serving = env.ServingEnv()
    files.download_and_extract(serving.module_dir, env.code_dir)
    modules.prepare(env.code_dir, serving.module_name)
    site = os.path.join(workdir, "site")
    # pip as the container runs it, but into a folder of its own and without any index or pip config of this machine.
    os.environ.update(PIP_TARGET=site, PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    try:
        modules.install(env.code_dir, capture_error=True)
    except Exception as exc:  # noqa: BLE001 - the container stops here too
        sys.exit(f"start: pip install of the model code failed: {' '.join(str(exc).split())[-600:]}")
    sys.path.insert(0, site)
    return importlib.import_module(serving.module_name)


def _user_transformer(module):
    """sagemaker_xgboost_container.serving._user_module_transformer: transform_fn alone, or the three hooks with
    the container's defaults for those missing (its default input_fn decodes for the built-in algorithm: not
    reproduced, our code always brings its own)."""
    from sagemaker_containers.beta.framework import encoders, transformer, worker

    hooks = {name: getattr(module, name, None) for name in ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")}
    if hooks["transform_fn"] and (hooks["input_fn"] or hooks["predict_fn"] or hooks["output_fn"]):
        raise SystemExit("start: transform_fn cannot be used with input_fn, predict_fn or output_fn")
    if hooks["transform_fn"]:
        return transformer.Transformer(model_fn=hooks["model_fn"], transform_fn=hooks["transform_fn"])
    if not hooks["input_fn"]:
        raise SystemExit("start: the container's default input_fn (built-in algorithm formats) is not reproduced")
    return transformer.Transformer(
        model_fn=hooks["model_fn"],
        input_fn=hooks["input_fn"],
        predict_fn=hooks["predict_fn"] or (lambda data, model: model.predict(data, validate_features=False)),
        output_fn=hooks["output_fn"] or (lambda prediction, accept: worker.Response(encoders.encode(prediction, accept), mimetype=accept)),
    )


def main(archive: str, workdir: str) -> int:
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # pip's and the toolkit's output go to stderr; stdout carries the answers only
    module = _start(archive, workdir)
    from sagemaker_containers.beta.framework import encoders, worker
    import numpy as np

    served = _user_transformer(module)
    served.initialize()
    client = worker.Worker(transform_fn=served.transform, module_name=module.__name__).test_client()
    if client.get("/ping").status_code != 200:
        sys.exit("start: /ping did not answer 200")
    for line in sys.stdin:
        request = json.loads(line)
        if "encode" in request:
            body = encoders.encode(np.asarray(request["encode"], dtype="float32"), request["accept"])
            answer = {"body": base64.b64encode(body.encode() if isinstance(body, str) else body).decode()}
        else:
            headers = {k: v for k, v in (("Content-Type", request["content_type"]), ("Accept", request["accept"])) if v is not None}
            response = client.post("/invocations", data=base64.b64decode(request["body"]), headers=headers)
            answer = {"status": response.status_code, "body": base64.b64encode(response.get_data()).decode(),
                      "content_type": response.headers.get("Content-Type", "")}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
