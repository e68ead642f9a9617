"""Helpers for the deployment pipeline's Lambda tests: job events, and a CodePipeline that records results.

moto does not implement the CodePipeline job APIs (PutJobSuccessResult raises NotImplementedError), so
the functions get a real botocore client whose requests are answered here: botocore still validates and
serialises every call against the service model, the test sees what was sent, and nothing leaves the
process. The functions import as Lambda imports them: lambda_src/ is the zip's root.
"""
from __future__ import annotations

import json
import uuid

from shared import clients  # lambda_src/ is on sys.path: tests/__init__.py


def job_event(user_parameters: str | None = None, job_id: str | None = None, function_name: str = "deploy-fn",
              account: str = "123456789012", continuation_token: str | None = None) -> dict:
    """The event CodePipeline sends a Lambda invoke action (the CodePipeline user guide's example shape); with
    `continuation_token`, the event of a later invocation of the same job."""
    configuration = {"FunctionName": function_name}
    if user_parameters is not None:
        configuration["UserParameters"] = user_parameters
    event = {"CodePipeline.job": {
        "id": job_id or str(uuid.uuid4()),
        "accountId": account,
        "data": {
            "actionConfiguration": {"configuration": configuration},
            "inputArtifacts": [],
            "outputArtifacts": [],
            "artifactCredentials": {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "artifact-secret",
                                    "sessionToken": "artifact-session-token"},
        },
    }}
    if continuation_token is not None:
        event["CodePipeline.job"]["data"]["continuationToken"] = continuation_token
    return event


class FakeCodePipeline:
    """Answers PutJobSuccessResult / PutJobFailureResult; `fail_with` makes the next answers an error.

    The answer is given in botocore's before-call event (as botocore.stub.Stubber does), after the
    request was validated and serialised and before anything is sent, so moto never sees the call.
    """

    def __init__(self, region: str = "eu-west-1"):
        import boto3
        from botocore.config import Config

        self.calls: list[tuple[str, dict]] = []
        self.fail_with: tuple[int, str] | None = None
        self.client = boto3.client("codepipeline", region_name=region, config=Config(retries={"max_attempts": 1}))
        self.client.meta.events.register("before-call.codepipeline", self._answer)
        clients._clients["codepipeline"] = self.client

    def _answer(self, params, model, **_):
        self.calls.append((model.name, json.loads(params["body"] or b"{}")))
        if self.fail_with is None:
            return _Http(200), {"ResponseMetadata": {"HTTPStatusCode": 200}}
        status, code = self.fail_with
        return _Http(status), {"Error": {"Code": code, "Message": f"{code} (injected)"},
                               "ResponseMetadata": {"HTTPStatusCode": status}}

    @property
    def results(self) -> list[tuple[str, dict]]:
        return [(name, body) for name, body in self.calls if name.startswith("PutJob")]

    def only_result(self) -> tuple[str, dict]:
        assert len(self.results) == 1, f"expected one job result, got {self.results}"
        return self.results[0]


class _Http:
    def __init__(self, status_code: int):
        self.status_code, self.headers, self.content = status_code, {}, b""


def logged(capsys) -> list[dict]:
    """The JSON log lines the function wrote to stdout."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


class FakeServiceQuotas:
    """Answers ListServiceQuotas / ListAWSDefaultServiceQuotas for SageMaker (moto implements neither for it):
    `applied` and `defaults` map instance types to their "<type> for endpoint usage" quota. Requests are validated
    and serialised by botocore, as for FakeCodePipeline; `calls` records them."""

    def __init__(self, region: str = "eu-west-1", applied: dict[str, float] | None = None,
                 defaults: dict[str, float] | None = None):
        import boto3

        self.applied, self.defaults, self.calls = applied or {}, defaults or {}, []
        self.client = boto3.client("service-quotas", region_name=region)
        self.client.meta.events.register("before-call.service-quotas", self._answer)
        clients._clients["service-quotas"] = self.client

    def _answer(self, params, model, **_):
        self.calls.append((model.name, json.loads(params["body"] or b"{}")))
        source = self.applied if model.name == "ListServiceQuotas" else self.defaults
        quotas = [{"ServiceCode": "sagemaker", "QuotaName": f"{t} for endpoint usage", "QuotaCode": f"L-{i:08X}",
                   "Value": value} for i, (t, value) in enumerate(sorted(source.items()))]
        return _Http(200), {"Quotas": quotas, "ResponseMetadata": {"HTTPStatusCode": 200}}
