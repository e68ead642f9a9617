"""tests/support/cfn.py reads templates with libyaml rather than cfn_flip (5x faster): it must give the data cfn_flip
gives, for every template config/ renders and for the short-form intrinsics tests write by hand."""
from __future__ import annotations

import json

from cfn_flip import to_json

from tests.support import cfn

SHORT_FORM = """\
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Condition: IsProd
    Properties:
      TopicName: !Sub ['${Known}-${Local}-${!Literal}', {Local: x}]
      DisplayName: !If [IsProd, !Ref 'AWS::NoValue', !GetAtt Other.TopicName]
      Tags: [{Key: a, Value: !Join ['', [a, !Select [0, !GetAZs '']]]}, {Key: b, Value: !GetAtt [Other, Arn]}]
      KmsMasterKeyId: !Base64 {Fn::Sub: x}
      Other: !Condition IsProd
      Nested: !Sub
        - '${A}'
        - {A: !ImportValue {Fn::Sub: '${AWS::StackName}-a'}}
"""


def test_the_reader_gives_what_cfn_flip_gives(rendered):
    texts = {"short form": SHORT_FORM, **{path: text for path, text in rendered.items() if path.endswith(".yaml")}}
    for label, text in texts.items():
        assert cfn.load(text) == json.loads(to_json(text)), label
