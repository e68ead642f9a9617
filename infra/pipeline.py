"""Pipeline stack: the self-updating delivery pipeline, its artifact bucket and key, and the model group.

Stages: Source -> Synth -> DeployIam -> UpdatePipeline -> DeployNotifications -> DeployKpi -> UpsertSageMakerPipeline.
Synth and Upsert are the only CodeBuild builds; every deployment is a CloudFormation action, each run
with the deploy role the IAM stack made for that stack. One template serves every environment: the
source action is chosen with Fn::If over the SourceType conditions (infra/source.py).
"""
from __future__ import annotations

import awacs.kms
import yaml
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement
from troposphere import GetAtt, If, Ref, Sub, Template
from troposphere import codebuild, codepipeline, events, kms, logs, s3

from infra import parameters, scanner_skips
from infra.exports import export, import_value
from infra.names import ARTIFACT_BUCKET_SUB, LAMBDA_PREFIX
from infra.policies import KMS_USE_ACTIONS, VERSION, account_administers_key, deny_insecure_transport
from infra.kms_keys import customer_managed_key
from infra.source import SOURCE_CONDITIONS, add_source_conditions
from infra.templates_common import RETAIN_DELETION, RETAIN_REPLACEMENT, new_template
from infra.slim import sagemaker

SOURCE_ARTIFACT = "SourceOutput"
SYNTH_ARTIFACT = "SynthOutput"

# The stacks the pipeline deploys, in order, with what each CloudFormation action needs.
# stack key -> (stage name, stack-name parameter, deploy-role export of the deploy-roles stack, capabilities)
DEPLOYMENTS = {
    "iam": ("DeployIam", "IamStackName", "IamDeployRoleArn", ["CAPABILITY_NAMED_IAM"]),
    "pipeline": ("UpdatePipeline", "PipelineStackName", "PipelineDeployRoleArn", []),
    # The notifier's named role; Fn::ForEach email subscriptions come from the AWS::LanguageExtensions transform.
    "notifications": ("DeployNotifications", "NotificationsStackName", "NotificationsDeployRoleArn",
                      ["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]),
    # The metrics function's and the crawler's named roles.
    "kpi": ("DeployKpi", "KpiStackName", "KpiDeployRoleArn", ["CAPABILITY_NAMED_IAM"]),
}

# Capabilities per stack, for `make deploy` / `make diff` too (deploy-roles: administrator-only).
CAPABILITIES = {"deploy-roles": ["CAPABILITY_NAMED_IAM"], **{stack: caps for stack, (_, _, _, caps) in DEPLOYMENTS.items()}}

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
PIPELINE_ARTIFACT_DAYS = 90
SYNTH_OUTPUT_DIR = "build/lambda"


# -- artifact bucket and key --------------------------------------------------------------------
def role_arn_pattern() -> Sub:
    return Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role${RolePath}${ResourcePrefix}-*")


def artifact_key_policy() -> PolicyDocument:
    return PolicyDocument(
        Version=VERSION,
        Statement=[
            account_administers_key("AccountAdministersKey"),
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
    )


def add_artifact_key(t: Template) -> kms.Key:
    return customer_managed_key(
        t, "ArtifactKey", "ArtifactKeyAliasResource", "ArtifactKeyAlias",
        "Artifacts of the ${ProjectName} ${Environment} delivery and SageMaker pipelines", artifact_key_policy(),
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
                    # Overwritten or deleted objects linger as noncurrent versions: drop them after a while.
                    s3.LifecycleRule(
                        Id="ExpireNoncurrentVersions",
                        Status="Enabled",
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=NONCURRENT_VERSION_DAYS),
                        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
                    ),
                    # Run artifacts are only read during their run. Lambda zips and SageMaker data stay.
                    s3.LifecycleRule(
                        Id="ExpirePipelineRunArtifacts",
                        Status="Enabled",
                        Prefix=Ref("PipelineArtifactsPrefix"),
                        ExpirationInDays=PIPELINE_ARTIFACT_DAYS,
                    ),
                ]
            ),
            DeletionPolicy=RETAIN_DELETION,
            UpdateReplacePolicy=RETAIN_REPLACEMENT,
        )
    )
    t.add_resource(
        s3.BucketPolicy(
            "ArtifactBucketPolicy",
            Bucket=Ref(ArtifactBucket),
            PolicyDocument=PolicyDocument(
                Version=VERSION,
                Statement=[deny_insecure_transport(GetAtt(ArtifactBucket, "Arn"), Sub("${ArtifactBucket.Arn}/*"))],
            ),
        )
    )
    return ArtifactBucket


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
    files = [f"templates/{stack}.yaml" for stack in DEPLOYMENTS]
    files += [f"templates/${{Environment}}/{stack}.json" for stack in DEPLOYMENTS]
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


