"""Boundaries stack: the permissions boundaries every runtime role carries, one per kind of role.

Administrator-only, like the deploy roles and the IAM stack: `make deploy` creates and changes it, and the
pipeline never deploys it. What each boundary holds is computed from the runtime roles' own statements
(infra/iam/boundary.py). Deployed after the deploy roles and before the IAM stack, whose roles name these policies.
"""
from __future__ import annotations

from troposphere import Template

from infra.iam import boundary
from infra.cfn.mappings import add_image_registries
from infra.cfn.templates_common import new_template
from infra.config.names import Names


def build(n: Names) -> Template:
    t = new_template("Permissions boundaries of the SageMaker MLOps project's runtime roles; changed only by an administrator")
    for policy in boundary.managed_policies(n.env.source.type, n.env.deployment is not None, n.env.sample_data,
                                          bool(n.env.chat), n.models_source is not None, n.models_taker):
        t.add_resource(policy)
    add_image_registries(t, n.env.region)  # the registry account the image pulls name
    return t
