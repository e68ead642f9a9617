"""Names the messaging stack and the stacks that use its topic and queues must agree on.

The messaging stack (administrator-only) writes the policies of the approvals topic, the dead-letter queues and
the notifications key; those policies name the rules, roles and log groups of the push-deployed stacks that use
them. All are built from the env's name parameters, never from another stack's resources: the messaging stack
deploys first, and no stack imports another's module.
"""
from __future__ import annotations

from awacs.aws import ArnLike, Condition, StringEquals
from troposphere import Ref, Sub

NOTIFIER_RULE_NAME = "${ResourcePrefix}-model-package-state"
# Failed runs of the env's SageMaker pipeline -> the notifier (a model below the threshold, or a broken run).
NOTIFIER_PIPELINE_RULE_NAME = "${ResourcePrefix}-sagemaker-pipeline-failed"
NOTIFIER_RULE_NAMES = (NOTIFIER_RULE_NAME, NOTIFIER_PIPELINE_RULE_NAME)
NOTIFIER_LOG_GROUP = "/aws/lambda/${NotifierFunctionName}"
# Broken runs of the SageMaker pipeline (not its quality gate), counted from the notifier's log by the notifications
# stack; the KPI stack's pipeline-failed alarm pages on it.
PIPELINE_BROKEN_METRIC = "${ResourcePrefix}-sagemaker-pipeline-broken-runs"
# The alarm that fires when nobody hears the operations topic tells the approvals topic instead: the one alarm that
# may publish there (the kpi stack's subscriber check; its policy and key name it).
OPERATIONS_UNHEARD_ALARM = "${OperationsTopicName}-unheard"
OPERATIONS_UNHEARD_ALARM_ARN = f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{OPERATIONS_UNHEARD_ALARM}"


def rule_arn(rule_name_sub: str) -> str:
    return f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{rule_name_sub}"


def role_arn(role_param: str) -> str:
    return f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role${{RolePath}}${{{role_param}}}"


NOTIFIER_RULE_ARNS = tuple(rule_arn(name) for name in NOTIFIER_RULE_NAMES)
NOTIFIER_ROLE_ARN = role_arn("NotifierRoleName")
NOTIFIER_LOG_GROUP_ARN = f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{NOTIFIER_LOG_GROUP}"


def source_conditions(*source_arn_subs: str) -> Condition:
    """Confused-deputy guard for service principals: this account, these resources (ARN patterns)."""
    return Condition([
        StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")}),
        ArnLike({"aws:SourceArn": [Sub(arn) for arn in source_arn_subs]}),
    ])
