"""CloudFormation YAML with short-form intrinsics, emitted by libyaml.

cfn-flip's pure-Python dumper spent most of `generate.py`'s time; libyaml (bundled in PyYAML's
wheels) emits the same document several times faster. Lists of plain values go on one line
(`Action: [s3:GetObject, s3:PutObject]`), which keeps policies readable and templates small.
"""
from __future__ import annotations

import functools

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

if not yaml.__with_libyaml__:  # a pure-Python emitter could format differently: refuse, don't drift
    raise ImportError("PyYAML was installed without libyaml; reinstall it from a wheel (pip install --force-reinstall PyYAML)")

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Dumper(yaml.CSafeDumper):
    """libyaml's emitter, with the answer to "would this scalar read back as a string?" remembered.

    libyaml calls back into Python with that question twice per scalar; templates repeat most strings.
    The answer depends only on the arguments (no path resolvers are registered), so one cache serves all.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.resolve = _resolve


_RESOLVER = yaml.resolver.Resolver()
_resolve_scalar = functools.lru_cache(maxsize=None)(lambda value, implicit: _RESOLVER.resolve(ScalarNode, value, implicit))


def _resolve(kind, value, implicit):
    return _resolve_scalar(value, implicit) if kind is ScalarNode else _RESOLVER.resolve(kind, value, implicit)


_SCALARS = yaml.representer.SafeRepresenter()  # PyYAML's own wording of numbers, booleans and null


def _flat(items: list) -> bool:
    return bool(items) and all(isinstance(i, (str, int, float, bool)) and "\n" not in str(i) for i in items)


def _node(value, sort_keys: bool, short_form: bool = True) -> yaml.Node:
    """The YAML node of plain data (what json.loads could return), intrinsics in short form.

    Built directly rather than through yaml.dump's representer: one pass, no alias bookkeeping, and
    the same nodes, so libyaml emits the same bytes.
    """
    kind = type(value)
    if kind is str:
        return ScalarNode(_STR, value, style="|" if "\n" in value else None)
    if kind is dict:
        if short_form and len(value) == 1:
            tagged = _short_form(value, sort_keys)
            if tagged is not None:
                return tagged
        return MappingNode(_MAP, _pairs(value, sort_keys, short_form), flow_style=False)
    if kind is list or kind is tuple:
        return SequenceNode(_SEQ, [_node(item, sort_keys, short_form) for item in value], flow_style=_flat(value))
    if isinstance(value, str):
        return _node(str.__str__(value), sort_keys)
    if value is None or kind is bool or kind is int or kind is float:
        return _SCALARS.represent_data(value)
    if isinstance(value, (int, float)):  # IntEnum and the like: written as the number, as json.dumps would
        return _SCALARS.represent_data(float(value) if isinstance(value, float) else int(value))
    raise TypeError(f"a template holds {kind.__name__} {value!r}, which is not plain JSON data")


def _pairs(mapping: dict, sort_keys: bool, short_form: bool) -> list[tuple[yaml.Node, yaml.Node]]:
    pairs = []
    for key in sorted(mapping) if sort_keys else mapping:
        value = mapping[key]
        if type(key) is not str:
            if not isinstance(key, str):
                raise TypeError(f"a template key must be a string, not {key!r}")
            key = str.__str__(key)
        key_node = ScalarNode(_STR, key, style="|" if "\n" in key else None)
        # Most values are plain strings: built here, without another call.
        if type(value) is str:
            pairs.append((key_node, ScalarNode(_STR, value, style="|" if "\n" in value else None)))
        else:
            pairs.append((key_node, _node(value, sort_keys, short_form)))
    return pairs


def _short_form(node: dict, sort_keys: bool) -> yaml.Node | None:
    """The tagged node of a long-form intrinsic (`{"Fn::Sub": …}` → `!Sub …`), or None if `node` is not one."""
    (key, value), = node.items()
    if not isinstance(key, str):
        return None
    if key == "Ref" or key == "Condition" and isinstance(value, str):
        return _tagged(f"!{key}", value, sort_keys, short_form=False)
    if key == "Fn::GetAtt" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ScalarNode("!GetAtt", ".".join(value))
    if key.startswith("Fn::") and not key.startswith("Fn::ForEach::"):
        # A node holds one tag: a function directly inside another stays in long form
        # (`!ImportValue {Fn::Sub: …}`), as CloudFormation requires.
        return _tagged(f"!{key[4:]}", value, sort_keys, short_form=True)
    return None


def _tagged(tag: str, value, sort_keys: bool, short_form: bool) -> yaml.Node:
    if isinstance(value, dict):
        return MappingNode(tag, _pairs(value, sort_keys, short_form), flow_style=False)
    if isinstance(value, (list, tuple)):
        return SequenceNode(tag, [_node(item, sort_keys, short_form) for item in value], flow_style=_flat(value))
    return ScalarNode(tag, str(value))


def dump(template: dict, sort_keys: bool = False) -> str:
    """YAML text of a template given as plain data (long-form intrinsics), keys sorted or in the given order."""
    text = yaml.serialize(_node(template, sort_keys), Dumper=_Dumper, allow_unicode=True, width=120)
    return text if text.endswith("\n") else text + "\n"
