"""The delivery pipeline's artifact store: its customer managed key (and alias), the versioned bucket every run,
build and SageMaker job writes to, and the bucket's policy. The data uploaders' and analysts' statements exist
only when config names them."""
from __future__ import annotations

import awacs.kms
import awacs.s3
from awacs.aws import (
    Allow,
    ArnEquals,
    ArnLike,
    Bool,
    Condition,
    Deny,
    Null,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringLike,
    StringNotEquals,
)
from troposphere import GetAtt, Ref, Sub, Template, kms, s3

from infra.cfn.exports import import_value
from infra.cfn.templates_common import RETAIN_DELETION, RETAIN_REPLACEMENT
from infra.config.model import Environment
from infra.config.names import ARTIFACT_BUCKET_SUB, Names
from infra.iam.policies import (
    KMS_USE_ACTIONS,
    MODEL_ARCHIVES,
    VERSION,
    account_administers_key,
    artifact_bucket_arn,
    deny_insecure_transport,
    deploy_role_administers_key,
)
from infra.parts import analysts, delivery_failures, promotion_grants
from infra.parts.alarms import alarm_source_conditions
from infra.parts.artifact_prefixes import FOLDERS, RETAINED_TRANSITION_DAYS, Folder
from infra.parts.kms_keys import customer_managed_key

# CloudWatch Logs groups this env's resources write to, encrypted with the artifact key.
ENCRYPTED_LOG_GROUPS = (
    "/aws/codebuild/${ResourcePrefix}-*",
    "/aws/lambda/${ResourcePrefix}-*",
    "/aws-glue/crawlers-role/*",
)


INPUT_OBJECTS = "/${SageMakerInputPrefix}*"


def role_arn_pattern() -> Sub:
    return Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role${RolePath}${ResourcePrefix}-*")


def uploaders_encrypt_input_statement() -> Statement:
    """The named uploaders may have S3 encrypt their uploads with the key, and nothing else with it.

    Decrypt too: S3 needs it to complete multipart uploads (the AWS CLI's for files over 8 MB). The
    bucket uses S3 Bucket Keys, so the encryption context is the bucket's ARN."""
    return Statement(
        Sid="DataUploadersEncryptInputThroughS3",
        Effect=Allow,
        Principal=Principal("AWS", Ref("DataUploaderArns")),
        Action=[awacs.kms.GenerateDataKey, awacs.kms.Decrypt],
        Resource=["*"],
        Condition=Condition([
            StringEquals({"kms:ViaService": Sub("s3.${AWS::Region}.amazonaws.com"), "kms:CallerAccount": Ref("AWS::AccountId")}),
            ArnLike({"kms:EncryptionContext:aws:s3:arn": [artifact_bucket_arn(), artifact_bucket_arn(INPUT_OBJECTS)]}),
        ]),
    )


def uploaders_write_input_statements() -> list[Statement]:
    """Bucket-policy statements: the named uploaders, in this account only, may put objects under the input
    prefix and list it, and read nothing else in the bucket whatever their own policies say."""
    uploaders = Principal("AWS", Ref("DataUploaderArns"))
    this_account = StringEquals({"aws:PrincipalAccount": Ref("AWS::AccountId")})
    return [
        Statement(
            Sid="DataUploadersWriteInput",
            Effect=Allow,
            Principal=uploaders,
            Condition=Condition(this_account),
            # DeleteObject too: every file under input/ is read, so replacing the sample means removing it
            # (the bucket is versioned and keeps every version under the SageMaker folder: a deleted object stays
            # recoverable, infra/parts/artifact_prefixes.py).
            Action=[awacs.s3.PutObject, awacs.s3.AbortMultipartUpload, awacs.s3.DeleteObject],
            Resource=[artifact_bucket_arn(INPUT_OBJECTS)],
        ),
        Statement(
            Sid="DataUploadersListInput",
            Effect=Allow,
            Principal=uploaders,
            Action=[awacs.s3.ListBucket],
            Resource=[artifact_bucket_arn()],
            Condition=Condition([StringLike({"s3:prefix": [Sub("${SageMakerInputPrefix}*")]}), this_account]),
        ),
        # The key lets them decrypt through S3 anywhere in the bucket (with S3 Bucket Keys the encryption context
        # is the bucket): an identity policy with broad s3:Get* must still not read models, data or sources.
        Statement(
            Sid="DataUploadersReadNothingElse",
            Effect=Deny,
            Principal=Principal("*"),
            Action=[awacs.s3.GetObject, awacs.s3.GetObjectVersion],
            NotResource=[artifact_bucket_arn(INPUT_OBJECTS)],
            Condition=Condition(ArnEquals({"aws:PrincipalArn": Ref("DataUploaderArns")})),
        ),
    ]


# The IAM stack's exports of the roles a delivery pipeline run uses first: the pipeline's and its builds'.
FIRST_RUN_ROLE_EXPORTS = ("CodePipelineRoleArn", "SynthBuildRoleArn", "UpsertBuildRoleArn")


