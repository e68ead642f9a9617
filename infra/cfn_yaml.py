"""CloudFormation YAML with short-form intrinsics, emitted by libyaml.

cfn-flip's pure-Python dumper spent most of `generate.py`'s time; libyaml (bundled in PyYAML's
wheels) emits the same document several times faster. Lists of plain values go on one line
(`Action: [s3:GetObject, s3:PutObject]`), which keeps policies readable and templates small.
"""
from __future__ import annotations

import yaml

if not yaml.__with_libyaml__:  # a pure-Python emitter could format differently: refuse, don't drift
    raise ImportError("PyYAML was installed without libyaml; reinstall it from a wheel (pip install --force-reinstall PyYAML)")

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Dumper(yaml.CSafeDumper):
    pass


class _Tagged:
    """An intrinsic function in short form: `!Ref X`, `!Sub '…'`, `!If [...]`."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value):
        self.tag, self.value = tag, value


def _short_form(node):
    """Convert long-form intrinsics (`{"Fn::Sub": …}`) to _Tagged, recursively."""
    if isinstance(node, list):
        return [_short_form(item) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (key, value), = node.items()
        if key == "Ref" or key == "Condition" and isinstance(value, str):
            return _Tagged(f"!{key}", value)
        if key == "Fn::GetAtt" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return _Tagged("!GetAtt", ".".join(value))
        if key.startswith("Fn::") and not key.startswith("Fn::ForEach::"):
            # A node holds one tag: a function directly inside another stays in long form
            # (`!ImportValue {Fn::Sub: …}`), as CloudFormation requires.
            inner = {k: _short_form(v) for k, v in value.items()} if isinstance(value, dict) else _short_form(value)
            return _Tagged(f"!{key[4:]}", inner)
    return {key: _short_form(value) for key, value in node.items()}


def _flat(items: list) -> bool:
    return bool(items) and all(isinstance(i, (str, int, float, bool)) and "\n" not in str(i) for i in items)


def _represent_list(dumper: _Dumper, data: list) -> yaml.Node:
    return dumper.represent_sequence(_SEQ, data, flow_style=_flat(data))


def _represent_str(dumper: _Dumper, data: str) -> yaml.Node:
    return dumper.represent_scalar(_STR, data, style="|" if "\n" in data else None)


def _represent_tagged(dumper: _Dumper, data: _Tagged) -> yaml.Node:
    value = data.value
    if isinstance(value, dict):
        return dumper.represent_mapping(data.tag, value)
    if isinstance(value, list):
        return dumper.represent_sequence(data.tag, value, flow_style=_flat(value))
    return dumper.represent_scalar(data.tag, str(value))


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Tagged, _represent_tagged)


def dump(template: dict) -> str:
    """YAML text of a template given as plain data (long-form intrinsics), keys in the given order."""
    text = yaml.dump(_short_form(template), Dumper=_Dumper, default_flow_style=False, sort_keys=False,
                     allow_unicode=True, width=120)
    return text if text.endswith("\n") else text + "\n"
