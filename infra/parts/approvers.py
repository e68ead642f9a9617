"""Who may decide a model version: the model package group's resource policy (config `sagemaker.approvers`).

Any principal of the account holding `sagemaker:UpdateModelPackage` (a Studio role with the broad managed policy)
could otherwise approve a version, and approving one starts its way to production. The policy denies, to every
principal whose ARN is not one of the env's approvers:

- `UpdateModelPackage` on the group's versions: approving, rejecting, and every other update (a version's metadata,
  its added inference specifications), so nobody else can change what a person approved either;
- `CreateModelPackage` of a version in any status but `PendingManualApproval`, to everyone (approvers included):
  a version is decided by a person after it is registered, never registered decided.

Both are Deny statements: they take nothing from what the approvers' own policies allow and grant nothing by
themselves. An explicit Deny in a resource policy applies to callers of the same account too (IAM User Guide,
"Policy evaluation for requests within a single account"); that SageMaker applies a group's policy to requests on
its versions is documented for other accounts ("Deploy a Model Version from a Different Account", SageMaker
developer guide: the group's policy names `model-package/<group>/*`), and not yet seen within one account.

The group is in the pipeline stack, whose deploy role may neither put nor delete a group's policy, so only an
administrator's `make deploy` with CFN_ROLE_ARN sets it; a push that changes it fails the pipeline's self-update.
"""
from __future__ import annotations

import awacs.sagemaker
from awacs.aws import ArnNotLike, Condition, Deny, PolicyDocument, Principal, Statement, StringNotEquals
from troposphere import Ref, Sub, encode_to_dict

PENDING = "PendingManualApproval"


def _group_and_versions() -> list[Sub]:
    """The group and its versions: which of the two SageMaker authorises CreateModelPackage against is not documented
    (the execution role is granted it on both)."""
    return [Sub(f"arn:${{AWS::Partition}}:sagemaker:${{AWS::Region}}:${{AWS::AccountId}}:{resource}")
            for resource in ("model-package-group/${ModelPackageGroupName}", "model-package/${ModelPackageGroupName}/*")]


def group_policy(approvers: tuple[str, ...], granted: list[Statement] = ()) -> dict | None:
    """The group's ModelPackageGroupPolicy; None where config names no approvers (an env that serves no models).
    `granted`: the Allows to the env serving this env's versions (a source names approvers: the loader checks it)."""
    if not approvers:
        return None
    return encode_to_dict(PolicyDocument(Version="2012-10-17", Statement=[
        Statement(
            Sid="OnlyApproversUpdateVersions",
            Effect=Deny,
            Principal=Principal("AWS", "*"),
            Action=[awacs.sagemaker.UpdateModelPackage],
            Resource=_group_and_versions(),
            # ArnNotLike: an IAM Identity Center role is named by its permission set, its suffix as *.
            Condition=Condition(ArnNotLike({"aws:PrincipalArn": Ref("Approvers")})),
        ),
        Statement(
            Sid="RegisterOnlyPendingVersions",
            Effect=Deny,
            Principal=Principal("AWS", "*"),
            Action=[awacs.sagemaker.CreateModelPackage],
            Resource=_group_and_versions(),
            # A negated operator holds where the request names no status, so that is refused too.
            Condition=Condition(StringNotEquals({"sagemaker:ModelApprovalStatus": PENDING})),
        ),
        *granted,
    ]))