def endpoint_volume_grants() -> Statement:
    """SageMaker encrypts the endpoints' volumes through a grant it makes with the credentials of the
    CreateEndpoint/UpdateEndpoint caller: staging's deploy role, production's rollout (the resolve function); the
    config makers too (CreateEndpointConfig). Their policies grant it by alias too. Only where the env serves models."""
    return Statement(
        Sid="EndpointDeployRolesGrantsForVolumes",
        Effect=Allow,
        Principal=Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]),
        Action=[awacs.kms.CreateGrant],
        Resource=["*"],
        Condition=Condition([
            ArnEquals({"aws:PrincipalArn": [
                Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role${{RolePath}}${{{role}}}")
                for role in ("StagingEndpointDeployRoleName", "ProductionEndpointDeployRoleName",
                             "ResolveFunctionRoleName")]}),
            Bool({"kms:GrantIsForAWSResource": "true"}),
        ]),
    )


def artifact_key_policy(env: Environment, taker: Names | None = None) -> PolicyDocument:
    """The key policy; the uploaders', the analysts' and the serving env's (`taker`, another account) statements only
    when the env's config names them."""
    return PolicyDocument(
        Version=VERSION,
        Statement=[
            account_administers_key("AccountAdministersKey"),
            deploy_role_administers_key("DeployRoleAdministersKey", import_value("DeployRolesStackName", "PipelineDeployRoleArn")),
            # Usage goes through IAM, and only for this environment's project roles (path and prefix):
            # roles in later stacks (the notifier, the metrics function, the crawler) need no change here,
            # and each role's own policy still has to grant the key by its alias.
            Statement(
                Sid="ProjectRolesUseKeyThroughIam",
                Effect=Allow,
                Principal=Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]),
                Action=KMS_USE_ACTIONS,
                Resource=["*"],
                Condition=Condition(ArnLike({"aws:PrincipalArn": [role_arn_pattern()]})),
            ),
            # The delivery pipeline starts by itself as soon as it exists, and an alias takes up to five minutes to
            # authorise ("Use aliases to control access to KMS keys", KMS developer guide): the roles of its first
            # run (its own and its two builds', made by the IAM stack before this one) use the key by this policy,
            # not only by their alias-conditioned grants, so that run does not race the alias.
            Statement(
                Sid="FirstRunRolesUseKey",
                Effect=Allow,
                Principal=Principal("AWS", [import_value("IamStackName", export) for export in FIRST_RUN_ROLE_EXPORTS]),
                Action=KMS_USE_ACTIONS,
                Resource=["*"],
            ),
            *([endpoint_volume_grants()] if env.deployment is not None else []),
            # CloudWatch encrypts what this env's alarms publish to the (encrypted) operations topic.
            Statement(
                Sid="AlarmsPublishToOperationsTopic",
                Effect=Allow,
                Principal=Principal("Service", ["cloudwatch.amazonaws.com"]),
                Action=[awacs.kms.Decrypt, awacs.kms.GenerateDataKey],
                Resource=["*"],
                Condition=alarm_source_conditions(),
            ),
            delivery_failures.key_statement(),
            Statement(
                Sid="LogsEncryptProjectLogGroups",
                Effect=Allow,
                Principal=Principal("Service", [Sub("logs.${AWS::Region}.amazonaws.com")]),
                Action=KMS_USE_ACTIONS,
                Resource=["*"],
                Condition=Condition(
                    ArnLike({"kms:EncryptionContext:aws:logs:arn": [
                        Sub(f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{group}")
                        for group in ENCRYPTED_LOG_GROUPS
                    ]})
                ),
            ),
            *([uploaders_encrypt_input_statement()] if env.data_uploaders else []),
            *analysts.key_statements(env.analyst_principals),
            *(promotion_grants.key_statements(taker) if taker else []),
        ],
    )


# The artifact key's alias. The roles of the builds and the pipeline use the key by this alias (kms:ResourceAliases),
# so what acts with them is created after it: an alias takes up to five minutes to count in authorisation ("Use
# aliases to control access to KMS keys", KMS developer guide), and the pipeline starts a run when it is created.
ARTIFACT_KEY_ALIAS = "ArtifactKeyAliasResource"


def add_artifact_key(t: Template, env: Environment, taker: Names | None = None) -> kms.Key:
    return customer_managed_key(
        t, "ArtifactKey", ARTIFACT_KEY_ALIAS, "ArtifactKeyAlias",
        "Artifacts of the ${ProjectName} ${Environment} delivery and SageMaker pipelines", artifact_key_policy(env, taker),
    )


