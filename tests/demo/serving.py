"""InvokeEndpoint answered in-process by the model the (moto) endpoint serves, through its own packaged serving code.

moto's InvokeEndpoint answers a canned body. Here the sagemaker-runtime client the smoke test uses is a real
botocore client (the request is validated and serialised as for AWS) whose calls are answered before anything
is sent, as botocore.stub.Stubber does: the endpoint is looked up on moto (InService, its config's variant, its
model's model package), the package's ModelDataUrl archive is read from moto's S3, and the very request bytes
the smoke test sent go through the archive's code/inference.py (model_fn, then answer(), what its transform_fn returns), as the
SageMaker XGBoost container runs them. The container's default output encoding is emulated: text/csv, one
value per line; application/json, a JSON list.
"""
from __future__ import annotations

import importlib.util
import io
import json
import sys
import tarfile
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from shared import clients  # lambda_src/ is on sys.path: tests/__init__.py


@dataclass(frozen=True)
class Answered:
    endpoint: str
    content_type: str
    request: bytes
    answer: bytes


class _Http:
    def __init__(self, status_code: int):
        self.status_code, self.headers, self.content = status_code, {}, b""


class LocalEndpoints:
    def __init__(self, region: str):
        import boto3
        from botocore.config import Config

        self.sagemaker, self.s3 = boto3.client("sagemaker", region_name=region), boto3.client("s3", region_name=region)
        self.client = boto3.client("sagemaker-runtime", region_name=region, config=Config(**clients.RUNTIME))
        self.client.meta.events.register("before-call.sagemaker-runtime.InvokeEndpoint", self._answer)
        self.models: dict[str, object] = {}  # ModelDataUrl -> the loaded model
        self.answered: list[Answered] = []
        clients._clients["sagemaker-runtime"] = self.client

    def close(self) -> None:
        clients._clients.pop("sagemaker-runtime", None)

    def _model(self, endpoint: str):
        described = self.sagemaker.describe_endpoint(EndpointName=endpoint)
        if described["EndpointStatus"] != "InService":
            raise LookupError(f"endpoint {endpoint} is {described['EndpointStatus']}")
        config = self.sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        variant = config["ProductionVariants"][0]
        model = self.sagemaker.describe_model(ModelName=variant["ModelName"])
        container = (model.get("Containers") or [model.get("PrimaryContainer")])[0]
        package = self.sagemaker.describe_model_package(ModelPackageName=container["ModelPackageName"])
        url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        if url not in self.models:
            self.models[url] = _load(self.s3, url)
        return variant["VariantName"], self.models[url]

    def _answer(self, params, **_):
        endpoint = urllib.parse.unquote(params["url_path"].split("/")[2])
        content_type, accept = params["headers"].get("Content-Type"), params["headers"].get("Accept") or "text/csv"
        body = params["body"] if isinstance(params["body"], bytes) else str(params["body"]).encode()
        variant, (inference, model) = self._model(endpoint)
        status, text, _ = inference.answer(model, body, content_type, accept)  # what the container answers
        if status != 200:  # SageMaker reports the container's 4xx as a ModelError, with its body
            return _Http(424), {"Error": {"Code": "ModelError", "Message": f"Received client error ({status}): {text.strip()}"},
                                "ResponseMetadata": {"HTTPStatusCode": 424}}
        answer = text.encode()
        self.answered.append(Answered(endpoint, content_type, body, answer))
        from botocore.response import StreamingBody

        return _Http(200), {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": accept,
                            "InvokedProductionVariant": variant, "ResponseMetadata": {"HTTPStatusCode": 200}}


def _load(s3, url: str):
    """(the archive's inference module, its model_fn(model_dir)); the archive is extracted to a temporary folder."""
    bucket, key = url[len("s3://"):].split("/", 1)
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tempfile.TemporaryDirectory(prefix="demo-endpoint-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(tmp, filter="data")
        code = Path(tmp) / "code" / "inference.py"
        name = f"demo_served_inference_{len(sys.modules)}"
        spec = importlib.util.spec_from_file_location(name, code)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        finally:
            if sys.path and sys.path[0] == str(code.parent):  # inference.py puts its folder first
                sys.path.pop(0)
        return module, module.model_fn(tmp)
