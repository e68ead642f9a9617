"""What a template refers to, checked the way CloudFormation resolves it when a stack is created.

Two classes of defect stop a first deploy although every linter passes:
- an `Fn::ImportValue` (in a key policy, an environment variable, anywhere) names an export that no
  stack deployed earlier makes: CreateStack fails with "No export named …" and the stack rolls back;
- a `Ref`, a `${Name}` in `Fn::Sub`, a `Fn::GetAtt` or a condition name that the template does not
  declare.
Each function returns readable problems (empty when all is well) and takes any rendered file set, so
a test can show it catches a known-bad render too.
"""
from __future__ import annotations

import re

from tests.support.cfn import load
from tests.support.resolve import Stack, walk

PSEUDO_PARAMETERS = frozenset({
    "AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region",
    "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
})
_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


def import_problems(rendered: dict[str, str], project, env_name: str, order: list[str]) -> list[str]:
    """Every import of every stack against the exports of the stacks deployed before it."""
    from infra.config import names as names_mod

    env = project.env(env_name)
    n = names_mod.Names(project, env)
    order = [key for key in order if f"{env_name}/{key}.yaml" in rendered]  # the stacks the env renders
    stacks = {key: Stack.from_rendered(rendered, key, env, n.stack(key)) for key in order}
    exports_by_stack = {key: stack.exports() for key, stack in stacks.items()}
    problems = []
    for position, key in enumerate(order):
        earlier = {name: maker for maker in order[:position] for name in exports_by_stack[maker]}
        for where, name in stacks[key].imports():
            if name in earlier:
                continue
            later = [maker for maker in order[position:] if name in exports_by_stack[maker]]
            suffix = str(name).rsplit("-", 1)[-1]
            alike = sorted(f"{maker}.yaml exports '{export}'" for maker in order for export in exports_by_stack[maker]
                           if export.endswith(f"-{suffix}"))
            if later:
                why = f"only {later[0]}.yaml makes it, and it deploys later"
            else:
                why = "no stack exports it" + (f" ({'; '.join(alike)})" if alike else "")
            problems.append(f"env {env_name}: {key}.yaml {where} imports '{name}': {why}")
    return problems


def reference_problems(template_text: str, label: str) -> list[str]:
    """Every Ref, Sub variable, GetAtt and condition name against what the template declares."""
    template = load(template_text)
    parameters = set(template.get("Parameters", {}))
    resources = set(template.get("Resources", {}))
    conditions = set(template.get("Conditions", {}))
    problems = []

    def check(where: str, name: str, what: str, known: set[str]) -> None:
        if name not in known:
            problems.append(f"{label} {where}: {what} '{name}' is not declared")

    for where, node in walk(template):
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("Ref"), str):
            check(where, node["Ref"], "Ref to", parameters | resources | PSEUDO_PARAMETERS)
        if "Fn::GetAtt" in node:
            target = node["Fn::GetAtt"]
            logical_id = target[0] if isinstance(target, list) else str(target).split(".", 1)[0]
            check(where, logical_id, "Fn::GetAtt of", resources)
        if "Fn::Sub" in node:
            text, local = (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
            for name in _SUB_NAME.findall(text):
                if name in local:
                    continue
                base = name.split(".", 1)[0] if "." in name and not name.startswith("AWS::") else name
                check(where, base, "Fn::Sub variable", parameters | resources | PSEUDO_PARAMETERS)
        if "Fn::If" in node:
            check(where, node["Fn::If"][0], "condition", conditions)
        if isinstance(node.get("Condition"), str):
            check(where, node["Condition"], "condition", conditions)
    return problems
