"""Reusable IAM statements, one function per access pattern.

Share statements, not roles: each role composes the few patterns it needs. ARNs are `Sub` strings
over `${AWS::Partition}`, `${AWS::Region}` and `${AWS::AccountId}`, never a hard-coded partition.
Statements whose actions have no resource-level permissions say so in their Sid; that list is kept
in NO_RESOURCE_LEVEL_ACTIONS and the IAM tests hold every `Resource: "*"` to it.
"""
from __future__ import annotations

import awacs.cloudwatch
import awacs.ecr
import awacs.iam
import awacs.kms
import awacs.logs
import awacs.s3
import awacs.sns
import awacs.sts
from awacs.aws import (
    Allow,
    ArnEquals,
    ArnLike,
    ArnLikeIfExists,
    Bool,
    Condition,
    Deny,
    ForAllValuesStringEquals,
    ForAnyValueStringEquals,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringEqualsIfExists,
    StringLike,
)
from awacs.helpers.trust import make_simple_assume_policy
from troposphere import Ref, Sub

from infra.cfn.mappings import image_registry_account
from infra.config.names import ARTIFACT_BUCKET_SUB
from lambda_src.shared import contract as shared_contract

# Actions that IAM cannot scope to a resource: "*" is the only valid Resource for them.
# (Service Authorization Reference: these list no resource types.)
NO_RESOURCE_LEVEL_ACTIONS = frozenset(
    {
        "ecr:GetAuthorizationToken",  # ECR: the token is account-wide
        "cloudwatch:PutMetricData",  # CloudWatch: scoped by the cloudwatch:namespace condition instead
        "cloudwatch:GetMetricData",  # CloudWatch: read-only metric queries
        "cloudwatch:GetMetricStatistics",
        "servicequotas:ListServiceQuotas",  # Service Quotas: list calls (the quota is found by name)
        "servicequotas:ListAWSDefaultServiceQuotas",
        "sagemaker:ListEndpoints",
        "sagemaker:ListPipelines",  # SageMaker: list calls
        "codestar-connections:ListConnections",
        "kms:CreateKey",  # KMS: a key that does not exist yet has no ARN
        "sns:ListTopics",
        "glue:GetSecurityConfiguration",
        "glue:GetSecurityConfigurations",
        "glue:CreateSecurityConfiguration",
        "glue:DeleteSecurityConfiguration",
        "athena:ListWorkGroups",
        "logs:DescribeLogGroups",
        "logs:DescribeResourcePolicies",
        "logs:DescribeIndexPolicies",
        "glue:CreateCrawler",
        "glue:UpdateCrawlerSchedule",
        "quicksight:CreateDataSource",
        "kms:ListAliases",
        "lakeformation:DescribeResource",
        "lakeformation:ListResources",
        "lakeformation:DescribeLakeFormationIdentityCenterConfiguration",
        "lambda:GetEventSourceMapping",
        "cloudformation:ValidateTemplate",
        "codebuild:ListProjects",
        "quicksight:ListDataSources",
        "codepipeline:PutJobSuccessResult",  # CodePipeline job results: no resource types
        "codepipeline:PutJobFailureResult",
        "lambda:ListFunctions",  # Lambda: list calls (CodePipeline's Lambda invoke action)
        "application-autoscaling:DescribeScalableTargets",  # Application Auto Scaling: its Describe calls
        "application-autoscaling:DescribeScalingPolicies",
        "application-autoscaling:DescribeScheduledActions",
        "chatbot:DescribeSlackChannelConfigurations",  # AWS Chatbot: its describe, get and list calls
        "chatbot:GetMicrosoftTeamsChannelConfiguration",
        "chatbot:ListMicrosoftTeamsChannelConfigurations",
        "chatbot:ListTagsForResource",
    }
)

VERSION = "2012-10-17"


def sub(text: str):
    """Sub only when the text has a ${...} to substitute (cfn-lint W1020)."""
    return Sub(text) if "${" in text else text


def document(*statement_lists) -> PolicyDocument:
    statements = [s for group in statement_lists for s in (group if isinstance(group, list) else [group])]
    return PolicyDocument(Version=VERSION, Statement=statements)


