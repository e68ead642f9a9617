"""The delivery pipeline (CodePipeline V2) and its stages: Source, an optional release approval, Synth, one
CloudFormation action per stack it deploys (itself first), the SageMaker pipeline's upsert and, in envs that
serve models, the release the model-deployment pipeline reads and the deployment stack."""
from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, Template, codebuild, codepipeline, s3, sns

from infra.cfn.exports import import_value
from infra.config.model import Environment
from infra.config.names import ENDPOINT_STACKS
from infra.parts import pipeline_actions
from infra.parts.artifact_store import ARTIFACT_KEY_ALIAS
from infra.parts.pipeline_source import REVISIONS, SOURCE_ARTIFACT, source_action

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

# Capabilities per stack, for `make deploy` / `make diff` too (deploy-roles: administrator-only).
# The pipeline deploys no IAM resource at all: its stacks need no capability. The two administrator-only
# stacks (deploy-roles, boundaries, iam) are deployed by `make deploy` with CAPABILITY_NAMED_IAM.
# The endpoint stacks (deployed by the model-deployment pipeline) hold no IAM resource either.
CAPABILITIES = {"deploy-roles": ["CAPABILITY_NAMED_IAM"], "boundaries": ["CAPABILITY_NAMED_IAM"], "iam": ["CAPABILITY_NAMED_IAM"],
                "serving-iam": ["CAPABILITY_NAMED_IAM"], "messaging": [],
                **{stack: caps for stack, (_, _, _, caps) in DEPLOYMENTS.items()},
                **{stack: [] for stack in ENDPOINT_STACKS}}


# The self-update names the stack this template is deployed as, whatever a person called it: naming
# it by parameter would make a pipeline deployed under another name create a second pipeline stack.
SELF = "pipeline"


def deploy_action(stack: str) -> codepipeline.Actions:
    _, stack_param, role_export, capabilities = DEPLOYMENTS[stack]
    configuration = {
        "ActionMode": "CREATE_UPDATE",
        "StackName": Ref("AWS::StackName") if stack == SELF else Ref(stack_param),
        "TemplatePath": Sub(f"{SYNTH_ARTIFACT}::templates/${{Environment}}/{stack}.yaml"),
        "TemplateConfiguration": Sub(f"{SYNTH_ARTIFACT}::templates/${{Environment}}/{stack}.json"),
        "RoleArn": import_value(DEPLOY_ROLE_STACKS.get(stack, "DeployRolesStackName"), role_export),
    }
    if capabilities:
        configuration["Capabilities"] = ",".join(capabilities)
    return pipeline_actions.action(f"Deploy{stack.capitalize()}Stack", "Deploy", "CloudFormation", configuration, inputs=[SYNTH_ARTIFACT])


# What the approver reads: which revision, of what, to which env (pipeline_source.REVISIONS).
RELEASE_NOTE = ("Release {revision} to the ${{Environment}} environment of ${{ProjectName}}: approving deploys the "
                "pipeline, notifications and KPI stacks and upserts the SageMaker pipeline. Rejecting stops this run.")


def release_approval_stage(topic: sns.Topic, source_type: str) -> codepipeline.Stages:
    """A person approves the release before any of its code runs or any stack changes (operations.release_approval).

    Right after Source: Synth runs the push's own code with a role that writes run artifacts, so a later,
    unapproved push could otherwise rewrite what a waiting, approved run deploys. And before the pipeline
    updates itself, so a push that removes this stage still waits for it."""
    note = Sub(RELEASE_NOTE.format(revision=REVISIONS[source_type]))
    action = pipeline_actions.action("ApproveRelease", "Approval", "Manual", {"NotificationArn": Ref(topic), "CustomData": note})
    return codepipeline.Stages(Name="ApproveRelease", Actions=[action])


def stages(env: Environment, synth: codebuild.Project, upsert: codebuild.Project, operations_topic: sns.Topic,
           bucket: s3.Bucket) -> list:
    out = [codepipeline.Stages(Name="Source", Actions=[source_action(env.source.type)])]
    if env.release_approval:
        out.append(release_approval_stage(operations_topic, env.source.type))
    out += [
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
    if env.deployment:
        out.append(deployment_stage(bucket))
    return out


def deployment_stage(bucket: s3.Bucket) -> codepipeline.Stages:
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
    return codepipeline.Stages(Name=DEPLOYMENTS["deployment"][0], Actions=[publish, deploy])


def add(t: Template, env: Environment, synth: codebuild.Project, upsert: codebuild.Project, operations_topic: sns.Topic,
        bucket: s3.Bucket, key) -> codepipeline.Pipeline:
    return t.add_resource(
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
                Location=Ref(bucket),
                EncryptionKey=codepipeline.EncryptionKey(Id=GetAtt(key, "Arn"), Type="KMS"),
            ),
            Stages=stages(env, synth, upsert, operations_topic, bucket),
        )
    )
