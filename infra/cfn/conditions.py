"""Template conditions more than one stack uses."""
from __future__ import annotations

from troposphere import Equals, Ref, Template

# The env serves approved models (config `deployment`): its deployment roles, stack and pipeline stage exist.
HAS_DEPLOYMENT = "HasDeployment"


def add_deployment_condition(t: Template) -> None:
    t.add_condition(HAS_DEPLOYMENT, Equals(Ref("DeploymentEnabled"), "true"))
