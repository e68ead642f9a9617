"""parameters.declare_used finds what the encoded template uses, walking troposphere/awacs objects directly."""
from __future__ import annotations

import pytest
from awacs.aws import Allow, Condition, PolicyDocument, Statement, StringEquals
from troposphere import Equals, If, Output, Ref, Sub, Tags, Template, iam, sns

from infra.cfn import parameters
from infra.stacks import BUILDERS


@pytest.mark.parametrize("stack", list(BUILDERS))
def test_walking_the_objects_finds_what_the_encoded_template_uses(project, stack):
    template = BUILDERS[stack](project)
    assert parameters._used_names(parameters._sections(template), set()) == parameters._used_names(template.to_dict(), set())


def test_names_hidden_in_policies_tags_conditions_and_outputs_are_declared():
    t = Template()
    t.add_condition("IsProd", Equals(Ref("Environment"), "prod"))
    t.add_resource(sns.Topic("Topic", TopicName=Ref("TopicName"), Tags=Tags(Project=Ref("ProjectName"))))
    t.add_resource(iam.ManagedPolicy("Policy", PolicyDocument=PolicyDocument(Statement=[Statement(
        Effect=Allow, Action=[], Resource=[Sub("arn:${AWS::Partition}:s3:::${ArtifactBucketPrefix}/*")],
        Condition=Condition(StringEquals({"aws:ResourceTag/Name": Sub("${ResourcePrefix}")})),
    )])))
    t.add_output(Output("Name", Value=If("IsProd", Sub("${SageMakerPipelineName}"), Ref("AWS::NoValue"))))
    parameters.declare_used(t)
    assert set(t.parameters) == {"Environment", "TopicName", "ProjectName", "ArtifactBucketPrefix", "ResourcePrefix",
                                 "SageMakerPipelineName"}
    assert parameters._used_names(parameters._sections(t), set()) == parameters._used_names(t.to_dict(), set())
