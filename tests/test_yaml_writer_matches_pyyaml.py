"""infra/output/cfn_yaml.py builds libyaml's nodes itself (for speed): it must write what yaml.dump's representer writes.

The reference below is the plain way: sort through a JSON round trip, tag intrinsics, let yaml.dump represent.
"""
from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.output import cfn_yaml


class _Tagged:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value


def _reference_short_form(node):
    if isinstance(node, list):
        return [_reference_short_form(item) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (key, value), = node.items()
        if key == "Ref" or key == "Condition" and isinstance(value, str):
            return _Tagged(f"!{key}", value)
        if key == "Fn::GetAtt" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return _Tagged("!GetAtt", ".".join(value))
        if key.startswith("Fn::") and not key.startswith("Fn::ForEach::"):
            inner = {k: _reference_short_form(v) for k, v in value.items()} if isinstance(value, dict) else _reference_short_form(value)
            return _Tagged(f"!{key[4:]}", inner)
    return {key: _reference_short_form(value) for key, value in node.items()}


class _ReferenceDumper(yaml.CSafeDumper):
    pass


def _flat(items):
    return bool(items) and all(isinstance(i, (str, int, float, bool)) and "\n" not in str(i) for i in items)


def _represent_tagged(dumper, data):
    if isinstance(data.value, dict):
        return dumper.represent_mapping(data.tag, data.value)
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value, flow_style=_flat(data.value))
    return dumper.represent_scalar(data.tag, str(data.value))


_ReferenceDumper.add_representer(list, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=_flat(data)))
_ReferenceDumper.add_representer(str, lambda d, data: d.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None))
_ReferenceDumper.add_representer(_Tagged, _represent_tagged)


def reference_dump(template: dict) -> str:
    plain = json.loads(json.dumps(template, sort_keys=True))
    text = yaml.dump(_reference_short_form(plain), Dumper=_ReferenceDumper, default_flow_style=False, sort_keys=False,
                     allow_unicode=True, width=120)
    return text if text.endswith("\n") else text + "\n"


FUNCTIONS = ["Ref", "Condition", "Fn::GetAtt", "Fn::Sub", "Fn::If", "Fn::Join", "Fn::ImportValue", "Fn::Select", "Fn::ForEach::Topics",
             "Fn::Equals", "Fn::Not", "Metadata"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
    st.sampled_from(["", "yes", "no", "on", "~", "null", "1.0", "0x1F", "1e3", "12:30", "2024-01-01", "- item", "a: b", "#x", "*", "&a",
                     "!Ref", "'q'", '"q"', "line\nbreak", "trailing\n", " lead", "tail ", "ü→", "${AWS::Region}", "x" * 130]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), st.sampled_from(FUNCTIONS)), inner, max_size=4),
        st.builds(lambda key, value: {key: value}, st.sampled_from(FUNCTIONS), inner),
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=10), documents, max_size=4))
def test_any_template_data_is_written_as_the_representer_writes_it(data):
    assert cfn_yaml.dump(data, sort_keys=True) == reference_dump(data)


def test_every_rendered_template_is_written_as_the_representer_writes_it(project):
    from infra.stacks import BUILDERS

    for stack, build in BUILDERS.items():
        data = build(project).to_dict()
        assert cfn_yaml.dump(data, sort_keys=True) == reference_dump(data), stack


@pytest.mark.parametrize("bad", [{"a": {1, 2}}, {"a": object()}, {1: "a"}])
def test_data_json_could_not_hold_is_refused(bad):
    with pytest.raises(TypeError):
        cfn_yaml.dump(bad, sort_keys=True)
