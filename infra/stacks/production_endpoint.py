"""Production endpoint stack: the approved version, rolled out blue/green behind alarms that roll it back.

- A new version (or any config change) makes a new endpoint config; SageMaker moves traffic to a new fleet in a
  canary, linear steps or all at once (config deployment.rollout), baking each step, and rolls back by itself
  when an alarm of this stack trips during the rollout (invocation 5xx errors, model latency over the threshold).
- Target-tracking autoscaling on invocations per instance, between deployment.min_instances and max_instances.
- Data capture of requests and responses into the artifact bucket, encrypted with the artifact key (none at 0%).

Autoscaling and updates (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html): SageMaker
refuses to update an autoscaled variant to another *instance type*, but allows an update that changes its *model*.
A new version keeps the instance type, so it rolls out with the scalable target in place; the endpoint keeps the
autoscaled instance count through it (RetainAllVariantProperties). docs/endpoints.md says how to change the
instance type (autoscaling off for one deployment: min_instances equal to max_instances).
"""
from __future__ import annotations

from troposphere import AWS_NO_VALUE, Equals, GetAtt, If, Not, Ref, Sub, Template, applicationautoscaling, cloudwatch

from infra.cfn import parameters, scanner_skips
from infra.cfn.exports import import_value
from troposphere import sagemaker
from infra.cfn.templates_common import new_template
from infra.config.serving import TERMINATION_WAIT_SECONDS
from infra.parts import endpoint

NAMESPACE = "AWS/SageMaker"
ROLLOUT_TYPE_CONDITIONS = {"CANARY": "CanaryRollout", "LINEAR": "LinearRollout"}
CAPTURES_DATA = "CapturesData"
AUTOSCALED = "Autoscaled"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SCALE_OUT_COOLDOWN_SECONDS = 60  # add instances soon after load rises
SCALE_IN_COOLDOWN_SECONDS = 300  # remove them only when it has stayed down a while


def _conditions(t: Template) -> None:
    for rollout_type, name in ROLLOUT_TYPE_CONDITIONS.items():
        t.add_condition(name, Equals(Ref("RolloutType"), rollout_type))
    t.add_condition(CAPTURES_DATA, Not(Equals(Ref("DataCapturePercent"), "0")))
    # A fleet whose size cannot change needs no scalable target (and having none lets its instance type change).
    t.add_condition(AUTOSCALED, Not(Equals(Ref("MinInstances"), Ref("MaxInstances"))))


def data_capture() -> If:
    """Requests and responses of the configured share of traffic, under the capture prefix, with the artifact key.
    (troposphere types this property with the transform job's shape, hence the plain dict.)"""
    bucket = import_value("PipelineStackName", "ArtifactBucketName")
    return If(CAPTURES_DATA, {
        "EnableCapture": True,
        "InitialSamplingPercentage": Ref("DataCapturePercent"),
        "DestinationS3Uri": Sub("s3://${Bucket}/${DataCapturePrefix}${ProductionEndpointName}/", Bucket=bucket),
        "KmsKeyId": endpoint.artifact_key_arn(),
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }, Ref(AWS_NO_VALUE))


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


def _step_size() -> dict:
    return {"Type": "CAPACITY_PERCENT", "Value": Ref("RolloutTrafficPercent")}


def deployment_config(alarms: list[cloudwatch.Alarm]) -> sagemaker.DeploymentConfig:
    """Blue/green: the new fleet is built beside the old, takes traffic by the configured steps, each watched for
    RolloutWaitSeconds; the old fleet goes only after the last step baked and TERMINATION_WAIT_SECONDS passed."""
    return sagemaker.DeploymentConfig(
        BlueGreenUpdatePolicy=sagemaker.BlueGreenUpdatePolicy(
            TrafficRoutingConfiguration=sagemaker.TrafficRoutingConfig(
                Type=Ref("RolloutType"),
                WaitIntervalInSeconds=Ref("RolloutWaitSeconds"),
                CanarySize=If(ROLLOUT_TYPE_CONDITIONS["CANARY"], _step_size(), Ref(AWS_NO_VALUE)),
                LinearStepSize=If(ROLLOUT_TYPE_CONDITIONS["LINEAR"], _step_size(), Ref(AWS_NO_VALUE)),
            ),
            TerminationWaitInSeconds=TERMINATION_WAIT_SECONDS,
            MaximumExecutionTimeoutInSeconds=Ref("RolloutTimeoutSeconds"),
        ),
        AutoRollbackConfiguration=sagemaker.AutoRollbackConfig(
            Alarms=[sagemaker.Alarm(AlarmName=Ref(alarm)) for alarm in alarms],
        ),
    )


