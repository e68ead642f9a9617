"""troposphere.sagemaker's model registry class (see infra/cfn/slim/__init__.py)."""
from troposphere import AWSObject, PropsDictType, Tags


class ModelPackageGroup(AWSObject):
    resource_type = "AWS::SageMaker::ModelPackageGroup"

    props: PropsDictType = {
        "ModelPackageGroupDescription": (str, False),
        "ModelPackageGroupName": (str, True),
        "ModelPackageGroupPolicy": (dict, False),
        "Tags": (Tags, False),
    }


def __getattr__(name: str):
    import troposphere.sagemaker

    return getattr(troposphere.sagemaker, name)
