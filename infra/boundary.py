"""The permissions boundary every runtime role of the project carries.

The IAM stack (deployed by the pipeline) may write any policy into the project's runtime roles; the
boundary caps what such a policy can ever grant to exactly the actions those roles use today. It lives
in the administrator-only deploy-roles stack, so widening it takes an administrator, not a push.
Its actions are collected from the runtime roles' own statement functions, so it cannot fall behind them.
"""
from __future__ import annotations

from awacs.aws import Action, Allow, PolicyDocument, Statement
from troposphere import Ref, Sub, iam

from infra.policies import VERSION

BOUNDARY_ARN_SUB = "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy${RolePath}${PermissionsBoundaryName}"


def runtime_statements() -> list[Statement]:
    """Every statement of every bounded role: the IAM stack's, the notifier's, the metrics function's, the crawler's, the report-partitions function's."""
    from infra import iam as iam_stack
    from infra import kpi, notifications
    from infra.source import SOURCE_CONDITIONS

    statements = [
        *iam_stack.sagemaker_execution_statements(),
        *iam_stack.codepipeline_statements(),
        *iam_stack.synth_build_statements(),
        *iam_stack.upsert_build_statements(),
        *iam_stack.source_events_statements(),
        *notifications.notifier_statements(),
        *kpi.metrics_function_statements(),
        *kpi.crawler_statements(),
        *kpi.partitions_function_statements(),
    ]
    for source_type in SOURCE_CONDITIONS:
        statements += iam_stack.source_statements(source_type)
    return statements


def boundary_actions() -> list[str]:
    return sorted({action.JSONrepr() for st in runtime_statements() for action in st.Action})


def managed_policy() -> iam.ManagedPolicy:
    """The boundary. Resource "*" on purpose: a boundary caps actions; each role's own policy scopes resources."""
    return iam.ManagedPolicy(
        "ProjectRolesBoundary",
        ManagedPolicyName=Ref("PermissionsBoundaryName"),
        Path=Ref("RolePath"),
        Description=Sub("Caps every ${ResourcePrefix} runtime role at the actions the project uses"),
        PolicyDocument=PolicyDocument(
            Version=VERSION,
            Statement=[Statement(Sid="BoundaryCapsActionsNotResources", Effect=Allow, Action=[Action(*a.split(":", 1)) for a in boundary_actions()], Resource=["*"])],
        ),
    )
