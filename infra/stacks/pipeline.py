"""Pipeline stack: the self-updating delivery pipeline, its artifact bucket and key, and the model group.

Stages: Source -> Synth -> DeployIam -> UpdatePipeline -> DeployNotifications -> DeployKpi -> UpsertSageMakerPipeline.
Synth and Upsert are the only CodeBuild builds; every deployment is a CloudFormation action, each run
with the deploy role the IAM stack made for that stack. The env's config decides its stages: the source action
of its source type, a release approval, the deployment stage of an env that serves models.

Each concern is a part (infra/parts/): artifact_store (key, alias, bucket, policy), operations_topic,
builds (Synth, Upsert), delivery_pipeline (the pipeline, its stages and the stacks it deploys) and
pipeline_source (the Source action and the rules that start a run).
"""
from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, Template, sagemaker

from infra.config.names import Names
from infra.cfn import scanner_skips
from infra.cfn.exports import export
from infra.cfn.templates_common import RETAIN_DELETION, RETAIN_REPLACEMENT, new_template
from infra.parts import approvers as approvers_part
from infra.parts import (artifact_store, builds, delivery_failures, delivery_pipeline, operations_topic, pipeline_source,
                         promotion_grants)
# What other modules read from this stack: the stacks it deploys, their capabilities, the Synth build's artifact.
from infra.parts.builds import synth_artifact_files, synth_buildspec  # noqa: F401
from infra.parts.delivery_pipeline import CAPABILITIES, DEPLOYMENTS, SYNTH_ARTIFACT  # noqa: F401


def add_model_package_group(t: Template, n: Names) -> sagemaker.ModelPackageGroup:
    """The group; where config names approvers, its policy denies everyone else approval (infra/parts/approvers.py),
    and lets the env that serves this env's versions from another account read them (infra/parts/promotion_grants.py)."""
    granted = promotion_grants.group_statements(n.models_taker) if n.models_taker else []
    policy = approvers_part.group_policy(n.env.approvers, granted)
    return t.add_resource(
        sagemaker.ModelPackageGroup(
            "ModelPackageGroup",
            ModelPackageGroupName=Ref("ModelPackageGroupName"),
            ModelPackageGroupDescription=Sub("Models of the ${SageMakerPipelineName} pipeline"),
            **({"ModelPackageGroupPolicy": policy} if policy else {}),
            DeletionPolicy=RETAIN_DELETION,
            UpdateReplacePolicy=RETAIN_REPLACEMENT,
        )
    )


def build(n: Names) -> Template:
    t = new_template("Self-updating delivery pipeline of the SageMaker MLOps project, its artifact bucket and model group")
    ArtifactKey = artifact_store.add_artifact_key(t, n.env, n.models_taker)
    ArtifactBucket = artifact_store.add_artifact_bucket(t, ArtifactKey, n.env, n.models_taker)
    OperationsTopic = operations_topic.add(t, ArtifactKey, n.env.operations_emails, n.env.deployment is not None,
                                            n.env.chat)
    add_model_package_group(t, n)
    SynthProject, UpsertProject = builds.add(t, ArtifactKey, ArtifactBucket, n.env.deployment is not None)
    delivery_pipeline.add(t, n.env, SynthProject, UpsertProject, OperationsTopic, ArtifactBucket, ArtifactKey)
    pipeline_source.add_source_rule(t, OperationsTopic, n.env.source.type)
    delivery_failures.add(t, OperationsTopic)

    export(t, "ArtifactBucketName", Ref(ArtifactBucket), "Name of the artifact bucket")
    export(t, "ArtifactKeyArn", GetAtt(ArtifactKey, "Arn"), "ARN of the artifact bucket's KMS key")
    scanner_skips.apply(t, "pipeline")
    return t
