"""The pipeline's source, as parameters and conditions shared by the IAM and pipeline stacks.

Templates are the same for every environment, so the source type is a parameter and each
type-specific resource or action carries one of these conditions.
"""
from __future__ import annotations

from troposphere import Equals, Ref, Template

SOURCE_CONDITIONS = {
    "codeconnections": "IsCodeConnectionsSource",
    "codecommit": "IsCodeCommitSource",
    "s3": "IsS3Source",
}

SOURCE_PARAMETERS = ("SourceType", "SourceConnectionArn", "SourceRepository", "SourceBranch", "SourceBucket", "SourceObjectKey")


def add_source_conditions(template: Template) -> None:
    for source_type, condition in SOURCE_CONDITIONS.items():
        template.add_condition(condition, Equals(Ref("SourceType"), source_type))
