"""A production endpoint for the rollout's tests: moto's SageMaker, with what moto lacks answered here.

moto implements CreateModel, CreateEndpointConfig, CreateEndpoint and DescribeEndpoint, not UpdateEndpoint. The
function's own SageMaker client gets UpdateEndpoint answered in botocore's before-call event (after the request was
validated against the service model; nothing is sent): the endpoint goes Updating, and the test then settles the
rollout as SageMaker would: `settle("rolled_out")` moves it to the new config, `settle("rolled_back")` leaves it
InService on the old one with a FailureReason (as SageMaker reports a blue/green rollback). The production stack's
outputs are answered the same way for DescribeStacks (moto's stacks made from change sets have none).
"""
from __future__ import annotations

import datetime as dt
import json

import boto3

from shared import clients
from tests.support.pipeline_job_support import _Http

ROLLBACK_REASON = "Rolled back: alarm {alarm} was in ALARM during the baking period"


class Production:
    def __init__(self, account: str, region: str, endpoint: str, stack: str, outputs: dict[str, str]):
        from moto.sagemaker.models import sagemaker_backends

        self.backend = sagemaker_backends[account][region]
        self.endpoint, self.stack, self.outputs = endpoint, stack, dict(outputs)
        self.updates: list[dict] = []
        self.sm = boto3.client("sagemaker", region_name=region)
        function_sm = clients.client("sagemaker")  # the client the function uses: UpdateEndpoint is answered on it
        function_sm.meta.events.register("before-call.sagemaker.UpdateEndpoint", self._update)
        clients.client("cloudformation").meta.events.register("before-call.cloudformation.DescribeStacks", self._stacks)

    def version(self, package_arn: str, instance_type: str = "ml.m5.large") -> str:
        """A model and endpoint config for a model package version, as the production stack makes them."""
        self.made = getattr(self, "made", 0) + 1  # each stack update makes new ones, under new names
        suffix = f"{package_arn.rsplit('/', 1)[1]}-{instance_type.replace('.', '')}-{self.made}"
        model = f"Model-{suffix}"
        self.sm.create_model(ModelName=model, Containers=[{"ModelPackageName": package_arn}],
                             ExecutionRoleArn=f"arn:aws:iam::{self.backend.account_id}:role/model")
        config = f"EndpointConfig-{suffix}"
        self.sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": model, "InstanceType": instance_type, "InitialInstanceCount": 2}])
        return config

    def stack_holds(self, package_arn: str, config: str) -> None:
        """The production stack deployed for this version (its outputs, as the rollout reads them)."""
        self.outputs.update(ModelPackageArn=package_arn, EndpointConfigName=config,
                            ModelPackageVersion=package_arn.rsplit("/", 1)[1])

    def _stacks(self, params, **_):
        outputs = [{"OutputKey": k, "OutputValue": v} for k, v in sorted(self.outputs.items())]
        return _Http(200), {"Stacks": [{"StackName": self.stack, "StackStatus": "UPDATE_COMPLETE",
                                        "CreationTime": dt.datetime.now(dt.timezone.utc), "Outputs": outputs}]}

    def _update(self, params, **_):
        request = json.loads(params["body"])
        self.updates.append(request)
        endpoint = self.backend.endpoints[request["EndpointName"]]
        endpoint.endpoint_status, self.target = "Updating", request["EndpointConfigName"]
        return _Http(200), {"EndpointArn": endpoint.arn}

    def settle(self, outcome: str, alarm: str = "") -> None:
        """End the rollout under way as SageMaker would: 'rolled_out', 'rolled_back' (naming `alarm`, or with no
        FailureReason when none is given) or 'failed'."""
        endpoint = self.backend.endpoints[self.endpoint]
        if outcome == "rolled_out":
            endpoint.endpoint_config_name, endpoint.failure_reason = self.target, None
            endpoint.endpoint_status = "InService"
        elif outcome == "rolled_back":  # SageMaker may leave no FailureReason (terraform-provider-aws #49020)
            endpoint.endpoint_status = "InService"
            endpoint.failure_reason = ROLLBACK_REASON.format(alarm=alarm) if alarm else None
        else:
            endpoint.endpoint_status, endpoint.failure_reason = "Failed", "the new fleet could not be provisioned"

    def serves(self) -> str:
        """The version DescribeEndpoint -> config -> model -> package says production serves ("" for none)."""
        described = self.sm.describe_endpoint(EndpointName=self.endpoint)
        if described["EndpointStatus"] != "InService":
            return ""
        config = self.sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        model = self.sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        return model["Containers"][0]["ModelPackageName"].rsplit("/", 1)[1]
