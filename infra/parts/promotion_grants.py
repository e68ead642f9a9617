"""What a source env grants the env that serves its approved versions from another account (that env's
`deployment.models_from`): read of the approved versions and of their pinned archives, nothing else
(docs/promotion.md). Every grant names the serving env's account root as principal and, by `aws:PrincipalArn`, the
serving env's roles that need it: no other identity of that account, and no `*` principal. The roles need not exist
yet (a condition names an ARN, a principal would need the role). tests/iam/test_promotion_grants.py holds the table.
"""
from __future__ import annotations

import awacs.kms
import awacs.s3
import awacs.sagemaker
from awacs.aws import Allow, ArnEquals, ArnNotEquals, Bool, Condition, Deny, Null, Principal, Statement, StringEquals, StringLike
from troposphere import Sub

from infra.config.names import Names
from infra.iam.policies import (APPROVED_ARCHIVE_TAG, APPROVED_ARCHIVE_TAG_VALUE, MODEL_ARCHIVES, arn,
                                artifact_bucket_arn, sub)


def _account(taker: Names) -> Principal:
    return Principal("AWS", [Sub(f"arn:${{AWS::Partition}}:iam::{taker.env.account_id}:root")])


def role_arns(taker: Names, *roles: str) -> list[Sub]:
    """The serving env's roles by ARN (its account, its role path)."""
    return [Sub(f"arn:${{AWS::Partition}}:iam::{taker.env.account_id}:role{taker.role_path}{role}") for role in roles]


def _only(taker: Names, *roles: str) -> ArnEquals:
    return ArnEquals({"aws:PrincipalArn": role_arns(taker, *roles)})


def _group() -> Sub:
    return arn("sagemaker", "model-package-group/${ModelPackageGroupName}")


def _group_and_versions() -> list[Sub]:
    return [_group(), arn("sagemaker", "model-package/${ModelPackageGroupName}/*")]


def group_statements(taker: Names) -> list[Statement]:
    """The model package group's Allows: Resolve finds and describes the approved versions, the smoke test describes
    the one it tests, the endpoint deploy roles create a model from one ("Deploy a Model Version from a Different
    Account", SageMaker developer guide). The approvers' Deny (infra/parts/approvers.py) names every principal, so
    no role of the serving account may update (approve or reject) a version either."""
    return [
        Statement(Sid="ServingResolveReadsVersions", Effect=Allow, Principal=_account(taker),
                  Action=[awacs.sagemaker.DescribeModelPackage, awacs.sagemaker.ListModelPackages],
                  Resource=_group_and_versions(), Condition=Condition(_only(taker, taker.resolve_function_role))),
        Statement(Sid="ServingRolesDescribeVersions", Effect=Allow, Principal=_account(taker),
                  Action=[awacs.sagemaker.DescribeModelPackage], Resource=_group_and_versions(),
                  Condition=Condition(_only(taker, taker.smoke_test_function_role, taker.deploy_role("staging-endpoint"),
                                            taker.deploy_role("production-endpoint")))),
        Statement(Sid="ServingEndpointsCreateModels", Effect=Allow, Principal=_account(taker),
                  Action=[awacs.sagemaker.CreateModel], Resource=_group_and_versions(),
                  # Only network-isolated models, as the serving env's own grants ask (infra/iam/runtime).
                  Condition=Condition([_only(taker, taker.deploy_role("staging-endpoint"),
                                             taker.deploy_role("production-endpoint")),
                                       Bool({"sagemaker:NetworkIsolation": "true"})])),
        # `make deploy` of the serving env probes this with the operator's own credentials, before it changes
        # anything: that the group exists and admits the serving account (describe of the group alone).
        Statement(Sid="ServingAccountSeesTheGroup", Effect=Allow, Principal=_account(taker),
                  Action=[awacs.sagemaker.DescribeModelPackageGroup], Resource=[_group()]),
    ]


