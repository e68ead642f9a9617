"""Where the delivery pipeline's source comes from, per source type (CodeConnections, CodeCommit, S3): the Source
action, the revision an approver reads, and, for CodeCommit and S3, the EventBridge rule that starts a run on a
push (CodeConnections detects changes itself). One template serves every type: the action is picked with Fn::If
over the SourceType conditions (infra/cfn/source.py)."""
from __future__ import annotations

from troposphere import If, Ref, Sub, Template, codepipeline, events, sns

from infra.cfn.exports import import_value
from infra.cfn.source import SOURCE_CONDITIONS
from infra.parts import delivery_failures, pipeline_actions

SOURCE_ARTIFACT = "SourceOutput"
SOURCE_VARIABLES = "SourceVariables"  # the source action's output variables (commit id, version id…)


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
