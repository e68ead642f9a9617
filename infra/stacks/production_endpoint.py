"""Production endpoint stack: what a version's rollout needs, never the rollout itself.

- The version's model and endpoint config (replaced for a new version or setting; the replaced ones are retained:
  a rolled-back endpoint serves on them, and a rolled-back version's config can be rolled out again).
- The rollback alarms of that config's fleet (5xx, latency) and the rejected alarm (the version was rejected while it
  rolled out); SageMaker rolls a rollout back on any of them.
- The on-call alarms of whatever fleet serves (EndpointName and VariantName, no config name).
- Outputs: the candidate config and the rollout settings, which the deployment pipeline's rollout reads.

The endpoint itself, and its autoscaling, are the deployment pipeline's (lambda_src/deploy_resolve/rollout.py):
CloudFormation never issues the UpdateEndpoint SageMaker may roll back, so a rollback never leaves the stack naming
a config that serves nothing, nor CloudFormation re-issuing an update to a config in use (docs/endpoints.md).
"""
from __future__ import annotations

from troposphere import GetAtt, Join, Output, Ref, Sub, Template, cloudwatch

from infra.config.names import Names
from infra.cfn import parameters, scanner_skips
from infra.cfn.parameters import deployment_settings
from infra.config.model import Deployment
from infra.cfn.exports import import_value
from troposphere import sagemaker
from infra.cfn.templates_common import new_template
from infra.config.serving import TERMINATION_WAIT_SECONDS
from infra.parts import endpoint
from lambda_src.deploy_resolve import contract as deploy_contract

NAMESPACE = "AWS/SageMaker"


def data_capture(settings: Deployment) -> dict:
    """Requests and responses of the configured share of traffic (none: no capture), under the capture prefix, with
    the artifact key. (troposphere types this property with the transform job's shape, hence the plain dict.)"""
    if not settings.data_capture_percent:
        return {}
    bucket = import_value("PipelineStackName", "ArtifactBucketName")
    return {"DataCaptureConfig": {
        "EnableCapture": True,
        "InitialSamplingPercentage": Ref("DataCapturePercent"),
        "DestinationS3Uri": Sub("s3://${Bucket}/${DataCapturePrefix}${ProductionEndpointName}/", Bucket=bucket),
        "KmsKeyId": endpoint.artifact_key_arn(),
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }}


def _fleet_alarm(logical_id: str, name: str, description: str, metric: str, statistic: str, threshold,
                 config: sagemaker.EndpointConfig) -> cloudwatch.Alarm:
    """One minute of the new fleet's metric (SageMaker publishes per minute), one breaching minute trips it.

    The EndpointConfigName dimension keeps the old fleet's errors out: SageMaker publishes the new fleet's
    metrics under it once it takes traffic, and they go on after the rollout, so the alarm keeps watching the
    config that serves. (An alarm on both fleets would stop every rollout, a fix included, while the old fleet errs:
    https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html.)"""
    topic = import_value("PipelineStackName", "OperationsTopicArn")
    return cloudwatch.Alarm(
        logical_id,
        AlarmName=Sub(name),
        AlarmDescription=description,
        Namespace=NAMESPACE,
        MetricName=metric,
        Dimensions=[
            cloudwatch.MetricDimension(Name="EndpointName", Value=Ref("ProductionEndpointName")),
            cloudwatch.MetricDimension(Name="VariantName", Value=endpoint.VARIANT),
            cloudwatch.MetricDimension(Name="EndpointConfigName", Value=GetAtt(config, "EndpointConfigName")),
        ],
        Statistic=statistic,
        Period=60,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",  # no traffic is no evidence against the version
        AlarmActions=[topic],
        OKActions=[topic],
    )


def rollback_alarms(t: Template, config: sagemaker.EndpointConfig) -> list[cloudwatch.Alarm]:
    return [
        # Any 5xx: the model container failed a request (bad input is a 4xx). One is enough to stop a rollout.
        t.add_resource(_fleet_alarm(
            "Invocation5XXErrorsAlarm", "${ResourcePrefix}-production-5xx",
            "The production endpoint's serving fleet answered with a server error: a rollout in progress rolls back",
            "Invocation5XXErrors", "Sum", 0, config)),
        t.add_resource(_fleet_alarm(
            "ModelLatencyAlarm", "${ResourcePrefix}-production-latency",
            "The production model's average latency over a minute passed deployment.latency_threshold_ms: a rollout "
            "in progress rolls back",
            "ModelLatency", "Average", Ref("LatencyThresholdMicroseconds"), config)),
    ]


def rejected_alarm(t: Template, config: sagemaker.EndpointConfig) -> cloudwatch.Alarm:
    """In ALARM once the rollout sees its version rejected (it publishes the metric and sets the state); SageMaker
    then rolls back. No data is no news: the state stays (TreatMissingData ignore), so it never clears by itself
    mid-rollout; each rollout's config is a new dimension, so the next one starts clean."""
    topic = import_value("PipelineStackName", "OperationsTopicArn")
    return t.add_resource(cloudwatch.Alarm(
        "RejectedAlarm",
        AlarmName=Sub("${ResourcePrefix}-production-rejected"),
        AlarmDescription="The version rolling out to production was rejected in the model registry: the rollout rolls back",
        Namespace=Ref("MetricsNamespace"),
        MetricName=deploy_contract.REJECTED_METRIC,
        Dimensions=[cloudwatch.MetricDimension(Name="EndpointName", Value=Ref("ProductionEndpointName")),
                    cloudwatch.MetricDimension(Name="EndpointConfigName", Value=GetAtt(config, "EndpointConfigName"))],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="ignore",
        AlarmActions=[topic],
    ))


