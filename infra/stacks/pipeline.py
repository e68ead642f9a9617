"""Pipeline stack: the self-updating delivery pipeline, its artifact bucket and key, and the model group.

Stages: Source -> Synth -> DeployIam -> UpdatePipeline -> DeployNotifications -> DeployKpi -> UpsertSageMakerPipeline.
Synth and Upsert are the only CodeBuild builds; every deployment is a CloudFormation action, each run
with the deploy role the IAM stack made for that stack. One template serves every environment: the
source action is chosen with Fn::If over the SourceType conditions (infra/cfn/source.py).
"""
from __future__ import annotations

import awacs.kms
import awacs.s3
import yaml
import awacs.sns
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
from troposphere import AWS_NO_VALUE, Equals, GetAtt, If, Join, Not, Ref, Sub, Template
from troposphere import codebuild, codepipeline, events, kms, logs, s3, sns

from infra.parts import analysts, delivery_failures, deployment_outcomes, email_subscriptions, pipeline_actions
from infra.cfn import parameters, scanner_skips
from infra.cfn.exports import export, import_value
from infra.config.names import ARTIFACT_BUCKET_SUB, ATHENA_RESULTS_PREFIX, BUILD_CACHE_PREFIX, ENDPOINT_STACKS, LAMBDA_PREFIX
from infra.iam.policies import (
    KMS_USE_ACTIONS,
    MODEL_ARCHIVES,
    VERSION,
    account_administers_key,
    artifact_bucket_arn,
    deny_insecure_transport,
    deploy_role_administers_key,
    only_if,
    with_statements,
)
from infra.parts.kms_keys import customer_managed_key
from infra.cfn.conditions import HAS_DEPLOYMENT, add_deployment_condition
from infra.cfn.source import SOURCE_CONDITIONS, add_source_conditions
from infra.cfn.templates_common import RETAIN_DELETION, RETAIN_REPLACEMENT, new_template
from troposphere import sagemaker

SOURCE_ARTIFACT = "SourceOutput"
SOURCE_VARIABLES = "SourceVariables"  # the source action's output variables (commit id, version id…)
RELEASE_APPROVAL_CONDITION = "RequiresReleaseApproval"
ALARMS_ARN = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${ResourcePrefix}-*"
SYNTH_ARTIFACT = "SynthOutput"

# The stacks the pipeline deploys, in order, with what each CloudFormation action needs.
# stack key -> (stage name, stack-name parameter, deploy-role export of the deploy-roles stack, capabilities)
DEPLOYMENTS = {
    "pipeline": ("UpdatePipeline", "PipelineStackName", "PipelineDeployRoleArn", []),
    "notifications": ("DeployNotifications", "NotificationsStackName", "NotificationsDeployRoleArn", []),
    "kpi": ("DeployKpi", "KpiStackName", "KpiDeployRoleArn", []),
    "deployment": ("DeployDeployment", "DeploymentStackName", "DeploymentDeployRoleArn", []),  # from the serving-iam stack
}
# Where each deploy role is exported from, by the exporting stack's name parameter (default: the deploy-roles stack).
DEPLOY_ROLE_STACKS = {"deployment": "ServingIamStackName"}
# Stacks only some envs have: their stage exists where the condition holds.
CONDITIONAL_DEPLOYMENTS = {"deployment": HAS_DEPLOYMENT}

# Capabilities per stack, for `make deploy` / `make diff` too (deploy-roles: administrator-only).
# The pipeline deploys no IAM resource at all: its stacks need no capability. The two administrator-only
# stacks (deploy-roles, boundaries, iam) are deployed by `make deploy` with CAPABILITY_NAMED_IAM.
# The endpoint stacks (deployed by the model-deployment pipeline) hold no IAM resource either.
CAPABILITIES = {"deploy-roles": ["CAPABILITY_NAMED_IAM"], "boundaries": ["CAPABILITY_NAMED_IAM"], "iam": ["CAPABILITY_NAMED_IAM"],
                "serving-iam": ["CAPABILITY_NAMED_IAM"], "messaging": [],
                **{stack: caps for stack, (_, _, _, caps) in DEPLOYMENTS.items()},
                **{stack: [] for stack in ENDPOINT_STACKS}}