def _rule(folder: Folder) -> s3.LifecycleRule:
    """One folder of the table: a retained folder's replaced versions move to a cheaper class and are never deleted; a
    scratch folder's objects expire after `days` (None: never), and its replaced or expired versions after
    `noncurrent_days`. Without an expiration of its own, a rule must clear the delete markers left once a deleted
    object's versions are gone (an expiration does that by itself)."""
    if folder.retained:
        return s3.LifecycleRule(
            Id=folder.rule_id, Status="Enabled", Prefix=Sub(folder.prefix),
            NoncurrentVersionTransitions=[s3.NoncurrentVersionTransition(
                StorageClass="STANDARD_IA", TransitionInDays=RETAINED_TRANSITION_DAYS)])
    return s3.LifecycleRule(
        Id=folder.rule_id, Status="Enabled", Prefix=Sub(folder.prefix),
        **({"ExpirationInDays": folder.days} if folder.days else {"ExpiredObjectDeleteMarker": True}),
        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=folder.noncurrent_days),
    )


def add_artifact_bucket(t: Template, key: kms.Key, env: Environment, taker: Names | None = None) -> s3.Bucket:
    ArtifactBucket = t.add_resource(
        s3.Bucket(
            "ArtifactBucket",
            BucketName=Sub(ARTIFACT_BUCKET_SUB),
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
            ),
            OwnershipControls=s3.OwnershipControls(Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]),
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        BucketKeyEnabled=True,
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                            SSEAlgorithm="aws:kms", KMSMasterKeyID=GetAtt(key, "Arn")
                        ),
                    )
                ]
            ),
            # Every folder's rule comes from one table (infra/parts/artifact_prefixes.py): where data is kept, no
            # version ever expires, so nothing a push writes or deletes there loses the original; scratch folders
            # expire. No rule spans the bucket but the one that drops unfinished uploads (never an object).
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(
                        Id="AbortIncompleteUploads", Status="Enabled",
                        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
                    ),
                    *(_rule(folder) for folder in FOLDERS),
                ]
            ),
            DeletionPolicy=RETAIN_DELETION,
            UpdateReplacePolicy=RETAIN_REPLACEMENT,
        )
    )
    deny = deny_insecure_transport(GetAtt(ArtifactBucket, "Arn"), Sub("${ArtifactBucket.Arn}/*"))
    encryption = "s3:x-amz-server-side-encryption"
    key_id = "s3:x-amz-server-side-encryption-aws-kms-key-id"
    # An upload may leave encryption to the bucket's default (the project key) or ask for SSE-KMS; asking for
    # SSE-S3, dual-layer SSE-KMS or a key the caller holds (SSE-C) is refused, and so is naming any key but the
    # project key. S3 compares the key id header as sent, and documents the key ARN form for this condition: every
    # writer that names the key names it by ARN (docs/security.md lists them). Without the Null test an upload
    # naming no key (the bucket default) would count as "not equal" and be refused.
    refuse_other_encryption = [
        Statement(Sid="DenyOtherEncryption", Effect=Deny, Principal=Principal("*"), Action=[awacs.s3.PutObject],
                  Resource=[Sub("${ArtifactBucket.Arn}/*")],
                  Condition=Condition([StringNotEquals({encryption: "aws:kms"}), Null({encryption: "false"})])),
        Statement(Sid="DenyOtherKeys", Effect=Deny, Principal=Principal("*"), Action=[awacs.s3.PutObject],
                  Resource=[Sub("${ArtifactBucket.Arn}/*")],
                  Condition=Condition([StringNotEquals({key_id: GetAtt(key, "Arn")}), Null({key_id: "false"})])),
        Statement(Sid="DenyCustomerProvidedKeys", Effect=Deny, Principal=Principal("*"), Action=[awacs.s3.PutObject],
                  Resource=[Sub("${ArtifactBucket.Arn}/*")],
                  Condition=Condition(Null({"s3:x-amz-server-side-encryption-customer-algorithm": "false"}))),
        # Model archives are written by the jobs, never copied in: a copy (CopyObject, UploadPartCopy) keeps the
        # source's tags by default, and a copied archive of another version could carry the tag serving trusts.
        Statement(Sid="DenyCopiesIntoModelArchives", Effect=Deny, Principal=Principal("*"), Action=[awacs.s3.PutObject],
                  Resource=[Sub(f"${{ArtifactBucket.Arn}}/{MODEL_ARCHIVES}*")],
                  Condition=Condition(Null({"s3:x-amz-copy-source": "false"}))),
    ]
    t.add_resource(
        s3.BucketPolicy(
            "ArtifactBucketPolicy",
            Bucket=Ref(ArtifactBucket),
            PolicyDocument=PolicyDocument(Version=VERSION, Statement=[
                deny, *refuse_other_encryption,
                *(uploaders_write_input_statements() if env.data_uploaders else []),
                *analysts.bucket_statements(ArtifactBucket.title, env.analyst_principals),
                *(promotion_grants.bucket_statements(taker) if taker else []),
                *(promotion_grants.bucket_guards(env.deployment is not None) if taker else []),
            ]),
        )
    )
    return ArtifactBucket
