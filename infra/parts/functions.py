"""What every event- or pipeline-driven Lambda of the project has: a retained dead-letter queue, a retained,
encrypted log group, and an async-invoke configuration (two retries, six hours), so a failed event ends in
the queue an alarm watches. A stack declares each function (`Function`) and `add` builds it; the dead-letter
queues themselves are the messaging stack's (`dead_letter_queue`). `FUNCTIONS` lists them all, for the KPI dashboard."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from troposphere import Parameter, Ref, Sub, Template, awslambda, logs, sqs

from infra.cfn.templates_common import retain

RUNTIME = "python3.13"  # every function of the project; their code needs the standard library and boto3 only
MAX_RETRIES = 2
MAX_EVENT_AGE_SECONDS = 21600
DLQ_RETENTION_SECONDS = 1209600  # 14 days, the maximum: time to fix and redrive


class Listed(NamedTuple):
    stack: str  # the stack that builds it (infra/config/names.py STACKS)
    name_param: str  # the parameter holding its name
    dead_letter_queue: str | None  # the parameter holding its dead-letter queue's name (the messaging stack's
    # queue); None for a scheduled function, whose missed run its alarm sees as missing data
    source_only: bool = False  # only in an env whose versions another account serves (Names.models_taker)


# Every function of the project, by prefix. `add` builds no other, so the KPI dashboard (infra/stacks/kpi.py), which
# graphs each function and queue of the stacks an env has, shows a new function without an edit of its own.
FUNCTIONS: dict[str, Listed] = {
    "Notifier": Listed("notifications", "NotifierFunctionName", "NotifierDeadLetterQueueName"),
    "Metrics": Listed("kpi", "MetricsFunctionName", "MetricsDeadLetterQueueName"),
    "Partitions": Listed("kpi", "PartitionsFunctionName", "PartitionsDeadLetterQueueName"),
    "SubscriberCheck": Listed("kpi", "SubscriberCheckFunctionName", None),
    "Resolve": Listed("deployment", "ResolveFunctionName", "DeploymentDeadLetterQueueName"),
    "SmokeTest": Listed("deployment", "SmokeTestFunctionName", "DeploymentDeadLetterQueueName"),
    "ArchivePin": Listed("notifications", "ArchivePinFunctionName", "ArchivePinDeadLetterQueueName", source_only=True),
}


def code_key_parameter(t: Template, name: str, folder: str, what: str) -> None:
    """The S3 key of a function's zip: not from config; lambda_package.parameters() supplies the content-hashed key."""
    t.add_parameter(Parameter(name, Type="String", Description=f"S3 key of the {what} Lambda zip",
                              AllowedPattern=rf"^lambda/{folder}-[0-9a-f]{{24}}\.zip$"))


def dead_letter_queue(t: Template, logical_id: str, name_param: str, key_arn=None) -> sqs.Queue:
    """SSE-SQS, or the customer managed key `key_arn` (for what must not be readable with queue rights alone)."""
    encryption = {"KmsMasterKeyId": key_arn} if key_arn is not None else {"SqsManagedSseEnabled": True}
    return t.add_resource(retain(sqs.Queue(
        logical_id,
        QueueName=Ref(name_param),
        MessageRetentionPeriod=DLQ_RETENTION_SECONDS,
        **encryption,
    )))


def log_group(t: Template, logical_id: str, function_param: str, key_arn) -> logs.LogGroup:
    return t.add_resource(retain(logs.LogGroup(
        logical_id,
        LogGroupName=Sub(f"/aws/lambda/${{{function_param}}}"),
        RetentionInDays=Ref("LogRetentionDays"),
        KmsKeyId=key_arn,
    )))


def invoke_config(t: Template, logical_id: str, function: awslambda.Function, on_failure=None) -> None:
    """`on_failure`: the ARN of the queue failed invocations go to, as a destination."""
    destination = ({"DestinationConfig": awslambda.DestinationConfig(OnFailure=awslambda.OnFailure(Destination=on_failure))}
                   if on_failure is not None else {})
    t.add_resource(awslambda.EventInvokeConfig(
        logical_id,
        FunctionName=Ref(function),
        Qualifier="$LATEST",
        MaximumRetryAttempts=MAX_RETRIES,
        MaximumEventAgeInSeconds=MAX_EVENT_AGE_SECONDS,
        **destination,
    ))


@dataclass(frozen=True)
class Function:
    """One function of the project, declared. Its logical IDs come from `prefix` alone (<prefix>Function,
    <prefix>LogGroup, <prefix>EventInvokeConfig): they are identities, never renamed."""
    prefix: str
    name_param: str  # the parameter holding the function's name
    handler: str
    description: str
    role_arn: object
    code: tuple[str, str, str]  # (S3-key parameter, lambda_src folder, what the parameter's description calls it)
    code_bucket: object
    key_arn: object  # the log group's key
    dead_letter_queue_arn: object  # None: a scheduled function, whose missed run its alarm sees as missing data
    environment: dict
    memory: int = 256
    timeout: int = 60
    # The notifier's way: failed async invocations go to the queue as an on-failure destination (its alarm watches
    # DestinationDeliveryFailures), the function names its log group and encrypts its environment with `key_arn`.
    # Otherwise: a DeadLetterConfig (DeadLetterErrors) and the log group by its default name.
    on_failure_destination: bool = False


def add(t: Template, spec: Function) -> awslambda.Function:
    """The function, its retained encrypted log group, its zip's key parameter and its async-invoke configuration."""
    listed = FUNCTIONS.get(spec.prefix)
    if listed is None or listed.name_param != spec.name_param:
        raise ValueError(f"function {spec.prefix} ({spec.name_param}) is not in FUNCTIONS of infra/parts/functions.py: "
                         "list it there, with its stack and dead-letter queue, so the dashboard shows it")
    code_key_parameter(t, *spec.code)
    group = log_group(t, f"{spec.prefix}LogGroup", spec.name_param, spec.key_arn)
    if spec.on_failure_destination:
        wiring = {"LoggingConfig": awslambda.LoggingConfig(LogGroup=Ref(group)), "KmsKeyArn": spec.key_arn}
    else:
        wiring = {"DependsOn": [group.title]}
        if spec.dead_letter_queue_arn is not None:
            wiring["DeadLetterConfig"] = awslambda.DeadLetterConfig(TargetArn=spec.dead_letter_queue_arn)
    function = t.add_resource(awslambda.Function(
        f"{spec.prefix}Function",
        FunctionName=Ref(spec.name_param),
        Description=spec.description,
        Runtime=RUNTIME,
        Handler=spec.handler,
        Architectures=["arm64"],
        MemorySize=spec.memory,
        Timeout=spec.timeout,
        Role=spec.role_arn,
        Code=awslambda.Code(S3Bucket=spec.code_bucket, S3Key=Ref(spec.code[0])),
        Environment=awslambda.Environment(Variables=spec.environment),
        **wiring,
    ))
    destination = spec.dead_letter_queue_arn if spec.on_failure_destination else None
    invoke_config(t, f"{spec.prefix}EventInvokeConfig", function, destination)
    return function