def autoscaling(t: Template, served_by: sagemaker.Endpoint) -> None:
    """Target tracking on invocations per instance. No RoleARN: Application Auto Scaling uses its service-linked
    role for SageMaker, creating it on first use (the deploy role may create that one role, nothing else)."""
    ScalableTarget = t.add_resource(applicationautoscaling.ScalableTarget(
        "ScalableTarget",
        Condition=AUTOSCALED,
        DependsOn=[served_by.title],
        ServiceNamespace="sagemaker",
        ResourceId=Sub(f"endpoint/${{ProductionEndpointName}}/variant/{endpoint.VARIANT}"),
        ScalableDimension=SCALABLE_DIMENSION,
        MinCapacity=Ref("MinInstances"),
        MaxCapacity=Ref("MaxInstances"),
    ))
    t.add_resource(applicationautoscaling.ScalingPolicy(
        "InvocationsScalingPolicy",
        Condition=AUTOSCALED,
        PolicyName=Sub("${ResourcePrefix}-production-invocations"),
        PolicyType="TargetTrackingScaling",
        ScalingTargetId=Ref(ScalableTarget),
        TargetTrackingScalingPolicyConfiguration=applicationautoscaling.TargetTrackingScalingPolicyConfiguration(
            PredefinedMetricSpecification=applicationautoscaling.PredefinedMetricSpecification(
                PredefinedMetricType="SageMakerVariantInvocationsPerInstance",
            ),
            TargetValue=Ref("InvocationsPerInstance"),
            ScaleOutCooldown=SCALE_OUT_COOLDOWN_SECONDS,
            ScaleInCooldown=SCALE_IN_COOLDOWN_SECONDS,
        ),
    ))


def build(project) -> Template:  # noqa: ARG001 - same signature as every stack
    t = new_template("Production SageMaker endpoint: guarded blue/green rollouts, autoscaling, data capture")
    _conditions(t)
    Model = endpoint.model(t)
    EndpointConfig = endpoint.endpoint_config(t, Model, Ref("EndpointInstanceType"), Ref("MinInstances"), "EndpointInstanceStorage",
                                              DataCaptureConfig=data_capture())
    # A new version replaces both; CloudFormation would then delete the old ones. If SageMaker rolled the rollout
    # back, the endpoint still runs on them: keep them (no charge, a few KB of metadata each), so production keeps
    # serving and later updates still work. `make destroy` lists what is left.
    for replaced in (Model, EndpointConfig):
        replaced.UpdateReplacePolicy = "Retain"
        replaced.DeletionPolicy = "Delete"  # the stack's deletion (make destroy) still removes the current ones
    alarms = rollback_alarms(t, EndpointConfig)
    Endpoint = endpoint.endpoint(
        t, EndpointConfig, "ProductionEndpointName",
        DeploymentConfig=deployment_config(alarms),
        # An update keeps the autoscaled instance count (not the config's initial count) but takes the new
        # data capture setting. Without autoscaling there is nothing to keep: the config's count applies.
        RetainAllVariantProperties=If(AUTOSCALED, True, False),
        ExcludeRetainedVariantProperties=If(AUTOSCALED, [sagemaker.VariantProperty(VariantPropertyType="DataCaptureConfig")],
                                            Ref(AWS_NO_VALUE)),
    )
    autoscaling(t, Endpoint)
    scanner_skips.apply(t, "production-endpoint")
    parameters.declare_used(t)
    return t