def serves_rejected_alarm(t: Template) -> None:
    """Production serves a version that is Rejected now (published by Resolve and the rollout each time they look):
    a run is taking it back, or, with no Approved version left, nothing can (Resolve's message says what to do)."""
    topic = import_value("PipelineStackName", "OperationsTopicArn")
    t.add_resource(cloudwatch.Alarm(
        "ServesRejectedAlarm",
        AlarmName=Sub("${ResourcePrefix}-production-serves-rejected"),
        AlarmDescription="Production serves a model version that was rejected in the model registry; see the model "
                         "deployment run's Resolve action for what is done about it, or what to do",
        Namespace=Ref("MetricsNamespace"),
        MetricName=deploy_contract.SERVES_REJECTED,
        Dimensions=[cloudwatch.MetricDimension(Name="EndpointName", Value=Ref("ProductionEndpointName"))],
        Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="ignore",  # published only when looked at: the last look stands
        AlarmActions=[topic], OKActions=[topic],
    ))


def on_call_alarms(t: Template) -> None:
    """Whatever fleet serves production, whichever config: three breaching minutes of five page the operations topic.
    Not rollback alarms (during a rollout they also see the old fleet)."""
    topic = import_value("PipelineStackName", "OperationsTopicArn")
    for logical_id, name, metric, statistic, threshold, what in (
            ("Serving5XXErrorsAlarm", "${ResourcePrefix}-production-serving-5xx", "Invocation5XXErrors", "Sum", 0,
             "answered with server errors"),
            ("ServingLatencyAlarm", "${ResourcePrefix}-production-serving-latency", "ModelLatency", "Average",
             Ref("LatencyThresholdMicroseconds"), "answered slower than deployment.latency_threshold_ms")):
        t.add_resource(cloudwatch.Alarm(
            logical_id, AlarmName=Sub(name), Namespace=NAMESPACE, MetricName=metric,
            AlarmDescription=f"The production endpoint {what} in 3 of the last 5 minutes, whichever version serves",
            Dimensions=[cloudwatch.MetricDimension(Name="EndpointName", Value=Ref("ProductionEndpointName")),
                        cloudwatch.MetricDimension(Name="VariantName", Value=endpoint.VARIANT)],
            Statistic=statistic, Period=60, EvaluationPeriods=5, DatapointsToAlarm=3, Threshold=threshold,
            ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
            AlarmActions=[topic], OKActions=[topic]))


def rollout_outputs(t: Template, config: sagemaker.EndpointConfig, alarms: list[cloudwatch.Alarm]) -> None:
    """What the rollout reads (lambda_src/deploy_resolve/rollout.py OUTPUTS): the candidate and how to roll it out."""
    values = {
        "EndpointName": ("The production endpoint (the deployment pipeline creates and updates it)", Ref("ProductionEndpointName")),
        "EndpointConfigName": ("The endpoint config of this stack's version: the rollout's candidate", GetAtt(config, "EndpointConfigName")),
        "ModelPackageArn": ("The model package version of the candidate (what serves: make status)", Ref("ModelPackageArn")),
        "ModelPackageVersion": ("That version's number", Ref("ModelPackageVersion")),
        "RolloutType": ("CANARY, LINEAR or ALL_AT_ONCE", Ref("RolloutType")),
        "RolloutTrafficPercent": ("Canary size or linear step, percent of capacity", Ref("RolloutTrafficPercent")),
        "RolloutWaitSeconds": ("Baking time of each step", Ref("RolloutWaitSeconds")),
        "RolloutTimeoutSeconds": ("SageMaker's limit for the whole rollout", Ref("RolloutTimeoutSeconds")),
        "TerminationWaitSeconds": ("How long the old fleet stays after the last step", str(TERMINATION_WAIT_SECONDS)),
        "RollbackAlarms": ("The alarms SageMaker rolls back on", Join(",", [Ref(alarm) for alarm in alarms])),
        "RejectedAlarm": ("The alarm the rollout sets when its version is rejected", Ref(alarms[-1])),
        "MinInstances": ("Autoscaling minimum", Ref("MinInstances")),
        "MaxInstances": ("Autoscaling maximum (equal to the minimum: no autoscaling)", Ref("MaxInstances")),
        "InvocationsPerInstance": ("Target tracking value", Ref("InvocationsPerInstance")),
        "ScalingPolicyName": ("The target tracking policy's name", Sub("${ResourcePrefix}-production-invocations")),
    }
    for key, (description, value) in values.items():
        t.add_output(Output(key, Description=description, Value=value))


def build(n: Names) -> Template:
    t = new_template("Production SageMaker endpoint: the version's model and config, its rollback and on-call alarms; "
                     "the deployment pipeline rolls it out")
    settings = deployment_settings(n)
    parameters.declare_run_time(t)
    Model = endpoint.model(t)
    EndpointConfig = endpoint.endpoint_config(t, Model, settings.instance_type, Ref("MinInstances"), **data_capture(settings))
    # A new version replaces both; CloudFormation would then delete the old ones. If SageMaker rolled the rollout
    # back, the endpoint still runs on them: keep them (no charge, a few KB of metadata each), so production keeps
    # serving and later updates still work. `make destroy` lists what is left.
    for replaced in (Model, EndpointConfig):
        replaced.UpdateReplacePolicy = "Retain"
        replaced.DeletionPolicy = "Delete"  # the stack's deletion (make destroy) still removes the current ones
    alarms = [*rollback_alarms(t, EndpointConfig), rejected_alarm(t, EndpointConfig)]  # the rejected one last
    on_call_alarms(t)
    serves_rejected_alarm(t)
    rollout_outputs(t, EndpointConfig, alarms)
    scanner_skips.apply(t, "production-endpoint")
    return t
