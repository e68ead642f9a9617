"""A template that uses a transform uses only what that transform accepts.

cfn-lint and checkov do not know what a transform refuses at deploy time. `AWS::LanguageExtensions`
rejects `DeletionPolicy: RetainExceptOnCreate` ("Unrecognized DeletionPolicy RetainExceptOnCreate",
aws-cloudformation/cfn-language-discussion#139), which notifications.yaml once combined with it. The
table below keeps each known limit; a transform that is not in it is refused until its limits are written
down here.
"""
from __future__ import annotations

import pytest

from infra.stacks import BUILDERS
from tests.support.cfn import as_list, load

# transform -> {resource attribute: values the transform refuses}
KNOWN_LIMITS: dict[str, dict[str, frozenset[str]]] = {
    "AWS::LanguageExtensions": {
        "DeletionPolicy": frozenset({"RetainExceptOnCreate"}),
        "UpdateReplacePolicy": frozenset({"RetainExceptOnCreate"}),
    },
}


def transform_problems(template_text: str, label: str) -> list[str]:
    template = load(template_text)
    problems = []
    for transform in as_list(template.get("Transform", [])):
        name = transform if isinstance(transform, str) else transform.get("Name")
        limits = KNOWN_LIMITS.get(name)
        if limits is None:
            problems.append(f"{label}: transform {name} has no known limits in tests/templates/test_transform_limits.py; write them down first")
            continue
        for logical_id, resource in sorted(template.get("Resources", {}).items()):
            for attribute, refused in limits.items():
                if isinstance(resource, dict) and resource.get(attribute) in refused:
                    problems.append(f"{label}: {logical_id} {attribute}: {resource[attribute]} is refused by {name}")
    return problems


@pytest.mark.every_env_stack
def test_each_template_uses_only_what_its_transforms_accept(rendered, env, stack):
    problems = transform_problems(rendered[f"{env}/{stack}.yaml"], f"{env}/{stack}.yaml")
    assert not problems, "\n".join(problems)


@pytest.mark.every_env
def test_no_template_needs_a_transform(rendered, env):
    """Raw CloudFormation: nothing expands at deploy time, no CAPABILITY_AUTO_EXPAND, nothing to allow for it."""
    assert [stack for stack in BUILDERS if f"{env}/{stack}.yaml" in rendered and "Transform" in load(rendered[f"{env}/{stack}.yaml"])] == []


def test_language_extensions_with_retain_except_on_create_is_refused():
    text = (
        "Transform: AWS::LanguageExtensions\n"
        "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    DeletionPolicy: RetainExceptOnCreate\n"
    )
    assert transform_problems(text, "t.yaml") == [
        "t.yaml: Queue DeletionPolicy: RetainExceptOnCreate is refused by AWS::LanguageExtensions"]


def test_a_transform_without_written_limits_is_refused():
    text = "Transform: [AWS::Serverless-2016-10-31]\nResources: {}\n"
    assert "has no known limits" in transform_problems(text, "t.yaml")[0]
