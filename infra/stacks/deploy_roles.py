"""Deploy-roles stack: the role CloudFormation assumes for each stack the pipeline deploys.

Bootstrap only: `make deploy` (an administrator) creates and changes it; the pipeline never deploys
it, and none of these roles may write to IAM. So a push to the repository can change what the stacks
contain, but not widen what CloudFormation may do while deploying them, nor any role's permissions.
What each role may do is in infra/iam/deploy_policies.py, one function per stack. The permissions boundaries
of the runtime roles live in the boundaries stack (infra/stacks/boundaries.py), administrator-only too.
"""
from __future__ import annotations

from troposphere import Ref, Sub, Template, iam

from infra.config.names import Names
from infra.iam import deploy_policies
from infra.cfn import scanner_skips
from infra.iam.policies import document
from infra.iam.roles import exported_service_role
from infra.cfn.templates_common import new_template

SERVICE = "cloudformation.amazonaws.com"


def build(n: Names) -> Template:
    t = new_template("CloudFormation deploy roles of the SageMaker MLOps project, one per stack; changed only by an administrator")
    exported_service_role(t, "PipelineDeployRole", "PipelineDeployRoleName", SERVICE,
                          "the role CloudFormation deploys the pipeline stack with", deploy_policies.pipeline_stack(n.env.source.type, bool(n.env.chat)), boundary=None)
    exported_service_role(t, "NotificationsDeployRole", "NotificationsDeployRoleName", SERVICE,
                          "the role CloudFormation deploys the notifications stack with", deploy_policies.notifications_stack(n.models_taker is not None), boundary=None)
    KpiDeployRole = exported_service_role(t, "KpiDeployRole", "KpiDeployRoleName", SERVICE,
                                          "the role CloudFormation deploys the KPI stack with", deploy_policies.kpi_stack(),
                                          boundary=None)
    t.add_resource(iam.ManagedPolicy(
        "KpiDeployFunctionsPolicy",
        ManagedPolicyName=Sub("${KpiDeployRoleName}-functions"),
        Path=Ref("RolePath"),
        Description="What the KPI deploy role may do for the KPI stack's two functions (beside its inline policy)",
        PolicyDocument=document(deploy_policies.kpi_stack_functions()),
        Roles=[Ref(KpiDeployRole)],
    ))
    scanner_skips.apply(t, "deploy-roles")
    return t