# The services whose guides show aws:SourceAccount and aws:SourceArn in the trust policies of roles they assume, and
# what the source is: a key a service does not send makes the role unassumable, so only these get the confused-deputy
# condition (docs/security.md lists the others and why).
# - EventBridge, "Using IAM policy conditions in Amazon EventBridge": aws:SourceAccount, the rule's account;
#   aws:SourceArn, the rule that sends the event (this env's rules are all named <prefix>-…). Required.
# - SageMaker AI, "Cross-service confused deputy prevention" (Pipelines, Processing and Training jobs, Inference): the
#   source ARN differs per feature, so any resource of this account and region. The guide shows the keys but does not
#   say every AssumeRole of every feature carries them, so IfExists: a key SageMaker sends must name this account, and
#   one it does not send cannot stop the first run.
# - EventBridge Scheduler, "Setting up Amazon EventBridge Scheduler" (Set up the execution role) and its document
#   history (September 7, 2023: the role is applied to a schedule group): aws:SourceAccount; aws:SourceArn, the schedule
#   group (the subscriber check's schedule is in the default group).
# service -> (the resource the source ARN names, whether the keys may be absent)
TRUST_SOURCES = {"events.amazonaws.com": ("rule/${ResourcePrefix}-*", False), "sagemaker.amazonaws.com": ("*", True),
                 "scheduler.amazonaws.com": ("schedule-group/default", False)}


def trust(service: str) -> PolicyDocument:
    """Trust policy naming the one service that assumes the role; for a service in TRUST_SOURCES, only on behalf of
    this account and of this env's resources (or the account's, where the service names no fixed one)."""
    if service not in TRUST_SOURCES:
        return make_simple_assume_policy(service)
    source, may_be_absent = TRUST_SOURCES[service]
    equals, arn_like = (StringEqualsIfExists, ArnLikeIfExists) if may_be_absent else (StringEquals, ArnLike)
    conditions = [equals({"aws:SourceAccount": Ref("AWS::AccountId")}),
                  arn_like({"aws:SourceArn": arn(service.split(".")[0], source)})]
    return PolicyDocument(Version=VERSION, Statement=[
        Statement(Effect=Allow, Principal=Principal("Service", [service]), Action=[awacs.sts.AssumeRole],
                  Condition=Condition(conditions))])


def arn(service: str, resource: str, region: bool = True, account: bool = True) -> Sub:
    """`arn:${AWS::Partition}:<service>:<region>:<account>:<resource>`, resource may use ${Param}."""
    r = "${AWS::Region}" if region else ""
    a = "${AWS::AccountId}" if account else ""
    return Sub(f"arn:${{AWS::Partition}}:{service}:{r}:{a}:{resource}")


def artifact_bucket_arn(suffix: str = "") -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:s3:::{ARTIFACT_BUCKET_SUB}{suffix}")


# -- S3 ------------------------------------------------------------------------------------------
def read_prefix(sid: str, prefix_sub: str, condition: Condition | None = None) -> list[Statement]:
    """Read objects under a key prefix of the artifact bucket (only where `condition` holds), and list only that prefix."""
    return [
        Statement(
            Sid=f"{sid}Read",
            Effect=Allow,
            Action=[awacs.s3.GetObject, awacs.s3.GetObjectVersion],
            Resource=[artifact_bucket_arn(f"/{prefix_sub}*")],
            **({"Condition": condition} if condition else {}),
        ),
        list_prefix(sid, prefix_sub),
    ]


