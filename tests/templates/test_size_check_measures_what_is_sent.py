"""Render's size check measures the document it wrote: the template it built is what its YAML reads back as.

Render holds each template to CloudFormation's limit from the document it built, not by reading its own YAML back
(infra/output/size_limits.py): that is the same size only while the YAML holds exactly that document.
"""
from __future__ import annotations

from infra.output import render, size_limits
from tests.support.cfn import load
from tests.support.concrete_envs import variant_renders


def test_each_template_render_measures_is_what_its_yaml_reads_back_as(project, monkeypatch):
    measured = []
    real_check = size_limits.check
    monkeypatch.setattr(size_limits, "check", lambda env, stack, text, template=None: (
        measured.append((f"{env.name}/{stack}", text, template)), real_check(env, stack, text, template))[-1])
    for variant in [project, *(p for p, _ in variant_renders(project).values())]:
        render.render(variant)
    assert measured and all(template is not None for _, _, template in measured)
    differ = [path for path, text, template in measured
              if size_limits.compact_json(template) != size_limits.compact_json(load(text))]
    assert not differ, f"render measured another document than it wrote for {differ}"
