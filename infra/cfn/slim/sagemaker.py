"""troposphere.sagemaker's model registry and serving classes (see infra/cfn/slim/__init__.py)."""
from troposphere import AWSObject, AWSProperty, PropsDictType, Tags
from troposphere.validators import boolean, double, integer


class ModelPackageGroup(AWSObject):
    resource_type = "AWS::SageMaker::ModelPackageGroup"

    props: PropsDictType = {
        "ModelPackageGroupDescription": (str, False),
        "ModelPackageGroupName": (str, True),
        "ModelPackageGroupPolicy": (dict, False),
        "Tags": (Tags, False),
    }


# -- serving: model, endpoint config, endpoint ------------------------------------------------------
class ContainerDefinition(AWSProperty):
    props: PropsDictType = {
        "ModelPackageName": (str, False),
    }


class Model(AWSObject):
    resource_type = "AWS::SageMaker::Model"

    props: PropsDictType = {
        "Containers": ([ContainerDefinition], False),
        "EnableNetworkIsolation": (boolean, False),
        "ExecutionRoleArn": (str, False),
    }


class ProductionVariant(AWSProperty):
    props: PropsDictType = {
        "InitialInstanceCount": (integer, False),
        "InitialVariantWeight": (double, False),
        "InstanceType": (str, False),
        "ModelName": (str, False),
        "VariantName": (str, True),
    }


class DataCaptureConfig(AWSProperty):
    """troposphere types EndpointConfig.DataCaptureConfig with the transform job's shape (this one), which lacks the
    endpoint's sampling and capture options: the endpoint stacks pass theirs as an Fn::If, which is not checked."""

    props: PropsDictType = {
        "DestinationS3Uri": (str, True),
        "GenerateInferenceId": (boolean, False),
        "KmsKeyId": (str, False),
    }


class EndpointConfig(AWSObject):
    resource_type = "AWS::SageMaker::EndpointConfig"

    props: PropsDictType = {
        "DataCaptureConfig": (DataCaptureConfig, False),
        "KmsKeyId": (str, False),
        "ProductionVariants": ([ProductionVariant], True),
    }


class Endpoint(AWSObject):
    resource_type = "AWS::SageMaker::Endpoint"

    props: PropsDictType = {
        "EndpointConfigName": (str, True),
        "EndpointName": (str, False),
    }


def __getattr__(name: str):
    import troposphere.sagemaker

    return getattr(troposphere.sagemaker, name)
