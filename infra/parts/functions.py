"""What every event- or pipeline-driven Lambda of the project has: a retained dead-letter queue, a retained,
encrypted log group, and an async-invoke configuration (two retries, six hours), so a failed event ends in
the queue an alarm watches."""
from __future__ import annotations

from troposphere import Parameter, Ref, Sub, Template, awslambda, logs, sqs

from infra.cfn.templates_common import retain

RUNTIME = "python3.13"  # every function of the project; their code needs the standard library and boto3 only
MAX_RETRIES = 2
MAX_EVENT_AGE_SECONDS = 21600
DLQ_RETENTION_SECONDS = 1209600  # 14 days, the maximum: time to fix and redrive


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


def invoke_config(t: Template, logical_id: str, function: awslambda.Function) -> None:
    t.add_resource(awslambda.EventInvokeConfig(
        logical_id,
        FunctionName=Ref(function),
        Qualifier="$LATEST",
        MaximumRetryAttempts=MAX_RETRIES,
        MaximumEventAgeInSeconds=MAX_EVENT_AGE_SECONDS,
    ))