# Roles that use the artifact key, by their name parameter. All exist before this stack (IAM deploys first).
# CloudWatch Logs groups this env's resources write to, encrypted with the artifact key.
ENCRYPTED_LOG_GROUPS = (
    "/aws/codebuild/${ResourcePrefix}-*",
    "/aws/lambda/${ResourcePrefix}-*",
    "/aws-glue/crawlers-role/*",
)


CODEBUILD_IMAGE = "aws/codebuild/standard:7.0"
PYTHON_RUNTIME = "3.11"
NONCURRENT_VERSION_DAYS = 30
KEPT_NONCURRENT_VERSIONS = 1  # never expired: the trace that a key was written more than once
BUILD_CACHE_NONCURRENT_DAYS = 1  # every upsert build rewrites its cache: keep no history of it
BUILD_CACHE_DAYS = 30  # and whatever CodeBuild stopped using goes too (at worst, one slower build a month)
PIPELINE_ARTIFACT_DAYS = 90
ATHENA_RESULTS_DAYS = 30
SYNTH_OUTPUT_DIR = "build/lambda"


# config `sagemaker.data_uploaders`: when the list is empty, no policy names anyone for uploads.
HAS_DATA_UPLOADERS = "HasDataUploaders"
INPUT_OBJECTS = "/${SageMakerInputPrefix}*"


# -- artifact bucket and key --------------------------------------------------------------------
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
            # (the bucket is versioned: a deleted object stays recoverable for 30 days).
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


def artifact_key_policy() -> PolicyDocument:
    """The key policy; the uploaders' and the analysts' statements exist only when config names them."""
    return with_statements(PolicyDocument(
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
            # SageMaker encrypts the endpoints' volumes through a grant it makes with the credentials of the
            # CreateEndpoint/UpdateEndpoint caller: staging's deploy role, production's rollout (the resolve
            # function); the config makers too (CreateEndpointConfig). Their policies grant it by alias too.
            Statement(
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
            ),
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
        ],
    ), [
        only_if(HAS_DATA_UPLOADERS, uploaders_encrypt_input_statement()),
        *analysts.key_statements(),  # only when kpi.analyst_principals is not empty
    ])


# The artifact key's alias. The roles of the builds and the pipeline use the key by this alias (kms:ResourceAliases),
# so what acts with them is created after it: an alias takes up to five minutes to count in authorisation ("Use
# aliases to control access to KMS keys", KMS developer guide), and the pipeline starts a run when it is created.
ARTIFACT_KEY_ALIAS = "ArtifactKeyAliasResource"


def add_artifact_key(t: Template) -> kms.Key:
    return customer_managed_key(
        t, "ArtifactKey", ARTIFACT_KEY_ALIAS, "ArtifactKeyAlias",
        "Artifacts of the ${ProjectName} ${Environment} delivery and SageMaker pipelines", artifact_key_policy(),
    )


def _expire(rule_id: str, prefix, days: int | None) -> s3.LifecycleRule:
    """A folder whose objects expire after `days` (None: never) and whose noncurrent versions, expired ones
    included, are deleted after NONCURRENT_VERSION_DAYS; without the latter an expired object would stay, as the
    bucket-wide rule keeps the newest noncurrent version of every key."""
    return s3.LifecycleRule(
        Id=rule_id, Status="Enabled", Prefix=prefix,
        # Without an expiration of its own, the rule must clear the delete markers left once a deleted object's
        # versions are gone (an expiration does that by itself).
        **({"ExpirationInDays": days} if days else {"ExpiredObjectDeleteMarker": True}),
        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=NONCURRENT_VERSION_DAYS),
    )