# Where the model archives are (the SageMaker jobs write them; pipeline_def/pipeline.py), and the tag the deployment
# pipeline's Resolve function puts on the one object version of an archive it deploys (lambda_src/deploy_resolve).
MODEL_ARCHIVES = "${SageMakerPrefix}models/"
APPROVED_ARCHIVE_TAG = shared_contract.ARCHIVE_TAG
APPROVED_ARCHIVE_TAG_VALUE = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:model-package/${ModelPackageGroupName}/*"


def read_approved_archives(sid: str) -> list[Statement]:
    """Read the model archives the deployment pipeline tagged for a version of this env's group, nothing else under
    models/: an archive rewritten after it was deployed is a new, untagged object version, which this cannot load."""
    return read_prefix(sid, MODEL_ARCHIVES, Condition(StringLike(
        {f"s3:ExistingObjectTag/{APPROVED_ARCHIVE_TAG}": sub(APPROVED_ARCHIVE_TAG_VALUE)})))


def tag_approved_archives(sid: str) -> list[Statement]:
    """Is the bucket versioned, list an archive's object versions (was it written once?) and tag the one it has
    (the deployment's Resolve)."""
    return [
        Statement(Sid=f"{sid}Versions", Effect=Allow, Action=[awacs.s3.ListBucketVersions], Resource=[artifact_bucket_arn()],
                  Condition=Condition(StringLike({"s3:prefix": sub(f"{MODEL_ARCHIVES}*")}))),
        Statement(Sid=f"{sid}Versioning", Effect=Allow, Action=[awacs.s3.GetBucketVersioning], Resource=[artifact_bucket_arn()]),
        # PutObjectTagging names a VersionId: S3 documents both actions for tagging a version other than the current.
        Statement(Sid=f"{sid}Tag", Effect=Allow, Action=[awacs.s3.PutObjectTagging, awacs.s3.PutObjectVersionTagging],
                  Resource=[artifact_bucket_arn(f"/{MODEL_ARCHIVES}*")]),
    ]


# An env serving another env's models (deployment.models_from) reads them in that env's account: its group, bucket,
# models/ folder and key (infra/cfn/parameters.py Models*; in an env serving its own, its own). Only the grants the
# source env's policies give it (docs/promotion.md), each named here.
MODELS_BUCKET = "arn:${AWS::Partition}:s3:::${ModelsBucketName}"
SOURCE_ARCHIVES = f"{MODELS_BUCKET}/${{ModelsArchivePrefix}}*"
SOURCE_ARCHIVE_TAG_VALUE = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${ModelsAccountId}:model-package/${ModelsGroupName}/*"


def models_arn(service: str, resource: str) -> Sub:
    """An ARN in the account the env's models come from (its own, or its models_from env's)."""
    return Sub(f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{ModelsAccountId}}:{resource}")


def _source_account() -> StringEquals:
    """The bucket is the source account's: a bucket name is global, and one freed (deleted) could be taken by anyone."""
    return StringEquals({"aws:ResourceAccount": Sub("${ModelsAccountId}")})


def read_source_archives(sid: str) -> list[Statement]:
    """Read the archives the source env pinned for a version of its group (GetObject of the current version: a
    ModelDataUrl names no version), nothing else of its bucket."""
    return [Statement(Sid=f"{sid}Read", Effect=Allow, Action=[awacs.s3.GetObject], Resource=[Sub(SOURCE_ARCHIVES)],
                      Condition=Condition([StringLike({f"s3:ExistingObjectTag/{APPROVED_ARCHIVE_TAG}":
                                                       Sub(SOURCE_ARCHIVE_TAG_VALUE)}), _source_account()])),
            # As the same roles list their own env's archives: whether SageMaker's model download lists is not
            # documented, and without it a missing object reads as 403, not 404.
            Statement(Sid=f"{sid}List", Effect=Allow, Action=[awacs.s3.ListBucket], Resource=[Sub(MODELS_BUCKET)],
                      Condition=Condition([StringLike({"s3:prefix": Sub("${ModelsArchivePrefix}*")}), _source_account()]))]


def verify_source_archives(sid: str) -> list[Statement]:
    """Resolve's read-only archive checks in the source env's bucket (lambda_src/shared/archives.py verify_pinned):
    versioning, an archive's object versions, and the tag of the one it has. Never a write."""
    return [
        Statement(Sid=f"{sid}Versions", Effect=Allow, Action=[awacs.s3.ListBucketVersions], Resource=[Sub(MODELS_BUCKET)],
                  Condition=Condition([StringLike({"s3:prefix": Sub("${ModelsArchivePrefix}*")}), _source_account()])),
        Statement(Sid=f"{sid}Versioning", Effect=Allow, Action=[awacs.s3.GetBucketVersioning], Resource=[Sub(MODELS_BUCKET)],
                  Condition=Condition(_source_account())),
        # GetObjectTagging of a version other than the current needs both actions (GetObjectTagging, S3 API reference).
        Statement(Sid=f"{sid}Tags", Effect=Allow, Action=[awacs.s3.GetObjectTagging, awacs.s3.GetObjectVersionTagging],
                  Resource=[Sub(SOURCE_ARCHIVES)], Condition=Condition(_source_account())),
    ]


def decrypt_source_archives(sid: str) -> Statement:
    """Decrypt with a key of the source env's account only for S3 reading the source's bucket (the bucket uses S3
    Bucket Keys: the encryption context is the bucket's ARN, and its policy refuses objects under any key but its
    artifact key). Not by alias: the KMS guide ("Use aliases to control access to KMS keys") does not say that
    kms:ResourceAliases is evaluated for a key of another account, and a condition that is not would refuse every read."""
    return Statement(Sid=sid, Effect=Allow, Action=[awacs.kms.Decrypt], Resource=[models_arn("kms", "key/*")],
                     Condition=Condition(StringEquals({"kms:ViaService": Sub("s3.${AWS::Region}.amazonaws.com"),
                                                       "kms:EncryptionContext:aws:s3:arn": Sub(MODELS_BUCKET)})))


def read_served_archives(sid: str, decrypt_sid: str, takes_models: bool) -> list[Statement]:
    """Read (and decrypt) the pinned archives of the versions the env serves: its own, or (takes_models) its models_from
    env's, only as that env's bucket and key policies grant (docs/promotion.md)."""
    if takes_models:
        return [*read_source_archives(sid), decrypt_source_archives(decrypt_sid)]
    return [*read_approved_archives(sid), decrypt_by_alias(decrypt_sid, "${ArtifactKeyAlias}")]


def write_prefix(sid: str, prefix_sub: str) -> list[Statement]:
    return [
        Statement(
            Sid=f"{sid}Write",
            Effect=Allow,
            Action=[awacs.s3.PutObject, awacs.s3.AbortMultipartUpload],
            Resource=[artifact_bucket_arn(f"/{prefix_sub}*")],
        )
    ]


def read_write_prefix(sid: str, prefix_sub: str) -> list[Statement]:
    return read_prefix(sid, prefix_sub) + write_prefix(sid, prefix_sub)


# The only actions whose requests carry the s3:prefix key: under an s3:prefix condition any other
# action (GetBucketLocation, say) is never allowed, since its requests have no prefix to match.
PREFIX_CONDITIONED_ACTIONS = frozenset({"s3:ListBucket", "s3:ListBucketVersions"})


def list_prefix(sid: str, prefix_sub: str) -> Statement:
    return Statement(
        Sid=f"{sid}List",
        Effect=Allow,
        Action=[awacs.s3.ListBucket],
        Resource=[artifact_bucket_arn()],
        Condition=Condition(StringLike({"s3:prefix": [sub(f"{prefix_sub}*"), ""]})),
    )


def bucket_info(sid: str) -> Statement:
    """What CodePipeline and CodeBuild check about the artifact bucket before using it."""
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=[awacs.s3.GetBucketVersioning, awacs.s3.GetBucketLocation, awacs.s3.GetBucketAcl],
        Resource=[artifact_bucket_arn()],
    )


def deny_insecure_transport(*resources, action=awacs.s3.Action("*")) -> Statement:
    """Resource-policy statement refusing `action` (all of S3 by default) on `resources` unless made over TLS."""
    return Statement(
        Sid="DenyInsecureTransport",
        Effect=Deny,
        Principal=Principal("*"),
        Action=[action],
        Resource=list(resources),
        Condition=Condition(Bool({"aws:SecureTransport": "false"})),
    )


# -- SageMaker -----------------------------------------------------------------------------------
def network_isolated() -> Condition:
    """What every grant to create a SageMaker job or model carries: the request asks for network isolation, so the
    container (job code a push wrote, an image a push named) can send nothing it reads out of AWS. CreateProcessingJob,
    CreateTrainingJob, CreateHyperParameterTuningJob and CreateModel take this key (Service Authorization Reference,
    "Actions, resources, and condition keys for Amazon SageMaker"; tests/iam/test_condition_keys_fit_their_actions.py;
    tests/iam/test_jobs_and_models_are_network_isolated.py)."""
    return Condition(Bool({"sagemaker:NetworkIsolation": "true"}))


def all_of(*conditions: Condition) -> Condition:
    """One condition block holding each of `conditions` (IAM ANDs its operators)."""
    return Condition([element for condition in conditions for element in condition.conditions])


# -- logs ----------------------------------------------------------------------------------------
def write_logs(sid: str, log_group_sub: str) -> Statement:
    """Create streams in, and write to, one log group (or a `…*` family of them). CloudWatch Logs authorises
    CreateLogGroup against the group's ARN with a trailing ":*", which also covers its streams (CloudWatch Logs API
    reference, LogGroup.arn; tests/iam/test_documented_arn_forms.py)."""
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=[awacs.logs.CreateLogGroup, awacs.logs.CreateLogStream, awacs.logs.PutLogEvents],
        Resource=[
            arn("logs", f"log-group:{log_group_sub}"),
            arn("logs", f"log-group:{log_group_sub}:*"),
        ],
    )


# -- KMS -----------------------------------------------------------------------------------------
KMS_USE_ACTIONS = [
    awacs.kms.Decrypt,
    awacs.kms.Encrypt,
    awacs.kms.GenerateDataKey,
    awacs.kms.ReEncryptFrom,
    awacs.kms.ReEncryptTo,
    awacs.kms.DescribeKey,
]


def _key_by_alias(sid: str, alias_sub: str, key_actions: list) -> Statement:
    """`key_actions` on the KMS key behind an alias: the key lives in another stack, so scope by its alias."""
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=key_actions,
        Resource=[arn("kms", "key/*")],
        Condition=Condition(ForAnyValueStringEquals({"kms:ResourceAliases": [Sub(alias_sub)]})),
    )


def use_key_by_alias(sid: str, alias_sub: str) -> Statement:
    """Use the KMS key behind an alias (encrypt, decrypt, make data keys, describe)."""
    return _key_by_alias(sid, alias_sub, KMS_USE_ACTIONS)


def decrypt_by_alias(sid: str, alias_sub: str) -> Statement:
    """Only decrypt (read SSE-KMS objects) with the key behind an alias."""
    return _key_by_alias(sid, alias_sub, [awacs.kms.Decrypt])


def encrypt_by_alias(sid: str, alias_sub: str) -> Statement:
    """Only make data keys (write SSE-KMS objects) with the key behind an alias."""
    return _key_by_alias(sid, alias_sub, [awacs.kms.GenerateDataKey])


# Key administration for the account root: IAM policies (the deploy roles') decide who administers.
# Never encrypt/decrypt here, and never "kms:*": usage is granted separately, to named principals.
KEY_ADMIN_ACTIONS = [
    getattr(awacs.kms, name)
    for name in (
        "CancelKeyDeletion", "CreateAlias", "DeleteAlias", "DescribeKey", "DisableKey", "DisableKeyRotation",
        "EnableKey", "EnableKeyRotation", "GetKeyPolicy", "GetKeyRotationStatus", "ListGrants", "ListKeyPolicies",
        "ListResourceTags", "PutKeyPolicy", "RetireGrant", "RevokeGrant", "RotateKeyOnDemand", "ScheduleKeyDeletion",
        "TagResource", "UntagResource", "UpdateAlias", "UpdateKeyDescription",
    )
]


def account_administers_key(sid: str) -> Statement:
    """Key-policy statement: the account (through IAM) administers the key, and only that."""
    return Statement(
        Sid=sid,
        Effect=Allow,
        Principal=Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]),
        Action=KEY_ADMIN_ACTIONS,
        Resource=["*"],
    )


# What a stack's deploy role may do to the stack's own key: keep it as the template describes it, never change who
# may use it (PutKeyPolicy), disable it or delete it. Those stay with the account's administrators, so a push
# cannot open a key to anyone or destroy one.
DEPLOY_ROLE_KEY_ACTIONS = [
    getattr(awacs.kms, name)
    for name in (
        "CreateAlias", "DeleteAlias", "DescribeKey", "EnableKey", "EnableKeyRotation", "GetKeyPolicy",
        "GetKeyRotationStatus", "ListKeyPolicies", "ListResourceTags", "TagResource", "UntagResource", "UpdateAlias",
        "UpdateKeyDescription",
    )
]


def deploy_role_administers_key(sid: str, deploy_role_arn) -> Statement:
    """Key-policy statement: the stack's deploy role keeps this key as the template says, by name.

    The deploy roles hold no key rights in IAM, so this is the only key they can touch, and not its policy.
    """
    return Statement(Sid=sid, Effect=Allow, Principal=Principal("AWS", [deploy_role_arn]), Action=DEPLOY_ROLE_KEY_ACTIONS,
                     Resource=["*"])


def key_use_through_iam(sid: str, role_arns: list) -> Statement:
    """Key-policy statement: the account may let these roles (by ARN) use the key through IAM.

    For roles created in the same stack as the key: a policy condition on the ARN needs no principal
    that exists yet, and each role's own policy must still grant the key.
    """
    return Statement(
        Sid=sid,
        Effect=Allow,
        Principal=Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]),
        Action=KMS_USE_ACTIONS,
        Resource=["*"],
        Condition=Condition(ArnEquals({"aws:PrincipalArn": role_arns})),
    )


# -- SNS -----------------------------------------------------------------------------------------
def publish_to_topic(sid: str, topic_arn) -> Statement:
    return Statement(Sid=sid, Effect=Allow, Action=[awacs.sns.Publish], Resource=[topic_arn])


# -- IAM -----------------------------------------------------------------------------------------
def pass_role(sid: str, role_names_sub: list[str], service: str) -> Statement:
    """iam:PassRole for named roles, only to the service that will assume them."""
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=[awacs.iam.PassRole],
        Resource=[arn("iam", f"role${{RolePath}}{name}", region=False) for name in role_names_sub],
        Condition=Condition(StringEquals({"iam:PassedToService": service})),
    )


# -- CloudWatch ----------------------------------------------------------------------------------
def put_metrics(sid: str, namespace_sub: str) -> Statement:
    # PutMetricData has no resource-level permission; the namespace condition scopes it.
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=[awacs.cloudwatch.PutMetricData],
        Resource=["*"],
        Condition=Condition(StringLike({"cloudwatch:namespace": sub(namespace_sub)})),
    )


# -- ECR -----------------------------------------------------------------------------------------
IMAGE_REGISTRY_VARIABLE = "ImageRegistry"  # the Sub variable the registry account is looked up into


def pull_images(sid: str, repositories: list[str]) -> list[Statement]:
    """Pull the named repositories of AWS's registry of SageMaker's built-in images, and no other account's
    repositories of those names: the registry account differs per region, so the template looks it up in the
    stack's region (infra/cfn/mappings.py; the stack adds the mapping with add_image_registries)."""
    return [
        Statement(
            Sid=f"{sid}NoResourceLevelPermission",
            Effect=Allow,
            Action=[awacs.ecr.GetAuthorizationToken],
            Resource=["*"],  # ecr:GetAuthorizationToken has no resource-level permission
        ),
        Statement(
            Sid=sid,
            Effect=Allow,
            Action=[awacs.ecr.BatchGetImage, awacs.ecr.GetDownloadUrlForLayer, awacs.ecr.BatchCheckLayerAvailability],
            Resource=[Sub(f"arn:${{AWS::Partition}}:ecr:${{AWS::Region}}:${{{IMAGE_REGISTRY_VARIABLE}}}:repository/{repo}",
                          **{IMAGE_REGISTRY_VARIABLE: image_registry_account()}) for repo in repositories],
        ),
    ]


# The key CreateProcessingJob, CreateTrainingJob and CreateEndpointConfig take for the instance types a request asks
# for ("Actions, resources, and condition keys for Amazon SageMaker AI"); a list, so every value must be allowed.
INSTANCE_TYPES_KEY = "sagemaker:InstanceTypes"


def only_instance_types(value_name: str) -> Condition:
    """Only the instance types config value `value_name` (infra/cfn/parameters.py) lists."""
    return Condition(ForAllValuesStringEquals({INSTANCE_TYPES_KEY: Ref(value_name)}))
