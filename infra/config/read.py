"""Read one config file: YAML into a mapping that its schema (schema.py) accepts, with the schema's defaults filled in.

Every problem becomes one ConfigError whose text is a single line naming the file, the key path and what is wrong.
"""
from __future__ import annotations

import copy
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from infra.config.model import ConfigError, display_path

# Config files are a few KiB; reading stops here (an endless file such as /dev/zero ends in one line).
MAX_CONFIG_BYTES = 256 * 1024
# No config number is near this long; Python refuses int strings past 4,300 digits (sys.get_int_max_str_digits) and
# would not print a hex one of as many.
MAX_NUMBER_CHARS = 100


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and aliases.

    Aliases (*name) share one node between many places: a few lines of them expand to billions of values
    once anything walks the document (the "billion laughs"). Config has no use for them.
    """

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in config", event.start_mark)
        return super().compose_node(parent, index)


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key; let the default constructor word the error
            break
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


def _construct_int(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> int:
    if len(node.value) > MAX_NUMBER_CHARS:
        raise yaml.constructor.ConstructorError(None, None, f"a number of {len(node.value)} characters "
                                                f"(at most {MAX_NUMBER_CHARS})", node.start_mark)
    return loader.construct_yaml_int(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def read_yaml(path: Path) -> dict:
    """Parse one config file into a mapping, or raise ConfigError."""
    shown = display_path(path)
    try:
        # Opened without blocking (a FIFO would wait for a writer), then refused unless a regular file.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise ConfigError(shown, "", "not a regular file")
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(shown, "", f"larger than {MAX_CONFIG_BYTES // 1024} KiB; a config file is a few KiB")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(shown, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(shown, "", f"cannot read: {exc}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(shown, where, f"invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(shown, "", "invalid YAML: nesting too deep") from None
    if data is None:
        raise ConfigError(shown, "", "file is empty")
    if not isinstance(data, dict):
        raise ConfigError(shown, "", f"expected a mapping of keys at the top level, got {_kind(data)}")
    _refuse_control_characters(shown, data, [])
    return data


# C0 and C1 controls, line and paragraph separators, bidi controls (which reorder what a reader sees) and surrogates
# (a YAML "\uD800" makes a lone one, which no UTF-8 file can hold).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def _unprintable(text: str) -> str:
    found = ord(_CONTROL.search(text)[0])
    return f"U+{found:04X}, " + ("a lone surrogate" if 0xD800 <= found <= 0xDFFF else "a control character")


def _refuse_control_characters(shown: str, node, path: list) -> None:
    """No key or value may hold a control character: a trailing newline passes `$`-anchored patterns (Python's
    `$` matches before one) and would end up in names, folders and templates."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and _CONTROL.search(key):
                raise ConfigError(shown, key_path(path), f"key {_short(key)} contains {_unprintable(key)}")
            _refuse_control_characters(shown, value, path + [key])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _refuse_control_characters(shown, value, path + [i])
    elif isinstance(node, str) and _CONTROL.search(node):
        raise ConfigError(shown, key_path(path), f"{_short(node)} contains {_unprintable(node)}")
    elif isinstance(node, float) and not math.isfinite(node):  # .nan, .inf: no comparison holds for NaN
        raise ConfigError(shown, key_path(path), f"{node} is not a finite number")


def key_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error: jsonschema.ValidationError) -> tuple[list, str]:
    """Turn one jsonschema error into (key path parts, one-line problem)."""
    path = list(error.absolute_path)
    v, sch, inst = error.validator, error.schema, error.instance
    if v == "additionalProperties":
        allowed = sorted(sch.get("properties", {}))
        extra = sorted(str(k) for k in inst if k not in sch.get("properties", {}))
        return path + [extra[0]], "unknown key" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
    if v == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        return path + [missing.group(1) if missing else "?"], "required key is missing"
    if v == "type":
        return path, f"expected {_kind_name(error.validator_value)}, got {_kind(inst)} {_short(inst)}"
    if v in ("enum", "const"):
        options = error.validator_value if v == "enum" else [error.validator_value]
        return path, f"{_short(inst)} is not one of: {', '.join(map(str, options))}"
    if v == "pattern":
        expect = sch.get("x-expect", f"a value matching {error.validator_value}")
        return path, f"{_short(inst)} is not {expect}"
    if v in ("minLength", "maxLength"):
        word = "at least" if v == "minLength" else "at most"
        return path, f"{_short(inst)} is {len(inst)} characters; must be {word} {error.validator_value}"
    if v in ("minItems", "maxItems"):
        word = "at least" if v == "minItems" else "at most"
        return path, f"has {len(inst)} items; must have {word} {error.validator_value}"
    if v == "uniqueItems":
        return path, "has duplicate items"
    if v in ("minimum", "maximum"):
        word = "at least" if v == "minimum" else "at most"
        return path, f"{_short(inst)} must be {word} {error.validator_value}"
    return path, error.message


def _kind_name(json_type) -> str:
    names = {"string": "a string", "integer": "an integer", "number": "a number", "object": "a mapping", "array": "a list", "boolean": "a boolean"}
    if isinstance(json_type, list):
        return " or ".join(names.get(t, t) for t in json_type)
    return names.get(json_type, json_type)


def _first_error(schema_: dict, data: dict):
    errors = list(jsonschema.Draft202012Validator(schema_).iter_errors(data))
    if not errors:
        return None
    # Deepest, then document order: the most specific complaint about the first bad key.
    best = jsonschema.exceptions.best_match(errors)
    # A bad key (propertyNames) is reported at the mapping's path; name the key itself.
    if "propertyNames" in best.absolute_schema_path:
        expect = best.schema.get("x-expect", "a valid key")
        return list(best.absolute_path) + [best.instance], f"key {_short(best.instance)} is not {expect}"
    return _describe(best)


def _validate(schema_: dict, data: dict, shown: str) -> None:
    """Raise the one-line ConfigError for the first problem jsonschema finds in `data`, if any."""
    try:
        found = _first_error(schema_, data)
    except RecursionError:
        raise ConfigError(shown, "", "nesting too deep") from None
    if found:
        parts, problem = found
        raise ConfigError(shown, key_path(parts), problem)


def with_defaults(schema_: dict, data: dict) -> dict:
    """A copy of `data` (valid against `schema_`) with every absent key that has a schema `default` filled in."""
    out = dict(data)
    for key, sub in schema_.get("properties", {}).items():
        if key not in out and "default" in sub:
            out[key] = copy.deepcopy(sub["default"])
        if isinstance(out.get(key), dict):
            out[key] = with_defaults(sub, out[key])
    return out


def read(path: Path, schema_: dict) -> dict:
    """The file at `path`, checked against `schema_`, each absent key that has a default given it; or ConfigError."""
    data = read_yaml(path)
    _validate(schema_, data, display_path(path))
    return with_defaults(schema_, data)