def bucket_statements(taker: Names) -> list[Statement]:
    """The artifact bucket's Allows: the serving env's model role and smoke test read the archives pinned to a version of
    this env's group (the tag this env's archive pin function puts on the one object version it checked); Resolve
    sees, read-only, that an archive was written once and is pinned (its versions, the bucket's versioning, the tag)."""
    archives = artifact_bucket_arn(f"/{MODEL_ARCHIVES}*")
    return [
        Statement(Sid="ServingReadsPinnedArchives", Effect=Allow, Principal=_account(taker),
                  Action=[awacs.s3.GetObject], Resource=[archives],
                  Condition=Condition([_only(taker, taker.model_role, taker.smoke_test_function_role),
                                       StringLike({f"s3:ExistingObjectTag/{APPROVED_ARCHIVE_TAG}":
                                                   sub(APPROVED_ARCHIVE_TAG_VALUE)})])),
        Statement(Sid="ServingListsArchives", Effect=Allow, Principal=_account(taker),
                  Action=[awacs.s3.ListBucket], Resource=[artifact_bucket_arn()],
                  Condition=Condition([_only(taker, taker.model_role, taker.smoke_test_function_role),
                                       StringLike({"s3:prefix": sub(f"{MODEL_ARCHIVES}*")})])),
        Statement(Sid="ServingResolveListsArchiveVersions", Effect=Allow, Principal=_account(taker),
                  Action=[awacs.s3.ListBucketVersions], Resource=[artifact_bucket_arn()],
                  Condition=Condition([_only(taker, taker.resolve_function_role),
                                       StringLike({"s3:prefix": sub(f"{MODEL_ARCHIVES}*")})])),
        Statement(Sid="ServingResolveSeesVersioning", Effect=Allow, Principal=_account(taker),
                  Action=[awacs.s3.GetBucketVersioning], Resource=[artifact_bucket_arn()],
                  Condition=Condition(_only(taker, taker.resolve_function_role))),
        Statement(Sid="ServingResolveReadsArchivePins", Effect=Allow, Principal=_account(taker),
                  # The tags of a version other than the current take both actions (GetObjectTagging, S3 API reference).
                  Action=[awacs.s3.GetObjectTagging, awacs.s3.GetObjectVersionTagging], Resource=[archives],
                  Condition=Condition(_only(taker, taker.resolve_function_role))),
    ]


def key_statements(taker: Names) -> list[Statement]:
    """The artifact key: the two roles that read archives decrypt them through S3, for this bucket only (S3 Bucket
    Keys: the encryption context is the bucket's ARN). Resolve's reads (versions, tags) decrypt nothing."""
    return [Statement(
        Sid="ServingDecryptsArchivesThroughS3", Effect=Allow, Principal=_account(taker),
        Action=[awacs.kms.Decrypt], Resource=["*"],
        Condition=Condition([
            ArnEquals({"aws:PrincipalArn": role_arns(taker, taker.model_role, taker.smoke_test_function_role)}),
            # The encryption context is a string key (KMS developer guide, "kms:EncryptionContext:context-key").
            StringEquals({"kms:ViaService": Sub("s3.${AWS::Region}.amazonaws.com"),
                          "kms:EncryptionContext:aws:s3:arn": artifact_bucket_arn()}),
        ]),
    )]


def _own_role(role_name_value: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role${{RolePath}}${{{role_name_value}}}")


def bucket_guards(serves_own_models: bool) -> list[Statement]:
    """Deny statements of a source env's bucket: the tag the serving env trusts is put by the archive pin alone (and by
    this env's own Resolve where it serves its own models), on an archive already written, never with an upload. A
    ModelDataUrl names no object version, so a rewrite tagged by anyone else would be what the serving env's next new
    instance loads; the pin's code changes only through a release a person approved (loader: release_approval)."""
    taggers = [_own_role("ArchivePinFunctionRoleName"), *([_own_role("ResolveFunctionRoleName")] if serves_own_models else [])]
    archives = artifact_bucket_arn(f"/{MODEL_ARCHIVES}*")
    return [
        Statement(Sid="OnlyThePinTagsArchives", Effect=Deny, Principal=Principal("*"),
                  Action=[awacs.s3.PutObjectTagging, awacs.s3.PutObjectVersionTagging, awacs.s3.DeleteObjectTagging,
                          awacs.s3.DeleteObjectVersionTagging], Resource=[archives],
                  Condition=Condition(ArnNotEquals({"aws:PrincipalArn": taggers}))),
        Statement(Sid="NoPinnedUploads", Effect=Deny, Principal=Principal("*"), Action=[awacs.s3.PutObject],
                  Resource=[archives], Condition=Condition(Null({f"s3:RequestObjectTag/{APPROVED_ARCHIVE_TAG}": "false"}))),
    ]
