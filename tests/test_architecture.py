"""The import contracts (.importlinter, run by `make imports` inside `make test`) keep covering the code as it grows.

import-linter checks the modules a contract names; these tests fail when a new stack or a new infra package
is not named, so nothing new escapes the layers or the stacks' independence.
"""
from __future__ import annotations

import configparser
from pathlib import Path

from infra.stacks import BUILDERS

ROOT = Path(__file__).resolve().parent.parent


def _contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    return parser


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def test_every_stack_module_is_in_the_independence_contract():
    named = set(_lines(_contracts()["importlinter:contract:stacks"]["modules"]))
    assert named == {build.__module__ for build in BUILDERS.values()}


def test_every_infra_package_sits_in_a_layer():
    layers = _lines(_contracts()["importlinter:contract:layers"]["layers"])
    in_layers = {module.strip() for layer in layers for module in layer.split("|")}
    packages = {f"infra.{p.parent.name}" for p in (ROOT / "infra").glob("*/__init__.py")}
    modules = {f"infra.{p.stem}" for p in (ROOT / "infra").glob("*.py") if p.stem != "__init__"}
    assert packages | modules == in_layers


def test_the_generator_layers_are_the_layers_below_ops():
    """What the offline-generator contract forbids the SDK to is every layer but the operator commands."""
    layers = _lines(_contracts()["importlinter:contract:layers"]["layers"])
    below_ops = {module.strip() for layer in layers for module in layer.split("|")} - {"infra.ops"}
    offline = set(_lines(_contracts()["importlinter:contract:generator-offline"]["source_modules"]))
    assert offline == below_ops
