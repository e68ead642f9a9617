"""What the analysts named in config (kpi.analyst_principals) may do with the KPI data, and nothing more.

Athena and QuickSight read S3 and KMS with the caller's own credentials, so a person running a query
needs the evaluation reports, the query results and the key that encrypts both. These statements go
into the artifact key's and bucket's own policies (the pipeline stack), so they grant by themselves,
without touching the analysts' roles, and only in an env that names analysts:

- the key: kms:Decrypt and kms:GenerateDataKey, only through S3 in this region (kms:ViaService);
- the bucket: read the evaluation reports and the decision records; read and write under athena-results/ (where
  the enforced workgroup configuration puts every result); list those prefixes; find the bucket's region.

Every statement names the principals the same way: aws:PrincipalArn matches one of the configured
role ARNs (an IAM Identity Center role may end in "_*", its suffix changes when the permission set is
provisioned again) and the caller is in this account. Querying also takes Athena and Glue permissions on
the caller's side, which no resource policy can give: docs/analysts.md lists them.
"""
from __future__ import annotations

import awacs.kms
import awacs.s3
from awacs.aws import Allow, ArnLike, Condition, Deny, Principal, Statement, StringEquals, StringLike
from troposphere import AWS_ACCOUNT_ID, GetAtt, Ref, Sub

from infra.config.names import ATHENA_RESULTS_PREFIX

KEY_ACTIONS = [awacs.kms.Decrypt, awacs.kms.GenerateDataKey]


def _analysts(account_key: str, equals: dict | None = None, *more) -> Condition:
    """The configured roles (by ARN pattern), calling from this account, and any further conditions."""
    return Condition([
        ArnLike({"aws:PrincipalArn": Ref("AnalystPrincipals")}),
        StringEquals({account_key: Ref(AWS_ACCOUNT_ID), **(equals or {})}),
        *more,
    ])


def key_statements(principals: tuple[str, ...]) -> list:
    """For the artifact key's policy: decrypt and make data keys, only as S3 does it for the analyst."""
    if not principals:
        return []
    return [Statement(
        Sid="AnalystsUseKeyThroughS3",
        Effect=Allow,
        Principal=Principal("AWS", "*"),
        Action=KEY_ACTIONS,
        Resource=["*"],
        Condition=_analysts("kms:CallerAccount", {"kms:ViaService": Sub("s3.${AWS::Region}.amazonaws.com")}),
    )]


def bucket_statements(bucket: str, principals: tuple[str, ...]) -> list:
    """For the artifact bucket's policy (bucket: the bucket's logical ID)."""
    if not principals:
        return []
    bucket_arn = GetAtt(bucket, "Arn")
    reports = Sub(f"${{{bucket}.Arn}}/${{EvaluationReportsPrefix}}*")
    decisions = Sub(f"${{{bucket}.Arn}}/${{DecisionsPrefix}}*")
    results = Sub(f"${{{bucket}.Arn}}/{ATHENA_RESULTS_PREFIX}*")

    def statement(sid, actions, resources, *more):
        return Statement(Sid=sid, Effect=Allow, Principal=Principal("AWS", "*"), Action=actions,
                         Resource=resources, Condition=_analysts("aws:PrincipalAccount", None, *more))

    return [
        statement("AnalystsReadReportsAndResults", [awacs.s3.GetObject], [reports, decisions, results]),
        statement("AnalystsWriteQueryResults",
                  [awacs.s3.PutObject, awacs.s3.AbortMultipartUpload, awacs.s3.ListMultipartUploadParts], [results]),
        statement("AnalystsListReportsAndResults", [awacs.s3.ListBucket], [bucket_arn],
                  StringLike({"s3:prefix": [Sub("${EvaluationReportsPrefix}*"), Sub("${DecisionsPrefix}*"),
                                            f"{ATHENA_RESULTS_PREFIX}*"]})),
        statement("AnalystsBucketLocation", [awacs.s3.GetBucketLocation, awacs.s3.ListBucketMultipartUploads], [bucket_arn]),
        # The key lets the analysts decrypt through S3 anywhere in the bucket (with S3 Bucket Keys the
        # encryption context is the bucket, not the object), and an identity policy with broad s3:Get*
        # would then read training data, models and sources: refuse every object but those prefixes.
        Statement(
            Sid="AnalystsReadNothingElse",
            Effect=Deny,
            Principal=Principal("AWS", "*"),
            Action=[awacs.s3.GetObject, awacs.s3.GetObjectVersion],
            NotResource=[reports, decisions, results],
            Condition=Condition(ArnLike({"aws:PrincipalArn": Ref("AnalystPrincipals")})),
        ),
    ]