def _build_project(t, logical_id, name_param, role_export, key, log_group, buildspec, env_vars, description, timeout):
    return t.add_resource(
        codebuild.Project(
            logical_id,
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


def upsert_environment(bucket: s3.Bucket) -> list[tuple[str, object]]:
    """Exactly what the repo's buildspec.yaml reads."""
    return [
        ("PROJECT_NAME", Ref("ProjectName")),
        ("ENV_NAME", Ref("Environment")),
        ("SAGEMAKER_PIPELINE_NAME", Ref("SageMakerPipelineName")),
        ("SAGEMAKER_ROLE_ARN", import_value("IamStackName", "SageMakerExecutionRoleArn")),
        ("MODEL_PACKAGE_GROUP_NAME", Ref("ModelPackageGroupName")),
        ("ARTIFACT_BUCKET", Ref(bucket)),
    ]


# -- pipeline -----------------------------------------------------------------------------------
def _action(name, category, provider, configuration, inputs=(), outputs=(), run_order=1, role_arn_value=None):
    kwargs = dict(
        Name=name,
        ActionTypeId=codepipeline.ActionTypeId(Category=category, Owner="AWS", Provider=provider, Version="1"),
        Configuration=dict(sorted(configuration.items())),
        RunOrder=run_order,
    )
    if inputs:
        kwargs["InputArtifacts"] = [codepipeline.InputArtifacts(Name=i) for i in inputs]
    if outputs:
        kwargs["OutputArtifacts"] = [codepipeline.OutputArtifacts(Name=o) for o in outputs]
    if role_arn_value is not None:
        kwargs["RoleArn"] = role_arn_value
    return codepipeline.Actions(**kwargs)


def source_actions() -> dict[str, codepipeline.Actions]:
    """One Source action per source type; the template picks one with Fn::If."""
    return {
        "codeconnections": _action(
            "Source", "Source", "CodeStarSourceConnection",
            {"ConnectionArn": Ref("SourceConnectionArn"), "FullRepositoryId": Ref("SourceRepository"),
             "BranchName": Ref("SourceBranch"), "OutputArtifactFormat": "CODE_ZIP", "DetectChanges": "true"},
            outputs=[SOURCE_ARTIFACT],
        ),
        "codecommit": _action(
            "Source", "Source", "CodeCommit",
            {"RepositoryName": Ref("SourceRepository"), "BranchName": Ref("SourceBranch"),
             "OutputArtifactFormat": "CODE_ZIP", "PollForSourceChanges": "false"},
            outputs=[SOURCE_ARTIFACT],
        ),
        "s3": _action(
            "Source", "Source", "S3",
            {"S3Bucket": Ref("SourceBucket"), "S3ObjectKey": Ref("SourceObjectKey"), "PollForSourceChanges": "false"},
            outputs=[SOURCE_ARTIFACT],
        ),
    }


def selected_source_action():
    actions = source_actions()
    return If(
        SOURCE_CONDITIONS["codeconnections"],
        actions["codeconnections"],
        If(SOURCE_CONDITIONS["codecommit"], actions["codecommit"], actions["s3"]),
    )


def deploy_action(stack: str) -> codepipeline.Actions:
    _, stack_param, role_export, capabilities = DEPLOYMENTS[stack]
    configuration = {
        "ActionMode": "CREATE_UPDATE",
        "StackName": Ref(stack_param),
        "TemplatePath": f"{SYNTH_ARTIFACT}::templates/{stack}.yaml",
        "TemplateConfiguration": Sub(f"{SYNTH_ARTIFACT}::templates/${{Environment}}/{stack}.json"),
        "RoleArn": import_value("DeployRolesStackName", role_export),
    }
    if capabilities:
        configuration["Capabilities"] = ",".join(capabilities)
    return _action(f"Deploy{stack.capitalize()}Stack", "Deploy", "CloudFormation", configuration, inputs=[SYNTH_ARTIFACT])


def stages(synth: codebuild.Project, upsert: codebuild.Project) -> list[codepipeline.Stages]:
    out = [
        codepipeline.Stages(Name="Source", Actions=[selected_source_action()]),
        codepipeline.Stages(
            Name="Synth",
            Actions=[_action("Synth", "Build", "CodeBuild", {"ProjectName": Ref(synth)}, inputs=[SOURCE_ARTIFACT], outputs=[SYNTH_ARTIFACT])],
        ),
    ]
    for stack, (stage_name, _, _, _) in DEPLOYMENTS.items():
        out.append(codepipeline.Stages(Name=stage_name, Actions=[deploy_action(stack)]))
    out.append(
        codepipeline.Stages(
            Name="UpsertSageMakerPipeline",
            Actions=[_action("Upsert", "Build", "CodeBuild", {"ProjectName": Ref(upsert)}, inputs=[SOURCE_ARTIFACT])],
        )
    )
    return out


def pipeline_arn() -> Sub:
    return Sub("arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${CodePipelineName}")


def add_source_rules(t: Template) -> None:
    """CodeCommit and S3 sources start the pipeline through EventBridge, not by polling."""
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


def build(project) -> Template:  # noqa: ARG001 - same signature as every stack
    t = new_template("Self-updating delivery pipeline of the SageMaker MLOps project, its artifact bucket and model group")
    add_source_conditions(t)

    ArtifactKey = add_artifact_key(t)
    ArtifactBucket = add_artifact_bucket(t, ArtifactKey)
    add_model_package_group(t)

    SynthLogGroup = _log_group(t, "SynthLogGroup", "SynthProjectName")
    UpsertLogGroup = _log_group(t, "UpsertLogGroup", "UpsertProjectName")
    SynthProject = _build_project(
        t, "SynthProject", "SynthProjectName", "SynthBuildRoleArn", ArtifactKey, SynthLogGroup, Sub(synth_buildspec()),
        [("ARTIFACT_BUCKET", Ref(ArtifactBucket))], "Check the rendered templates and publish the Lambda zips", 20,
    )
    UpsertProject = _build_project(
        t, "UpsertProject", "UpsertProjectName", "UpsertBuildRoleArn", ArtifactKey, UpsertLogGroup, "buildspec.yaml",
        upsert_environment(ArtifactBucket), "Create or update the SageMaker model-build pipeline", 60,
    )

    t.add_resource(
        codepipeline.Pipeline(
            "DeliveryPipeline",
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
            Stages=stages(SynthProject, UpsertProject),
        )
    )
    add_source_rules(t)

    export(t, "ArtifactBucketName", Ref(ArtifactBucket), "Name of the artifact bucket")
    export(t, "ArtifactKeyArn", GetAtt(ArtifactKey, "Arn"), "ARN of the artifact bucket's KMS key")
    scanner_skips.apply(t, "pipeline")
    parameters.declare_used(t)
    return t
