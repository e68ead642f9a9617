"""troposphere.quicksight's QuickSight data source classes (see infra/cfn/slim/__init__.py)."""
from troposphere import AWSObject, AWSProperty, PropsDictType, Tags


class ResourcePermission(AWSProperty):
    props: PropsDictType = {
        "Actions": ([str], True),
        "Principal": (str, True),
    }


class AthenaParameters(AWSProperty):
    props: PropsDictType = {
        "ConsumerAccountRoleArn": (str, False),
        "RoleArn": (str, False),
        "WorkGroup": (str, False),
    }


class DataSourceParameters(AWSProperty):
    props: PropsDictType = {
        "AthenaParameters": (AthenaParameters, False),
    }


class DataSource(AWSObject):
    resource_type = "AWS::QuickSight::DataSource"

    props: PropsDictType = {
        "AwsAccountId": (str, False),
        "DataSourceId": (str, False),
        "DataSourceParameters": (DataSourceParameters, False),
        "FolderArns": ([str], False),
        "Name": (str, True),
        "Permissions": ([ResourcePermission], False),
        "Tags": (Tags, False),
        "Type": (str, True),
    }


def __getattr__(name: str):
    import troposphere.quicksight

    return getattr(troposphere.quicksight, name)