def add_artifact_bucket(t: Template, key: kms.Key) -> s3.Bucket:
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
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    # Overwritten or deleted objects linger as noncurrent versions: drop them after a while, but
                    # keep the newest one of each key, so a key written twice always shows two versions (the
                    # deployment refuses a model archive written more than once: lambda_src/deploy_resolve/archive.py).
                    # Where data is meant to go (the folders below), a rule of its own deletes every noncurrent
                    # version: S3 honours the shorter of two overlapping expirations.
                    s3.LifecycleRule(
                        Id="ExpireNoncurrentVersions",
                        Status="Enabled",
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                            NoncurrentDays=NONCURRENT_VERSION_DAYS, NewerNoncurrentVersions=KEPT_NONCURRENT_VERSIONS),
                        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
                    ),
                    s3.LifecycleRule(
                        Id="ExpireReplacedBuildCaches",
                        Status="Enabled",
                        Prefix=BUILD_CACHE_PREFIX,
                        ExpirationInDays=BUILD_CACHE_DAYS,
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=BUILD_CACHE_NONCURRENT_DAYS),
                    ),
                    # Query results are read once, right after the query.
                    _expire("ExpireQueryResults", ATHENA_RESULTS_PREFIX, ATHENA_RESULTS_DAYS),
                    # Run artifacts are only read during their run. Lambda zips and SageMaker data stay.
                    _expire("ExpirePipelineRunArtifacts", Ref("PipelineArtifactsPrefix"), PIPELINE_ARTIFACT_DAYS),
                    # The model-deployment pipeline's run artifacts (its own folder, where the env serves models).
                    _expire("ExpireDeploymentRunArtifacts", Ref("DeploymentArtifactsPrefix"), PIPELINE_ARTIFACT_DAYS),
                    # Input data a data uploader replaced or deleted is gone 30 days later, as it would be unversioned.
                    _expire("ExpireReplacedInputData", Ref("SageMakerInputPrefix"), None),
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
            PolicyDocument=with_statements(
                PolicyDocument(Version=VERSION, Statement=[deny, *refuse_other_encryption]),
                [
                    *[only_if(HAS_DATA_UPLOADERS, statement) for statement in uploaders_write_input_statements()],
                    *analysts.bucket_statements(ArtifactBucket.title),  # only when kpi.analyst_principals is not empty
                ],
            ),
        )
    )
    return ArtifactBucket


def add_operations_topic(t: Template, key: kms.Key, project) -> sns.Topic:
    """Alarms of every stack of the env and releases waiting for approval; encrypted with the artifact key.

    Apart from the model-approvals topic and its key, so an alarm about that path does not depend on it."""
    OperationsTopic = t.add_resource(sns.Topic(
        "OperationsTopic",
        TopicName=Ref("OperationsTopicName"),
        DisplayName="MLOps operations",
        KmsMasterKeyId=Ref(key),
    ))
    pipeline_role = Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role${RolePath}${CodePipelineRoleName}")
    deployment_role = Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role${RolePath}${DeploymentPipelineRoleName}")
    t.add_resource(sns.TopicPolicy(
        "OperationsTopicPolicy",
        Topics=[Ref(OperationsTopic)],
        PolicyDocument=PolicyDocument(
            Version=VERSION,
            Statement=[
                Statement(Sid="AlarmsPublish", Effect=Allow, Principal=Principal("Service", ["cloudwatch.amazonaws.com"]),
                          Action=[awacs.sns.Publish], Resource=[Ref(OperationsTopic)], Condition=alarm_source_conditions()),
                # EventBridge: failed delivery runs, and the deployment outcomes (in envs with a deployment).
                delivery_failures.topic_statement(OperationsTopic, deployment_outcomes.RULE_NAMES),
                # The pipelines (approval requests) publish through their identity policies; nobody else may.
                Statement(
                    Sid="OnlyThePipelineAndAlarmsPublish",
                    Effect=Deny,
                    Principal=Principal("*"),
                    Action=[awacs.sns.Publish],
                    Resource=[Ref(OperationsTopic)],
                    Condition=Condition([StringNotEquals({"aws:PrincipalArn": [pipeline_role, deployment_role]}),
                                         Null({"aws:PrincipalServiceName": "true"})]),
                ),
                deny_insecure_transport(Ref(OperationsTopic), action=awacs.sns.Publish),
            ],
        ),
    ))
    email_subscriptions.add(t, OperationsTopic, {env.name: env.operations_emails for env in project.environments.values()})
    export(t, "OperationsTopicArn", Ref(OperationsTopic), "ARN of the topic for alarms and releases waiting for approval")
    return OperationsTopic


