"""The import contracts (.importlinter, run by `make imports` inside `make test`) keep covering the code as it grows.

import-linter checks the modules a contract names; these tests fail when a new stack or a new infra package
is not named, so nothing new escapes the layers or the stacks' independence.
"""
from __future__ import annotations

import configparser
from pathlib import Path

from infra.stacks import BUILDERS

ROOT = Path(__file__).resolve().parents[2]


def _contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    return parser


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def test_every_stack_module_is_in_the_independence_contract():
    named = set(_lines(_contracts()["importlinter:contract:stacks"]["modules"]))
    built = {build.__module__ for build in BUILDERS.values()}
    assert named == built, f"list every stack module of BUILDERS in .importlinter [importlinter:contract:stacks]: {sorted(named ^ built)}"


def test_every_lambda_folder_is_in_the_functions_independence_contract():
    named = set(_lines(_contracts()["importlinter:contract:functions"]["modules"]))
    folders = {f"lambda_src.{p.parent.name}" for p in (ROOT / "lambda_src").glob("*/__init__.py")}
    assert named == folders, f"list every lambda_src folder in .importlinter [importlinter:contract:functions]: {sorted(named ^ folders)}"


def test_every_infra_package_sits_in_a_layer():
    layers = _lines(_contracts()["importlinter:contract:layers"]["layers"])
    in_layers = {module.strip() for layer in layers for module in layer.split("|")}
    packages = {f"infra.{p.parent.name}" for p in (ROOT / "infra").glob("*/__init__.py")}
    modules = {f"infra.{p.stem}" for p in (ROOT / "infra").glob("*.py") if p.stem != "__init__"}
    assert packages | modules == in_layers, \
        f"place every infra package in a layer of .importlinter [importlinter:contract:layers]: {sorted((packages | modules) ^ in_layers)}"


def test_the_generator_layers_are_the_layers_below_ops():
    """What the offline-generator contract forbids the SDK to is every layer but the operator commands."""
    layers = _lines(_contracts()["importlinter:contract:layers"]["layers"])
    below_ops = {module.strip() for layer in layers for module in layer.split("|")} - {"infra.ops"}
    offline = set(_lines(_contracts()["importlinter:contract:generator-offline"]["source_modules"]))
    assert offline == below_ops, \
        f".importlinter [importlinter:contract:generator-offline] source_modules must be every layer but infra.ops: {sorted(offline ^ below_ops)}"


def _module_cycles() -> list[list[str]]:
    """Every import cycle among the modules of infra, pipeline_def and lambda_src, packages' __init__ included,
    across packages too (Tarjan's strongly connected components over grimp's graph of direct imports)."""
    import grimp

    graph = grimp.build_graph("infra", "pipeline_def", "lambda_src", cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # recursive: the graph is a few hundred modules deep at most
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycle_at_any_depth_nor_across_packages():
    """import-linter's acyclic_siblings compares siblings only: a cycle through a package's own __init__
    (infra.config -> loader -> schema -> infra.config) or between infra and pipeline_def passes it."""
    assert _module_cycles() == []


def test_infra_stays_a_namespace_package():
    """An infra/__init__.py would run before every generator module, outside every contract (import-linter
    checks infra's subpackages, not infra itself): what it imported, the Synth build would load."""
    assert not (ROOT / "infra" / "__init__.py").exists()
