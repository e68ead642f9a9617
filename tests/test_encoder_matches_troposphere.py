"""infra/output/encode.py gives what troposphere's Template.to_dict() gives, and refuses what it refuses."""
from __future__ import annotations

import pytest
from awacs.aws import Allow, PolicyDocument, Statement
from troposphere import Output, Parameter, Ref, Sub, Tags, Template, iam, sns

from infra.output import encode
from infra.stacks import BUILDERS


@pytest.mark.parametrize("stack", list(BUILDERS))
def test_every_stack_encodes_as_troposphere_encodes_it(project, stack):
    template = BUILDERS[stack](project)
    assert encode.template_data(template) == template.to_dict()


def test_every_section_and_helper_encodes_as_troposphere_encodes_it():
    t = Template(Description="d")
    t.set_version()
    t.set_transform("AWS::LanguageExtensions")
    t.set_metadata({"Note": Sub("${AWS::Region}")})
    t.add_mapping("Map", {"eu-west-1": {"Id": "x"}})
    t.add_parameter(Parameter("Name", Type="String"))
    t.add_condition("Named", {"Fn::Not": [{"Fn::Equals": [Ref("Name"), ""]}]})
    topic = t.add_resource(sns.Topic("Topic", TopicName=Ref("Name"), Tags=Tags(A="b"), Condition="Named"))
    t.add_resource(sns.Topic("Empty"))
    t.add_resource(iam.ManagedPolicy("Policy", PolicyDocument=PolicyDocument(Statement=[
        Statement(Effect=Allow, Action=[], Resource=[Ref(topic)])])))
    t.add_output(Output("Arn", Value=Ref(topic)))
    assert encode.template_data(t) == t.to_dict()


def test_a_missing_required_property_is_refused_as_to_dict_refuses_it():
    t = Template()
    t.add_resource(iam.Role("Role"))  # AssumeRolePolicyDocument is required
    with pytest.raises(ValueError, match="AssumeRolePolicyDocument"):
        encode.template_data(t)