def alarm_source_conditions() -> Condition:
    """Confused-deputy guard for CloudWatch: this account's alarms of this environment."""
    return Condition([StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")}), ArnLike({"aws:SourceArn": Sub(ALARMS_ARN)})])


def add_model_package_group(t: Template) -> sagemaker.ModelPackageGroup:
    return t.add_resource(
        sagemaker.ModelPackageGroup(
            "ModelPackageGroup",
            ModelPackageGroupName=Ref("ModelPackageGroupName"),
            ModelPackageGroupDescription=Sub("Models of the ${SageMakerPipelineName} pipeline"),
            DeletionPolicy=RETAIN_DELETION,
            UpdateReplacePolicy=RETAIN_REPLACEMENT,
        )
    )


# -- CodeBuild ----------------------------------------------------------------------------------
def synth_artifact_files() -> list[str]:
    """Exactly the files later stages read: every deployed template and this env's TemplateConfiguration."""
    stacks = [*DEPLOYMENTS, *ENDPOINT_STACKS]  # the endpoint stacks: for the model-deployment pipeline (the release)
    files = [f"templates/{stack}.yaml" for stack in stacks]
    files += [f"templates/${{Environment}}/{stack}.json" for stack in stacks]
    return files


def synth_buildspec() -> str:
    """The Synth buildspec, as YAML text for Fn::Sub (${Environment} picks this env's parameter files).

    Generated here rather than kept in the repo so a test can read the artifact list beside the
    actions that consume it. Shell variables are written without braces: Sub would take ${X} as its own.
    """
    spec = {
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": {
            "install": {
                "runtime-versions": {"python": PYTHON_RUNTIME},
                # The generator's pins only: no Node, no SageMaker SDK.
                "commands": ["python -m pip install --no-cache-dir --disable-pip-version-check --no-input -r requirements.txt"],
            },
            "build": {
                "commands": [
                    # templates/ is committed and reviewed: fail if it is not what the code renders.
                    "python generate.py --check",
                    f"python -m infra.lambda_package {SYNTH_OUTPUT_DIR}",
                    f"mkdir -p {SYNTH_OUTPUT_DIR}/{LAMBDA_PREFIX}",
                    # Keys are content hashes: an existing key already holds these bytes, so skip it.
                    f"aws s3 sync {SYNTH_OUTPUT_DIR}/{LAMBDA_PREFIX} s3://$ARTIFACT_BUCKET/{LAMBDA_PREFIX} --size-only --no-progress",
                ]
            },
        },
        "artifacts": {"files": synth_artifact_files(), "discard-paths": "no"},
    }
    return yaml.safe_dump(spec, sort_keys=True, default_flow_style=False)


def _log_group(t: Template, logical_id: str, project_param: str) -> logs.LogGroup:
    return t.add_resource(
        logs.LogGroup(
            logical_id,
            LogGroupName=Sub(f"/aws/codebuild/${{{project_param}}}"),
            RetentionInDays=Ref("LogRetentionDays"),
            KmsKeyId=GetAtt("ArtifactKey", "Arn"),
        )
    )


def _build_project(t, logical_id, name_param, role_export, key, log_group, buildspec, env_vars, description, timeout,
                   cache=None):
    return t.add_resource(
        codebuild.Project(
            logical_id,
            DependsOn=[ARTIFACT_KEY_ALIAS],
            **({"Cache": cache} if cache else {}),
            Name=Ref(name_param),
            Description=description,
            ServiceRole=import_value("IamStackName", role_export),
            EncryptionKey=GetAtt(key, "Arn"),
            Source=codebuild.Source(Type="CODEPIPELINE", BuildSpec=buildspec),
            Artifacts=codebuild.Artifacts(Type="CODEPIPELINE"),
            Environment=codebuild.Environment(
                Type="LINUX_CONTAINER",
                ComputeType="BUILD_GENERAL1_SMALL",
                Image=CODEBUILD_IMAGE,
                ImagePullCredentialsType="CODEBUILD",
                EnvironmentVariables=[codebuild.EnvironmentVariable(Name=k, Type="PLAINTEXT", Value=v) for k, v in env_vars],
            ),
            LogsConfig=codebuild.LogsConfig(
                CloudWatchLogs=codebuild.CloudWatchLogs(Status="ENABLED", GroupName=Ref(log_group))
            ),
            TimeoutInMinutes=timeout,
            QueuedTimeoutInMinutes=60,
        )
    )


def upsert_cache() -> codebuild.ProjectCache:
    """The pip cache buildspec.yaml names (`cache: paths`), kept in the artifact bucket between builds.

    An S3 cache, because a LOCAL cache lives only while CodeBuild happens to reuse the same host:
    without it every build downloads the SageMaker SDK's wheels again. Encrypted with the project's key.
    """
    return codebuild.ProjectCache(Type="S3", Location=Sub(f"${{ArtifactBucket}}/{BUILD_CACHE_PREFIX}${{UpsertProjectName}}"))


def upsert_environment(bucket: s3.Bucket, key: kms.Key) -> list[tuple[str, object]]:
    """Exactly what the repo's buildspec.yaml reads."""
    return [
        ("PROJECT_NAME", Ref("ProjectName")),
        ("ENV_NAME", Ref("Environment")),
        ("SAGEMAKER_PIPELINE_NAME", Ref("SageMakerPipelineName")),
        ("SAGEMAKER_ROLE_ARN", import_value("IamStackName", "SageMakerExecutionRoleArn")),
        ("MODEL_PACKAGE_GROUP_NAME", Ref("ModelPackageGroupName")),
        ("ARTIFACT_BUCKET", Ref(bucket)),
        # The key ARN the SageMaker jobs name for their outputs: the form the bucket policy compares.
        ("ARTIFACT_KEY_ARN", GetAtt(key, "Arn")),
    ]


# -- pipeline -----------------------------------------------------------------------------------
def source_actions() -> dict[str, codepipeline.Actions]:
    """One Source action per source type; the template picks one with Fn::If."""
    return {
        "codeconnections": pipeline_actions.action(
            "Source", "Source", "CodeStarSourceConnection",
            {"ConnectionArn": Ref("SourceConnectionArn"), "FullRepositoryId": Ref("SourceRepository"),
             "BranchName": Ref("SourceBranch"), "OutputArtifactFormat": "CODE_ZIP", "DetectChanges": "true"},
            outputs=[SOURCE_ARTIFACT], namespace=SOURCE_VARIABLES,
        ),
        "codecommit": pipeline_actions.action(
            "Source", "Source", "CodeCommit",
            {"RepositoryName": Ref("SourceRepository"), "BranchName": Ref("SourceBranch"),
             "OutputArtifactFormat": "CODE_ZIP", "PollForSourceChanges": "false"},
            outputs=[SOURCE_ARTIFACT], namespace=SOURCE_VARIABLES,
        ),
        "s3": pipeline_actions.action(
            "Source", "Source", "S3",
            {"S3Bucket": Ref("SourceBucket"), "S3ObjectKey": Ref("SourceObjectKey"), "PollForSourceChanges": "false"},
            outputs=[SOURCE_ARTIFACT], namespace=SOURCE_VARIABLES,
        ),
    }


def selected_source_action():
    actions = source_actions()
    return If(
        SOURCE_CONDITIONS["codeconnections"],
        actions["codeconnections"],
        If(SOURCE_CONDITIONS["codecommit"], actions["codecommit"], actions["s3"]),
    )


# The self-update names the stack this template is deployed as, whatever a person called it: naming
# it by parameter would make a pipeline deployed under another name create a second pipeline stack.
SELF = "pipeline"


def deploy_action(stack: str) -> codepipeline.Actions:
    _, stack_param, role_export, capabilities = DEPLOYMENTS[stack]
    configuration = {
        "ActionMode": "CREATE_UPDATE",
        "StackName": Ref("AWS::StackName") if stack == SELF else Ref(stack_param),
        "TemplatePath": f"{SYNTH_ARTIFACT}::templates/{stack}.yaml",
        "TemplateConfiguration": Sub(f"{SYNTH_ARTIFACT}::templates/${{Environment}}/{stack}.json"),
        "RoleArn": import_value(DEPLOY_ROLE_STACKS.get(stack, "DeployRolesStackName"), role_export),
    }
    if capabilities:
        configuration["Capabilities"] = ",".join(capabilities)
    return pipeline_actions.action(f"Deploy{stack.capitalize()}Stack", "Deploy", "CloudFormation", configuration, inputs=[SYNTH_ARTIFACT])


# What the approver reads: which revision, of what, to which env. The source action's output variables
# differ per source type (CodeConnections and CodeCommit name a commit, S3 a version of the zip).
RELEASE_NOTE = ("Release {revision} to the ${{Environment}} environment of ${{ProjectName}}: approving deploys the "
                "pipeline, notifications and KPI stacks and upserts the SageMaker pipeline. Rejecting stops this run.")
REVISIONS = {
    "codeconnections": f"commit #{{{SOURCE_VARIABLES}.CommitId}} of #{{{SOURCE_VARIABLES}.FullRepositoryName}} "
                       f"(#{{{SOURCE_VARIABLES}.BranchName}})",
    "codecommit": f"commit #{{{SOURCE_VARIABLES}.CommitId}} of #{{{SOURCE_VARIABLES}.RepositoryName}} "
                  f"(#{{{SOURCE_VARIABLES}.BranchName}})",
    "s3": f"version #{{{SOURCE_VARIABLES}.VersionId}} of the source zip",
}


def release_approval_stage(topic: sns.Topic):
    """A person approves the release before any of its code runs or any stack changes (operations.release_approval).

    Right after Source: Synth runs the push's own code with a role that writes run artifacts, so a later,
    unapproved push could otherwise rewrite what a waiting, approved run deploys. And before the pipeline
    updates itself, so a push that removes this stage still waits for it."""
    notes = {kind: Sub(RELEASE_NOTE.format(revision=revision)) for kind, revision in REVISIONS.items()}
    note = If(SOURCE_CONDITIONS["codeconnections"], notes["codeconnections"],
              If(SOURCE_CONDITIONS["codecommit"], notes["codecommit"], notes["s3"]))
    action = pipeline_actions.action("ApproveRelease", "Approval", "Manual", {"NotificationArn": Ref(topic), "CustomData": note})
    return If(RELEASE_APPROVAL_CONDITION, codepipeline.Stages(Name="ApproveRelease", Actions=[action]), Ref(AWS_NO_VALUE))


def stages(synth: codebuild.Project, upsert: codebuild.Project, operations_topic: sns.Topic, bucket: s3.Bucket) -> list:
    out = [
        codepipeline.Stages(Name="Source", Actions=[selected_source_action()]),
        release_approval_stage(operations_topic),
        codepipeline.Stages(
            Name="Synth",
            Actions=[pipeline_actions.action("Synth", "Build", "CodeBuild", {"ProjectName": Ref(synth)}, inputs=[SOURCE_ARTIFACT], outputs=[SYNTH_ARTIFACT])],
        ),
    ]
    for stack, (stage_name, _, _, _) in DEPLOYMENTS.items():
        if stack == "deployment":
            continue  # after the upsert: it publishes the release the deployment pipeline reads
        out.append(codepipeline.Stages(Name=stage_name, Actions=[deploy_action(stack)]))
    out.append(
        codepipeline.Stages(
            Name="UpsertSageMakerPipeline",
            Actions=[pipeline_actions.action("Upsert", "Build", "CodeBuild", {"ProjectName": Ref(upsert)}, inputs=[SOURCE_ARTIFACT])],
        )
    )
    out.append(deployment_stage(bucket))
    return out


def deployment_stage(bucket: s3.Bucket):
    """In envs that serve models: publish this run's templates as the release the model-deployment pipeline deploys
    endpoints from (so it never runs ahead of what this run released), then deploy the deployment stack."""
    publish = pipeline_actions.action(
        "PublishRelease", "Deploy", "S3",
        {"BucketName": Ref(bucket), "Extract": "false", "ObjectKey": Ref("ReleaseObjectKey"),
         "KMSEncryptionKeyARN": GetAtt("ArtifactKey", "Arn")},
        inputs=[SYNTH_ARTIFACT])
    # The release first: CodePipeline starts a pipeline when it creates it, and that first run reads the release.
    deploy = deploy_action("deployment")
    deploy.RunOrder = 2
    stage = codepipeline.Stages(Name=DEPLOYMENTS["deployment"][0], Actions=[publish, deploy])
    return If(CONDITIONAL_DEPLOYMENTS["deployment"], stage, Ref(AWS_NO_VALUE))


def pipeline_arn() -> Sub:
    return Sub("arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${CodePipelineName}")


def add_source_rules(t: Template, operations_topic: sns.Topic) -> None:
    """CodeCommit and S3 sources start the pipeline through EventBridge, not by polling; a start that fails
    (the source events role refused, say) would leave a push undeployed, so it is alarmed."""
    for logical_id, source in (("CodeCommitSourceRuleFailuresAlarm", "codecommit"), ("S3SourceRuleFailuresAlarm", "s3")):
        t.add_resource(delivery_failures.rule_failures_alarm(
            logical_id, f"${{ResourcePrefix}}-source-{source}", Ref(operations_topic),
            "EventBridge could not start the delivery pipeline for a push: that change is not deployed",
            Condition=SOURCE_CONDITIONS[source],
        ))
    target = events.Target(Id="DeliveryPipeline", Arn=pipeline_arn(), RoleArn=import_value("IamStackName", "SourceEventsRoleArn"))
    t.add_resource(
        events.Rule(
            "CodeCommitSourceRule",
            Condition=SOURCE_CONDITIONS["codecommit"],
            Name=Sub("${ResourcePrefix}-source-codecommit"),
            Description="Start the delivery pipeline when its CodeCommit branch moves",
            EventPattern={
                "detail": {
                    "event": ["referenceCreated", "referenceUpdated"],
                    "referenceName": [Ref("SourceBranch")],
                    "referenceType": ["branch"],
                },
                "detail-type": ["CodeCommit Repository State Change"],
                "resources": [Sub("arn:${AWS::Partition}:codecommit:${AWS::Region}:${AWS::AccountId}:${SourceRepository}")],
                "source": ["aws.codecommit"],
            },
            State="ENABLED",
            Targets=[target],
        )
    )
    t.add_resource(
        events.Rule(
            "S3SourceRule",
            Condition=SOURCE_CONDITIONS["s3"],
            Name=Sub("${ResourcePrefix}-source-s3"),
            Description="Start the delivery pipeline when the source zip is uploaded",
            EventPattern={
                "detail": {"bucket": {"name": [Ref("SourceBucket")]}, "object": {"key": [Ref("SourceObjectKey")]}},
                "detail-type": ["Object Created"],
                "source": ["aws.s3"],
            },
            State="ENABLED",
            Targets=[target],
        )
    )


def build(project) -> Template:
    t = new_template("Self-updating delivery pipeline of the SageMaker MLOps project, its artifact bucket and model group")
    add_source_conditions(t)
    analysts.add_condition(t)
    t.add_condition(HAS_DATA_UPLOADERS, Not(Equals(Join("", Ref("DataUploaderArns")), "")))

    ArtifactKey = add_artifact_key(t)
    ArtifactBucket = add_artifact_bucket(t, ArtifactKey)
    OperationsTopic = add_operations_topic(t, ArtifactKey, project)
    t.add_condition(RELEASE_APPROVAL_CONDITION, Equals(Ref("ReleaseApproval"), "true"))
    add_deployment_condition(t)
    add_model_package_group(t)

    SynthLogGroup = _log_group(t, "SynthLogGroup", "SynthProjectName")
    UpsertLogGroup = _log_group(t, "UpsertLogGroup", "UpsertProjectName")
    SynthProject = _build_project(
        t, "SynthProject", "SynthProjectName", "SynthBuildRoleArn", ArtifactKey, SynthLogGroup, Sub(synth_buildspec()),
        [("ARTIFACT_BUCKET", Ref(ArtifactBucket))], "Check the rendered templates and publish the Lambda zips", 20,
    )
    UpsertProject = _build_project(
        t, "UpsertProject", "UpsertProjectName", "UpsertBuildRoleArn", ArtifactKey, UpsertLogGroup, "buildspec.yaml",
        upsert_environment(ArtifactBucket, ArtifactKey), "Create or update the SageMaker model-build pipeline", 60,
        cache=upsert_cache(),
    )

    t.add_resource(
        codepipeline.Pipeline(
            "DeliveryPipeline",
            DependsOn=[ARTIFACT_KEY_ALIAS],
            Name=Ref("CodePipelineName"),
            PipelineType="V2",
            # A newer run replaces an older one at the next stage boundary: every run deploys HEAD in full.
            ExecutionMode="SUPERSEDED",
            RestartExecutionOnUpdate=True,
            RoleArn=import_value("IamStackName", "CodePipelineRoleArn"),
            ArtifactStore=codepipeline.ArtifactStore(
                Type="S3",
                Location=Ref(ArtifactBucket),
                EncryptionKey=codepipeline.EncryptionKey(Id=GetAtt(ArtifactKey, "Arn"), Type="KMS"),
            ),
            Stages=stages(SynthProject, UpsertProject, OperationsTopic, ArtifactBucket),
        )
    )
    add_source_rules(t, OperationsTopic)
    delivery_failures.add(t, OperationsTopic)

    export(t, "ArtifactBucketName", Ref(ArtifactBucket), "Name of the artifact bucket")
    export(t, "ArtifactKeyArn", GetAtt(ArtifactKey, "Arn"), "ARN of the artifact bucket's KMS key")
    scanner_skips.apply(t, "pipeline")
    parameters.declare_used(t)
    return t
