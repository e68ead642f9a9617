"""A condition on a service key the action does not take makes the statement never match: every condition on an
EventBridge, CodeConnections, CloudWatch or SageMaker key is held only by actions that take that key.

The table is the Service Authorization Reference's ("Actions, resources, and condition keys for Amazon
EventBridge", "... for AWS CodeConnections", "... for AWS CodeStar Connections", "... for Amazon CloudWatch",
"... for Amazon SageMaker AI"): the service keys each action we hold takes. An action held under one of these keys
and missing here fails until it is looked up and added.
"""
from __future__ import annotations


from tests.support.cfn import as_list

_USE_CONNECTION = ("BranchName", "FullRepositoryId", "OwnerId", "ProviderAction", "ProviderPermissionsRequired",
                   "RepositoryName")
_SAGEMAKER_JOB_KEYS = tuple(f"sagemaker:{k}" for k in (
    "InstanceTypes", "MaxRuntimeInSeconds", "NetworkIsolation", "OutputKmsKey", "VolumeKmsKey", "VpcSecurityGroupIds",
    "VpcSubnets", "InterContainerTrafficEncryption"))
_SAGEMAKER_TRAINING_KEYS = tuple(f"sagemaker:{k}" for k in (
    "FileSystemAccessMode", "FileSystemDirectoryPath", "FileSystemId", "FileSystemType"))
SERVICE_KEYS: dict[str, frozenset[str]] = {
    "events:PutRule": frozenset({"events:source", "events:detail-type", "events:detail.userIdentity.principalId",
                                 "events:detail.service", "events:detail.eventTypeCode", "events:creatorAccount",
                                 "events:ManagedBy"}),
    "events:PutTargets": frozenset({"events:TargetArn", "events:creatorAccount", "events:ManagedBy"}),
    **{f"{p}:UseConnection": frozenset(f"{p}:{k}" for k in _USE_CONNECTION) for p in ("codeconnections", "codestar-connections")},
    **{f"{p}:PassConnection": frozenset({f"{p}:PassedToService"}) for p in ("codeconnections", "codestar-connections")},
    "cloudwatch:PutMetricAlarm": frozenset({"cloudwatch:AlarmActions"}),
    "cloudwatch:PutMetricData": frozenset({"cloudwatch:namespace"}),
    # SageMaker: the keys of each create action's request ("Actions, resources, and condition keys for Amazon
    # SageMaker"); jobs and models are held to sagemaker:NetworkIsolation (test_jobs_and_models_are_network_isolated.py).
    "sagemaker:CreateProcessingJob": frozenset({*_SAGEMAKER_JOB_KEYS}),
    "sagemaker:CreateTrainingJob": frozenset({*_SAGEMAKER_JOB_KEYS, *_SAGEMAKER_TRAINING_KEYS, "sagemaker:KeepAlivePeriod",
                                              "sagemaker:EnableRemoteDebug"}),
    "sagemaker:CreateHyperParameterTuningJob": frozenset({*_SAGEMAKER_JOB_KEYS, *_SAGEMAKER_TRAINING_KEYS}),
    "sagemaker:CreateEndpointConfig": frozenset({"sagemaker:AcceleratorTypes", "sagemaker:InstanceTypes",
                                                 "sagemaker:ModelArn", "sagemaker:VolumeKmsKey",
                                                 "sagemaker:ServerlessMaxConcurrency", "sagemaker:ServerlessMemorySize",
                                                 "sagemaker:NetworkIsolation", "sagemaker:VpcSecurityGroupIds",
                                                 "sagemaker:VpcSubnets"}),
    "sagemaker:CreateModel": frozenset({"sagemaker:NetworkIsolation", "sagemaker:VpcSecurityGroupIds", "sagemaker:VpcSubnets"}),
    "sagemaker:CreateModelPackage": frozenset({"sagemaker:ModelApprovalStatus", "sagemaker:CustomerMetadataProperties/*"}),
}
SERVICES = {action.split(":")[0] for action in SERVICE_KEYS}


def misfits(statement: dict) -> list[str]:
    keys = {key for block in statement.get("Condition", {}).values() for key in block}
    service_keys = {k for k in keys if k.split(":")[0] in SERVICES}
    if not service_keys:
        return []
    out = []
    for action in as_list(statement["Action"]):
        taken = SERVICE_KEYS.get(action)
        if taken is None:
            out.append(f"{action}: not in SERVICE_KEYS (look it up), held under {sorted(service_keys)}")
        elif not service_keys <= taken:
            out.append(f"{action} does not take {sorted(service_keys - taken)}: the statement never grants it")
    return out


def test_service_condition_keys_are_taken_by_every_action_they_hold(envs):
    found = [f"{where} {st.get('Sid')}: {m}" for env in envs
             for where, _, st in env.policy_statements() for m in misfits(st)]
    assert not found, "\n".join(found)


def test_the_check_catches_a_source_condition_on_delete_rule():
    statement = {"Action": ["events:PutRule", "events:DeleteRule"], "Condition": {"StringEquals": {"events:source": "aws.s3"}}}
    assert misfits(statement) == ["events:DeleteRule: not in SERVICE_KEYS (look it up), held under ['events:source']"]
    statement = {"Action": "events:PutTargets", "Condition": {"StringEquals": {"events:source": "aws.s3"}}}
    assert misfits(statement) == ["events:PutTargets does not take ['events:source']: the statement never grants it"]
