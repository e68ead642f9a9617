"""What the staging and production endpoint stacks share: a model made from the approved model package version,
its endpoint config (one variant, AllTraffic) and the endpoint, under its fixed name.

The model and the endpoint config have no name of their own: their properties cannot change in place, so a new
version (or a new instance type, count or data capture setting) replaces them, under a name CloudFormation makes
up, and the endpoint moves to the new config. The endpoint keeps its name (smoke test, dashboards and callers
find it by name). Tags come from the stack (the env's TemplateConfiguration), like every stack's.
"""
from __future__ import annotations

from troposphere import GetAtt, Output, Ref, Template

from infra.cfn.exports import import_value
from infra.config import serving
from troposphere import sagemaker

VARIANT = "AllTraffic"


def artifact_key_arn():
    return import_value("PipelineStackName", "ArtifactKeyArn")


def model(t: Template) -> sagemaker.Model:
    """The model package version the deployment pipeline resolved (ModelPackageArn, a versioned ARN): SageMaker
    takes its image and model archive from the package's inference specification. The container gets no network:
    SageMaker itself fetches the archive and captures data, and a scoring container has nothing to call."""
    return t.add_resource(sagemaker.Model(
        "Model",
        EnableNetworkIsolation=True,
        ExecutionRoleArn=import_value("ServingIamStackName", "ModelRoleArn"),
        Containers=[sagemaker.ContainerDefinition(ModelPackageName=Ref("ModelPackageArn"))],
    ))


def endpoint_config(t: Template, served: sagemaker.Model, instance_type: str, instance_count, **extra) -> sagemaker.EndpointConfig:
    """One variant serving every request; `extra`: further properties as plain data (production's data capture:
    troposphere types DataCaptureConfig with the transform job's shape).

    The instance's EBS volume is encrypted with the artifact key, unless the instance type has local NVMe
    storage instead, which SageMaker encrypts with the instance's own hardware key (infra/config/serving.py)."""
    volume_key = {} if serving.has_instance_storage(instance_type) else {"KmsKeyId": artifact_key_arn()}
    config = t.add_resource(sagemaker.EndpointConfig(
        "EndpointConfig",
        ProductionVariants=[sagemaker.ProductionVariant(
            VariantName=VARIANT,
            ModelName=GetAtt(served, "ModelName"),
            InstanceType=instance_type,
            InitialInstanceCount=instance_count,
            InitialVariantWeight=1.0,
        )],
        **volume_key,
    ))
    config.properties.update(extra)
    return config


def endpoint(t: Template, config: sagemaker.EndpointConfig, name_param: str, **extra) -> sagemaker.Endpoint:
    """`extra`: further properties (production's rollout)."""
    Endpoint = t.add_resource(sagemaker.Endpoint(
        "Endpoint",
        EndpointName=Ref(name_param),
        EndpointConfigName=GetAtt(config, "EndpointConfigName"),
        **extra,
    ))
    _outputs(t, Endpoint)
    return Endpoint


def _outputs(t: Template, served_by: sagemaker.Endpoint) -> None:
    """What the stack serves, for people and the deployment pipeline (not exported: nothing imports it)."""
    t.add_output(Output("EndpointName", Description="The endpoint", Value=GetAtt(served_by, "EndpointName")))
    t.add_output(Output("ModelPackageArn", Description="The model package version it serves", Value=Ref("ModelPackageArn")))
    t.add_output(Output("ModelPackageVersion", Description="That version's number", Value=Ref("ModelPackageVersion")))
