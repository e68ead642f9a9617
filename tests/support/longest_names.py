"""A project with the longest names config accepts: sizes that depend on names must fit with these too."""
from __future__ import annotations

import dataclasses
from types import MappingProxyType

from infra.config import loader
from infra.config import names as names_mod


def longest_project(project):
    """The loaded project renamed to the limits of the schema and of names.check_limits, with one env, which serves
    models (its serving roles and boundaries are the larger)."""
    env = next(iter(project.environments.values()))
    long_env = dataclasses.replace(
        env, name="e" * 10, account_id=None, release_approval=True,
        deployment=env.deployment or loader.deployment_settings("", {}),
        source=dataclasses.replace(env.source, repository="o" * 39 + "/" + "r" * 100),
    )
    longest = dataclasses.replace(
        project, name="p" * 40, short_name="s" * 12, sagemaker_pipeline_name="m" * 45,
        environments=MappingProxyType({long_env.name: long_env}),
    )
    names_mod.check_limits(longest, long_env, project_file="project.yaml")  # a config the loader would accept
    return longest
