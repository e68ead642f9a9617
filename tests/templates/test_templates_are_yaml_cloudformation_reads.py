"""Every rendered template is YAML that CloudFormation reads: no anchors or aliases (`&id001`, `*id001`), which its
parser rejects ("Template formats", CloudFormation User Guide: no aliases, no hash merges). A dumper writes them for
any object a template holds twice, e.g. a config list written in at two places: so the check runs on config/ and on
variants that turn every list on (tests/support/concrete_envs.py)."""
from __future__ import annotations

import yaml

from infra.output import render
from tests.support.concrete_envs import variant_renders


def alias_problems(rendered: dict[str, str]) -> list[str]:
    problems = []
    for path, text in sorted(rendered.items()):
        if not path.endswith(".yaml"):
            continue
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                problems.append(f"{path} line {event.start_mark.line + 1}: YAML anchor or alias")
                break
    return problems


def test_no_template_of_any_config_holds_an_anchor_or_alias(project, rendered):
    renders = {"config/": rendered, **{label: text for label, (_, text) in variant_renders(project).items()}}
    problems = [f"{label}: {p}" for label, files in renders.items() for p in alias_problems(files)]
    assert not problems, "\n".join(problems)


def test_a_value_a_template_holds_twice_is_written_out_twice():
    shared = ["arn:aws:iam::111111111111:role/a", "arn:aws:iam::111111111111:role/b"]
    text = render.template_text({"Resources": {"A": {"Principal": shared}, "B": {"Principal": shared}}})
    assert alias_problems({"t.yaml": text}) == [] and text.count("role/a") == 2
