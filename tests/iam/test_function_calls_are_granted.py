"""Every AWS call the deployment functions' code makes is an action their role grants.

A call the role lacks fails only in an account, often on the path least exercised (a rollback, a rejection mid-
rollout, the first deployment). The calls are read from the code (`clients.client("<service>")` and the methods
called on it, directly or through a variable), turned into IAM actions (CreateEndpoint from create_endpoint), and
looked up in the role's rendered statements. Resources and conditions are the other checks' (least privilege,
boundaries); this one is about nothing missing.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.cfn import as_list, role_statements
from tests.support.concrete_envs import env_renders

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"
# function folder -> its role in serving-iam.yaml; each zip also holds shared/
FUNCTIONS = {"deploy_resolve": "ResolveFunctionRole", "deploy_smoke_test": "SmokeTestFunctionRole"}
# botocore operation names whose IAM action is spelt differently, or that need none
IAM_ACTION = {("sagemaker-runtime", "invoke_endpoint"): "sagemaker:InvokeEndpoint",
              ("s3", "list_object_versions"): "s3:ListBucketVersions", ("s3", "list_objects_v2"): "s3:ListBucket",
              ("s3", "head_object"): "s3:GetObject"}
# Resolve's calls made in one mode only: an env serving its own models pins archives (shared/archives.py) and reads
# the evaluation report; one serving another env's (deployment.models_from) only verifies that env's pin.
OWN_MODELS_ONLY = {"deploy_resolve": {("s3", "put_object_tagging"), ("s3", "get_object")}}
SOURCE_MODELS_ONLY = {"deploy_resolve": {("s3", "get_object_tagging")}}
NOT_AN_ACTION = {"get_waiter", "get_paginator", "meta", "exceptions", "can_paginate"}


def _pascal(method: str) -> str:
    return "".join(part.title() for part in method.split("_"))


def calls(path: Path) -> set[tuple[str, str]]:
    """(service, method) for each method called on a client `clients.client(...)` made in this file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[tuple[str, str]] = set()

    def service_of(node) -> str | None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client" \
                and node.args and isinstance(node.args[0], ast.Constant):
            return node.args[0].value
        return None

    for scope in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Module))]:
        names: dict[str, str] = {}
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign):
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                targets = node.targets[0].elts if isinstance(node.targets[0], ast.Tuple) else node.targets
                for target, value in zip(targets, values):
                    if isinstance(target, ast.Name) and service_of(value):
                        names[target.id] = service_of(value)
        for node in ast.walk(scope):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                service = service_of(owner) or (names.get(owner.id) if isinstance(owner, ast.Name) else None)
                if service and node.func.attr not in NOT_AN_ACTION:
                    found.add((service, node.func.attr))
    return found


def sources(folder: str) -> list[Path]:
    """The function's files and the shared modules they import, directly or through another shared module (every zip
    holds all of shared/, but a call in a module the function never imports is not the function's)."""
    files, todo = set(), sorted((LAMBDA_SRC / folder).glob("*.py"))
    while todo:
        path = todo.pop()
        files.add(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = node.module or ""
            if node.level == 1 and path.parent.name == "shared":  # from . import x, from .x import y
                names = [module] if module else [alias.name for alias in node.names]
            elif module == "shared":
                names = [alias.name for alias in node.names]
            else:
                names = [module.removeprefix("shared.")] if module.startswith("shared.") else []
            todo += [m for m in (LAMBDA_SRC / "shared" / f"{n}.py" for n in names) if m.is_file() and m not in files]
    return sorted(files)


@pytest.mark.parametrize("folder", sorted(FUNCTIONS))
def test_every_call_of_a_deployment_function_is_granted_to_its_role(folder, project, rendered):
    made = set().union(*(calls(p) for p in sources(folder)))
    assert made, f"no AWS call found in {folder}: is the scan still right?"
    # Every serving-iam.yaml, of config/ and of the variants (only an env with a deployment block has one).
    serving = [env for env in env_renders(project, rendered) if env.renders("serving-iam")]
    assert serving, "no env or variant serves models"
    for env in serving:
        template = env.template("serving-iam")
        granted = {a.lower() for st in role_statements(template, FUNCTIONS[folder]) if st["Effect"] == "Allow"
                   for a in as_list(st["Action"])}
        needed = made - (OWN_MODELS_ONLY if env.names.models_source else SOURCE_MODELS_ONLY).get(folder, set())
        missing = sorted(IAM_ACTION.get((service, method), f"{service}:{_pascal(method)}") for service, method in needed
                         if IAM_ACTION.get((service, method), f"{service}:{_pascal(method)}").lower() not in granted)
        assert not missing, f"{env.label}: {FUNCTIONS[folder]} lacks {missing}"
