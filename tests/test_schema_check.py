"""infra/config/schema_check.py says "valid" exactly when jsonschema does, for our schemas and any document near them."""
from __future__ import annotations

import math

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra import config
from infra.config import schema, schema_check

SCHEMAS = {"project": schema.PROJECT, "environment": schema.ENVIRONMENT}

wild = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.integers(), st.sampled_from([0.0, 1.0, 0.5, 1.5, -0.0, math.inf, math.nan]),
    st.floats(), st.text(max_size=8), st.lists(st.integers(0, 2), max_size=3), st.dictionaries(st.text(max_size=3), st.none(), max_size=2),
)


def _near(sch, depth: int = 0) -> st.SearchStrategy:
    """Documents shaped by `sch`: mostly valid, with now and then a node off (a wild value, an extra key)."""
    shaped = _shaped(sch, depth)
    if not depth:
        return shaped
    # One node in ~12 is a wild value: some documents come out valid, most have one or two bad nodes.
    return st.integers(0, 11).flatmap(lambda roll: wild if roll == 11 else shaped)


def _shaped(sch, depth: int) -> st.SearchStrategy:
    if not isinstance(sch, dict) or not sch or depth > 6:
        return wild
    if "enum" in sch:
        return st.sampled_from(sch["enum"])
    if "const" in sch:
        return st.just(sch["const"])
    kind = sch.get("type")
    if kind == "string" or "pattern" in sch:
        text = st.from_regex(sch["pattern"], fullmatch=True) if "pattern" in sch else st.text(max_size=12)
        low, high = sch.get("minLength", 1), sch.get("maxLength", 12)
        edges = st.sampled_from([n * "a" for n in {max(low - 1, 0), low, high, high + 1}])
        return st.one_of(text.map(lambda t: t[:high]), text, edges)
    if kind in ("integer", "number"):
        low = sch.get("minimum", -5)
        high = sch.get("maximum", low + 10)
        numbers = st.integers(low, high) if kind == "integer" else st.floats(low, high)
        return st.one_of(numbers, st.sampled_from([low, high, low - 1, high + 1, float(low)]))
    if kind == "array" or "items" in sch:
        items = _near(sch.get("items", {}), depth + 1)
        size = dict(min_size=sch.get("minItems", 0), max_size=sch.get("maxItems", 3) and min(sch.get("maxItems", 3), 3))
        return st.one_of(st.lists(items, **size), st.lists(items, min_size=1, max_size=2).map(lambda xs: xs + xs[:1]))
    if kind == "object" or "properties" in sch or "allOf" in sch:
        return _object(sch, depth)
    return wild


def _object(sch: dict, depth: int) -> st.SearchStrategy:
    branches = [sub for sub in sch.get("allOf", []) if "if" in sub] or [{}]
    return st.one_of([_object_in_branch(sch, branch, depth) for branch in branches])


def _object_in_branch(sch: dict, branch: dict, depth: int) -> st.SearchStrategy:
    then = branch.get("then", {})
    properties = {**sch.get("properties", {}), **then.get("properties", {})}
    properties = {k: v for k, v in properties.items() if v} or properties
    for key, sub in branch.get("if", {}).get("properties", {}).items():
        if "const" in sub:
            properties[key] = {"const": sub["const"]}
    required = set(sch.get("required", [])) | set(then.get("required", []))
    fixed = {k: _near(v, depth + 1) for k, v in properties.items() if k in required}
    optional = {k: _near(v, depth + 1) for k, v in properties.items() if k not in required}
    extra = sch.get("additionalProperties", then.get("additionalProperties"))
    names = sch.get("propertyNames", {}).get("pattern")
    if isinstance(extra, dict):
        keys = st.one_of(st.from_regex(names, fullmatch=True), st.sampled_from(["", "aws:x", "a" * 129])) if names else st.text(max_size=6)
        free = st.dictionaries(keys, _near(extra, depth + 1), max_size=2)
    else:
        free = st.one_of(st.just({}), st.dictionaries(st.text(max_size=6), wild, max_size=1))
    return st.builds(lambda known, more: {**more, **known}, st.fixed_dictionaries(fixed, optional=optional), free)


def _agree(sch: dict, document) -> None:
    check = schema_check.compile_schema(sch)
    expected = jsonschema.Draft202012Validator(sch).is_valid(document)
    assert check(document) == expected, f"schema_check says {not expected}, jsonschema says {expected} for {document!r}"


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_config_schema_compiles_so_valid_configs_skip_jsonschema(name):
    assert schema_check.compile_schema(SCHEMAS[name]) is not None, (
        f"schema.{name.upper()} uses a keyword infra/config/schema_check.py lacks: add it there, with a case here")


def test_the_sample_config_is_valid_for_both(project):
    for path in sorted(config.CONFIG_DIR.glob("*.yaml")):
        sch = schema.PROJECT if path.name == "project.yaml" else schema.ENVIRONMENT
        document = config.read_yaml(path)
        _agree(sch, document)
        assert schema_check.compile_schema(sch)(document), path


def _subschemas(sch) -> list:
    """`sch` and every schema inside it."""
    if not isinstance(sch, dict):
        return []
    found = [sch]
    for key in ("items", "additionalProperties", "propertyNames", "if", "then", "else"):
        found += _subschemas(sch.get(key))
    for sub in [*sch.get("properties", {}).values(), *sch.get("allOf", [])]:
        found += _subschemas(sub)
    return found


SUBSCHEMAS = [sub for sch in SCHEMAS.values() for sub in _subschemas(sch)]
NEAR = {name: _near(sch) for name, sch in SCHEMAS.items()}
NEAR_PART = [st.one_of(_near(sch, depth=1), wild) for sch in SUBSCHEMAS]


@pytest.mark.parametrize("index", range(len(SUBSCHEMAS)))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_agrees_with_jsonschema_on_every_part_of_each_schema(index, data):
    """Each keyword's corners (bounds, patterns, types) met one schema at a time."""
    sch = SUBSCHEMAS[index]
    _agree(sch, data.draw(NEAR_PART[index]))


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_agrees_with_jsonschema_on_whole_documents_near_each_schema(data):
    name = data.draw(st.sampled_from(sorted(SCHEMAS)))
    _agree(SCHEMAS[name], data.draw(NEAR[name], label=name))


@pytest.mark.parametrize("sch,document", [
    ({"enum": [1]}, True), ({"enum": [True]}, 1), ({"enum": [1]}, 1.0), ({"const": "a"}, "a"),
    ({"type": "integer"}, 2.0), ({"type": "integer"}, True), ({"type": "number"}, False), ({"type": ["string", "null"]}, None),
    ({"uniqueItems": True}, [1, True]), ({"uniqueItems": True}, [1, 1.0]), ({"uniqueItems": True}, [[1], [1]]),
    ({"uniqueItems": True}, [{"a": 1}, {"a": True}]), ({"minimum": 1}, "0"), ({"maxLength": 1}, 12),
    ({"propertyNames": {"pattern": "^a"}}, {1: None}), ({"additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2}),
    ({"if": {"required": ["t"]}, "then": {"required": ["u"]}}, {"t": 1}), ({"then": {"required": ["u"]}}, {}),
    ({"items": {"type": "string"}}, "not a list"), ({"required": ["a"]}, ["a"]),
])
def test_agrees_with_jsonschema_on_the_type_corners(sch, document):
    _agree(sch, document)


def test_an_unsupported_keyword_falls_back_to_jsonschema():
    assert schema_check.compile_schema({"properties": {"a": {"oneOf": [{"type": "string"}]}}}) is None
