"""The "SageMaker Model Package State Change" rule → Lambda wiring both the notifier and the metrics function use.

One EventPattern shape, one retry policy and one invoke permission, so the two consumers of the same
event cannot drift apart in what they match or how patiently they retry.
"""
from __future__ import annotations

from troposphere import GetAtt, Ref, Template, awslambda, events

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"

# EventBridge retries a failed delivery for a day (185 attempts is its maximum), then dead-letters.
RULE_MAX_EVENT_AGE_SECONDS = 86400
RULE_MAX_RETRIES = 185


def event_pattern(statuses) -> dict:
    """This env's group, the given statuses (a list or a Ref to a CommaDelimitedList); keys sorted."""
    return {
        "detail": {"ModelApprovalStatus": statuses, "ModelPackageGroupName": [Ref("ModelPackageGroupName")]},
        "detail-type": [DETAIL_TYPE],
        "source": [SOURCE],
    }


def lambda_target(target_id: str, function: awslambda.Function, dead_letter_queue) -> events.Target:
    """Deliver to `function`; what still fails after a day of retries lands in `dead_letter_queue`."""
    return events.Target(
        Id=target_id,
        Arn=GetAtt(function, "Arn"),
        RetryPolicy=events.RetryPolicy(MaximumEventAgeInSeconds=RULE_MAX_EVENT_AGE_SECONDS, MaximumRetryAttempts=RULE_MAX_RETRIES),
        DeadLetterConfig=events.DeadLetterConfig(Arn=GetAtt(dead_letter_queue, "Arn")),
    )


def invoke_permission(template: Template, logical_id: str, function: awslambda.Function, rule: events.Rule) -> awslambda.Permission:
    """Only this rule, in this account, may invoke the function."""
    return template.add_resource(awslambda.Permission(
        logical_id,
        Action="lambda:InvokeFunction",
        FunctionName=GetAtt(function, "Arn"),
        Principal="events.amazonaws.com",
        SourceAccount=Ref("AWS::AccountId"),
        SourceArn=GetAtt(rule, "Arn"),
    ))
