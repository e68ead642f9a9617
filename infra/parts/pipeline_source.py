"""Where the delivery pipeline's source comes from, per source type (CodeConnections, CodeCommit, S3): the Source
action, the revision an approver reads, and, for CodeCommit and S3, the EventBridge rule that starts a run on a
push (CodeConnections detects changes itself). An env's template holds its own source type's."""
from __future__ import annotations

from troposphere import Ref, Sub, Template, codepipeline, events, sns

from infra.cfn.exports import import_value
from infra.iam import rule_events
from infra.parts import delivery_failures, pipeline_actions

SOURCE_ARTIFACT = "SourceOutput"
SOURCE_VARIABLES = "SourceVariables"  # the source action's output variables (commit id, version id…)


def source_action(source_type: str) -> codepipeline.Actions:
    """The Source action of the env's source type."""
    configurations = {
        "codeconnections": ("CodeStarSourceConnection", {
            "ConnectionArn": Ref("SourceConnectionArn"), "FullRepositoryId": Ref("SourceRepository"),
            "BranchName": Ref("SourceBranch"), "OutputArtifactFormat": "CODE_ZIP", "DetectChanges": "true"}),
        "codecommit": ("CodeCommit", {
            "RepositoryName": Ref("SourceRepository"), "BranchName": Ref("SourceBranch"),
            "OutputArtifactFormat": "CODE_ZIP", "PollForSourceChanges": "false"}),
        "s3": ("S3", {"S3Bucket": Ref("SourceBucket"), "S3ObjectKey": Ref("SourceObjectKey"), "PollForSourceChanges": "false"}),
    }
    provider, configuration = configurations[source_type]
    return pipeline_actions.action("Source", "Source", provider, configuration, outputs=[SOURCE_ARTIFACT], namespace=SOURCE_VARIABLES)


# What the approver reads: which revision, of what, to which env. The source action's output variables
# differ per source type (CodeConnections and CodeCommit name a commit, S3 a version of the zip).
REVISIONS = {
    "codeconnections": f"commit #{{{SOURCE_VARIABLES}.CommitId}} of #{{{SOURCE_VARIABLES}.FullRepositoryName}} "
                       f"(#{{{SOURCE_VARIABLES}.BranchName}})",
    "codecommit": f"commit #{{{SOURCE_VARIABLES}.CommitId}} of #{{{SOURCE_VARIABLES}.RepositoryName}} "
                  f"(#{{{SOURCE_VARIABLES}.BranchName}})",
    "s3": f"version #{{{SOURCE_VARIABLES}.VersionId}} of the source zip",
}


def pipeline_arn() -> Sub:
    return Sub("arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${CodePipelineName}")


def _codecommit_pattern() -> dict:
    return {
        "detail": {
            "event": ["referenceCreated", "referenceUpdated"],
            "referenceName": [Ref("SourceBranch")],
            "referenceType": ["branch"],
        },
        "resources": [Sub("arn:${AWS::Partition}:codecommit:${AWS::Region}:${AWS::AccountId}:${SourceRepository}")],
        **rule_events.pattern_head(rule_events.SOURCE_TRIGGERS["codecommit"]),
    }


def _s3_pattern() -> dict:
    return {
        "detail": {"bucket": {"name": [Ref("SourceBucket")]}, "object": {"key": [Ref("SourceObjectKey")]}},
        **rule_events.pattern_head(rule_events.SOURCE_TRIGGERS["s3"]),
    }


# source type -> (rule's logical ID, its alarm's, what it says, its event pattern). CodeConnections detects changes itself.
SOURCE_RULES = {
    "codecommit": ("CodeCommitSourceRule", "CodeCommitSourceRuleFailuresAlarm",
                   "Start the delivery pipeline when its CodeCommit branch moves", _codecommit_pattern),
    "s3": ("S3SourceRule", "S3SourceRuleFailuresAlarm", "Start the delivery pipeline when the source zip is uploaded",
           _s3_pattern),
}


def add_source_rule(t: Template, operations_topic: sns.Topic, source_type: str) -> None:
    """CodeCommit and S3 sources start the pipeline through EventBridge, not by polling; a start that fails
    (the source events role refused, say) would leave a push undeployed, so it is alarmed."""
    if source_type not in SOURCE_RULES:
        return
    rule_id, alarm_id, description, pattern = SOURCE_RULES[source_type]
    t.add_resource(delivery_failures.rule_failures_alarm(
        alarm_id, f"${{ResourcePrefix}}-source-{source_type}", Ref(operations_topic),
        "EventBridge could not start the delivery pipeline for a push: that change is not deployed",
    ))
    target = events.Target(Id="DeliveryPipeline", Arn=pipeline_arn(), RoleArn=import_value("IamStackName", "SourceEventsRoleArn"))
    t.add_resource(events.Rule(
        rule_id,
        Name=Sub(f"${{ResourcePrefix}}-source-{source_type}"),
        Description=description,
        EventPattern=pattern(),
        State="ENABLED",
        Targets=[target],
    ))
