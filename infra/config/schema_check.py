"""A yes/no JSON Schema (draft 2020-12) check for the keywords infra/config/schema.py uses, without jsonschema.

Importing jsonschema (referencing, attrs, rpds…) cost generate.py more than building every template.
A valid config only needs a yes, so loader.py asks this check first and imports jsonschema only to word
the error of an invalid one. The check accepts exactly what jsonschema accepts (tests/test_schema_check.py
compares the two); a schema using a keyword it does not implement compiles to None, and loader.py then
validates with jsonschema alone: slower, never weaker.
"""
from __future__ import annotations

import re
from typing import Any, Callable

Check = Callable[[Any], bool]

# Keywords that never change whether an instance is valid.
_ANNOTATIONS = frozenset({"$schema", "$comment", "title", "description", "default", "examples"})


class Unsupported(Exception):
    """The schema uses a keyword this module does not implement."""


def compile_schema(schema: dict | bool) -> Check | None:
    """A function telling whether an instance is valid against `schema`, or None if a keyword is unsupported."""
    try:
        return _compile(schema)
    except Unsupported:
        return None


def _is_integer(value) -> bool:
    # Draft 6 and later: 1.0 is an integer; bool is never a number.
    return (type(value) is not bool and isinstance(value, int)) or (isinstance(value, float) and value.is_integer())


def _is_number(value) -> bool:
    return type(value) is not bool and isinstance(value, (int, float))


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": _is_integer,
    "number": _is_number,
}


def _equal(one, two) -> bool:
    """JSON equality: True is not 1, 1 is 1.0, containers compare item by item (jsonschema._utils.equal)."""
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return type(one) is type(two) and one == two
    return one == two


def _unique(items: list) -> bool:
    return not any(_equal(items[i], items[j]) for i in range(len(items)) for j in range(i + 1, len(items)))


def _compile(schema) -> Check:
    if schema is True or schema == {}:
        return lambda value: True
    if schema is False:
        return lambda value: False
    if not isinstance(schema, dict):
        raise Unsupported(repr(schema))
    checks: list[Check] = []
    for keyword, arg in schema.items():
        if keyword in _ANNOTATIONS or keyword.startswith("x-") or keyword in ("then", "else"):
            continue
        build = _KEYWORDS.get(keyword)
        if build is None:
            raise Unsupported(keyword)
        checks.append(build(arg, schema))
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _type(arg, _schema) -> Check:
    tests = [_TYPES[name] for name in ([arg] if isinstance(arg, str) else arg)]
    return lambda value: any(test(value) for test in tests)


def _enum(arg, _schema) -> Check:
    return lambda value: any(_equal(value, option) for option in arg)


def _const(arg, _schema) -> Check:
    return lambda value: _equal(value, arg)


def _pattern(arg, _schema) -> Check:
    # re.search, as jsonschema does: a pattern is compiled (and cached by re) only when a value meets it.
    return lambda value: not isinstance(value, str) or re.search(arg, value) is not None


def _min_length(arg, _schema) -> Check:
    return lambda value: not isinstance(value, str) or len(value) >= arg


def _max_length(arg, _schema) -> Check:
    return lambda value: not isinstance(value, str) or len(value) <= arg


def _min_items(arg, _schema) -> Check:
    return lambda value: not isinstance(value, list) or len(value) >= arg


def _max_items(arg, _schema) -> Check:
    return lambda value: not isinstance(value, list) or len(value) <= arg


def _unique_items(arg, _schema) -> Check:
    return lambda value: not (arg and isinstance(value, list)) or _unique(value)


def _minimum(arg, _schema) -> Check:
    return lambda value: not (_is_number(value) and value < arg)  # NaN passes, as in jsonschema


def _maximum(arg, _schema) -> Check:
    return lambda value: not (_is_number(value) and value > arg)


def _required(arg, _schema) -> Check:
    return lambda value: not isinstance(value, dict) or all(key in value for key in arg)


def _properties(arg, _schema) -> Check:
    checks = {key: _compile(sub) for key, sub in arg.items()}
    return lambda value: not isinstance(value, dict) or all(check(value[key]) for key, check in checks.items() if key in value)


def _additional_properties(arg, schema) -> Check:
    if "patternProperties" in schema:
        raise Unsupported("patternProperties")
    known = frozenset(schema.get("properties", {}))
    check = _compile(arg)
    return lambda value: not isinstance(value, dict) or all(check(v) for k, v in value.items() if k not in known)


def _property_names(arg, _schema) -> Check:
    check = _compile(arg)
    return lambda value: not isinstance(value, dict) or all(check(key) for key in value)


def _items(arg, schema) -> Check:
    if "prefixItems" in schema:
        raise Unsupported("prefixItems")
    check = _compile(arg)
    return lambda value: not isinstance(value, list) or all(check(item) for item in value)


def _all_of(arg, _schema) -> Check:
    checks = [_compile(sub) for sub in arg]
    return lambda value: all(check(value) for check in checks)


def _if(arg, schema) -> Check:
    condition = _compile(arg)
    then = _compile(schema.get("then", True))
    otherwise = _compile(schema.get("else", True))
    return lambda value: then(value) if condition(value) else otherwise(value)


_KEYWORDS: dict[str, Callable[[Any, dict], Check]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "minLength": _min_length,
    "maxLength": _max_length,
    "minItems": _min_items,
    "maxItems": _max_items,
    "uniqueItems": _unique_items,
    "minimum": _minimum,
    "maximum": _maximum,
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional_properties,
    "propertyNames": _property_names,
    "items": _items,
    "allOf": _all_of,
    "if": _if,
}
