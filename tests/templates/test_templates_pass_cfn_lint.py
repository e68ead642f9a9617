"""cfn-lint, through its Python API, finds nothing in any env's templates for that env's region.

The region each env is linted for is the one `make lint` uses (infra/ops/lint_regions.py: the env's region, or
us-east-1 for a region the pinned cfn-lint does not know yet).
"""
from __future__ import annotations

import pytest
from cfnlint.helpers import REGIONS

from infra.ops.lint_regions import lint_regions
from infra.cfn.source import SOURCE_TYPES
from tests.support.concrete_envs import ALL_OFF, all_on, variant_renders
from tests.support.lint import lint_template


@pytest.fixture(scope="module")
def lint_region():
    return lint_regions(set(REGIONS))[0]


def test_every_env_is_linted_for_its_own_region(project, lint_region):
    assert set(lint_region) == set(project.environments)
    for name, env in project.environments.items():
        assert lint_region[name] == (env.region if env.region in REGIONS else "us-east-1")


@pytest.mark.every_env_stack
def test_template_is_cfn_lint_clean(rendered, lint_region, env, stack):
    assert lint_template(rendered[f"{env}/{stack}.yaml"], [lint_region[env]]) == []


# What config turns on or off changes these templates: lint them as a config with every option on renders them
# (each source type for the stacks the source reaches), beyond what config/ turns on.
VARIANT_TEMPLATES = [*((all_on(t), stack) for t in SOURCE_TYPES for stack in ("pipeline", "iam", "boundaries")),
                     *((all_on("s3"), stack) for stack in ("kpi", "deployment", "staging-endpoint", "production-endpoint")),
                     (ALL_OFF, "pipeline")]


@pytest.mark.parametrize(("variant", "stack"), VARIANT_TEMPLATES, ids=[f"{v}-{s}" for v, s in VARIANT_TEMPLATES])
def test_a_config_with_every_option_on_renders_cfn_lint_clean_templates(project, variant, stack):
    variant_project, rendered = variant_renders(project)[variant]
    env = next(iter(variant_project.environments.values()))
    region = env.region if env.region in REGIONS else "us-east-1"
    assert lint_template(rendered[f"{env.name}/{stack}.yaml"], [region]) == []


def test_the_linter_the_tests_share_still_reports_after_a_clean_template(rendered, lint_region):
    """lint_template loads cfn-lint's rules once per process: a clean template linted before must not hide the
    errors of the next one."""
    env = next(iter(lint_region))
    assert lint_template(rendered[f"{env}/kpi.yaml"], [lint_region[env]]) == []
    broken = "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketNam: x\n"
    assert [e.split(" line")[0] for e in lint_template(broken, [lint_region[env]])] == ["E3002"]
