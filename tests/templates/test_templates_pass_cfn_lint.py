"""cfn-lint, through its Python API, finds nothing in any template for the regions the config names."""
from __future__ import annotations

import pytest

from infra.stacks import BUILDERS
from tests.support.lint import lint_template


@pytest.mark.parametrize("stack", list(BUILDERS))
def test_template_is_cfn_lint_clean(rendered, project, stack):
    regions = [env.region for env in project.environments.values()]
    assert lint_template(rendered[f"{stack}.yaml"], regions) == []
