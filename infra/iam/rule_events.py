"""The events each push-deployed stack's EventBridge rules match: one table of (source, detail-type) pairs.

The stacks build their rules' event patterns from these constants, and each stack's deploy role may put a rule only
for its stack's pairs (infra/iam/deploy_policies.py: events:source and events:detail-type on events:PutRule). So a
push that widens a rule's pattern to other events on the account's bus is refused by IAM: EventBridge documents that
with StringEquals on these keys PutRule is allowed only when the pattern names exactly one listed source (and
detail type), and refused when it names none or several ("Using IAM policy conditions in Amazon EventBridge",
EventBridge user guide). Within a pair, what IAM cannot hold is the pattern's `detail` (which group, which
pipeline): docs/security.md says what that still lets a push see.
"""
from __future__ import annotations

from troposphere import Ref

Pair = tuple[str, str]  # (source, detail-type)

MODEL_PACKAGE_STATE: Pair = ("aws.sagemaker", "SageMaker Model Package State Change")
PIPELINE_EXECUTION_STATUS: Pair = ("aws.sagemaker", "SageMaker Model Building Pipeline Execution Status Change")
DELIVERY_EXECUTION_STATE: Pair = ("aws.codepipeline", "CodePipeline Pipeline Execution State Change")
STAGE_EXECUTION_STATE: Pair = ("aws.codepipeline", "CodePipeline Stage Execution State Change")
CODECOMMIT_REFERENCE: Pair = ("aws.codecommit", "CodeCommit Repository State Change")
S3_OBJECT_CREATED: Pair = ("aws.s3", "Object Created")
GLUE_CRAWLER_STATE: Pair = ("aws.glue", "Glue Crawler State Change")
GLUE_SCHEDULED_CRAWLER_FAILURE: Pair = ("aws.glue", "Glue Scheduled Crawler Invocation Failure")

# source type -> the event that starts the delivery pipeline (CodeConnections detects changes itself: no rule).
SOURCE_TRIGGERS: dict[str, Pair] = {"codecommit": CODECOMMIT_REFERENCE, "s3": S3_OBJECT_CREATED}

# stack -> the events its rules match (the pipeline stack's source trigger is added per source type).
STACK_EVENTS: dict[str, tuple[Pair, ...]] = {
    "pipeline": (DELIVERY_EXECUTION_STATE,),
    "notifications": (MODEL_PACKAGE_STATE, PIPELINE_EXECUTION_STATUS),
    "kpi": (MODEL_PACKAGE_STATE, PIPELINE_EXECUTION_STATUS, GLUE_CRAWLER_STATE, GLUE_SCHEDULED_CRAWLER_FAILURE),
    "deployment": (MODEL_PACKAGE_STATE, STAGE_EXECUTION_STATE),
}


def stack_events(stack: str, source_type: str) -> tuple[Pair, ...]:
    """The events `stack`'s rules match in an env whose pipeline follows a `source_type` source."""
    trigger = (SOURCE_TRIGGERS[source_type],) if stack == "pipeline" and source_type in SOURCE_TRIGGERS else ()
    return STACK_EVENTS[stack] + trigger


def pattern_head(pair: Pair) -> dict:
    """The pattern keys that name the pair (each one value: what StringEquals on the condition keys allows) and the
    env's own account: a bus that accepts other accounts' events (a policy a stranger's PutEvents needs) still
    cannot reach a rule of ours with them."""
    source, detail_type = pair
    return {"account": [Ref("AWS::AccountId")], "detail-type": [detail_type], "source": [source]}
