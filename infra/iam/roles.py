"""One way to make a service role: named from a parameter, under the project path, one inline policy."""
from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, Template, iam

from infra.iam.boundary import boundary_arn_sub

from infra.cfn.exports import export
from infra.iam.policies import document, trust


def service_role(template: Template, logical_id: str, name_param: str, service: str, description: str, statements: list,
                 boundary: str | None, condition: str | None = None) -> iam.Role:
    """A role only `service` can assume, holding exactly `statements`.

    Runtime roles carry the permissions boundary of their kind (infra/iam/boundary.py: DELIVERY or FUNCTIONS);
    the deploy roles, which only an administrator changes, carry none (boundary None).
    """
    kwargs = {"PermissionsBoundary": Sub(boundary_arn_sub(boundary))} if boundary else {}
    if condition:
        kwargs["Condition"] = condition
    return template.add_resource(
        iam.Role(
            logical_id,
            RoleName=Ref(name_param),
            Path=Ref("RolePath"),
            Description=description,
            AssumeRolePolicyDocument=trust(service),
            Policies=[iam.Policy(PolicyName="least-privilege", PolicyDocument=document(statements))],
            **kwargs,
        )
    )


def exported_service_role(template: Template, logical_id: str, name_param: str, service: str, description: str,
                          statements: list, boundary: str | None, condition: str | None = None) -> iam.Role:
    """A service role whose ARN other stacks import as "<this stack>-<logical id>Arn" (where `condition` holds)."""
    role = service_role(template, logical_id, name_param, service, description, statements, boundary, condition)
    export(template, f"{logical_id}Arn", GetAtt(role, "Arn"), f"ARN of {description}", condition)
    return role
