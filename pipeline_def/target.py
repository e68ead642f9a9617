"""Where a command of this package points in AWS: the env's names from config, and the region, bucket and
role they imply, checked against what the caller's environment (CodeBuild's variables) says.

cli.py (argument parsing, exit codes) and upsert.py (the AWS calls) both use these; neither imports the other.
"""
from __future__ import annotations

import re

from infra import config
from infra.config import Project
from infra.config.names import Names, for_env

# Variables the upsert CodeBuild project sets, and the config-derived value each must equal.
CROSS_CHECKED = {
    "PROJECT_NAME": lambda n: n.project.name,
    "ENV_NAME": lambda n: n.env_name,
    "SAGEMAKER_PIPELINE_NAME": lambda n: n.sagemaker_pipeline,
    "MODEL_PACKAGE_GROUP_NAME": lambda n: n.model_package_group,
}


class UsageError(Exception):
    """Bad arguments, environment or config: exit 2."""


class AwsError(Exception):
    """AWS refused or could not be reached: exit 1."""


def load_names(env: str, config_dir: str) -> Names:
    # Every env: the one serving this env's versions from another account lists its instance types in each version.
    project: Project = config.load(config_dir)
    return for_env(project, env)


def cross_check(names: Names, environ: dict) -> None:
    """The CodeBuild project's variables must name what config names: a mismatch means drift."""
    for var, expected in CROSS_CHECKED.items():
        given = environ.get(var)
        if given is not None and given != expected(names):
            raise UsageError(f"${var} is '{given}' but config/ gives '{expected(names)}' for env {names.env_name}: the deployed stacks and config have drifted")


def resolve_region(names: Names, environ: dict) -> str:
    """CodeBuild's AWS_REGION (or the caller's default region), which must be the env's; else the env's."""
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or names.env.region
    if region != names.env.region:
        raise UsageError(f"region {region} (from AWS_REGION/AWS_DEFAULT_REGION) is not {names.env.region}, the region {names.env.file} sets for env {names.env_name}")
    return region


def role_arn_for(names: Names, account: str, partition: str) -> str:
    return f"arn:{partition}:iam::{account}:role{names.role_path}{names.sagemaker_execution_role}"


def bucket_for(names: Names, account: str, region: str) -> str:
    return f"{names.artifact_bucket_prefix}-{account}-{region}"


# What an offline render names as the artifact key: its id exists only once the pipeline stack is deployed.
OFFLINE_KEY_ID = "offline-render-artifact-key"


def offline_key_arn(names: Names, account: str, partition: str) -> str:
    return f"arn:{partition}:kms:{names.env.region}:{account}:key/{OFFLINE_KEY_ID}"


def check_key_arn(names: Names, key_arn: str) -> str:
    """The artifact key as S3's bucket policy compares it: a key ARN in the env's region, never an alias or bare id."""
    if not re.fullmatch(rf"arn:aws[a-z-]*:kms:{re.escape(names.env.region)}:[0-9]{{12}}:key/[A-Za-z0-9-]+", key_arn):
        raise UsageError(f"artifact key '{key_arn}' is not a KMS key ARN in {names.env.region} "
                         "(arn:<partition>:kms:<region>:<account>:key/<key id>; the bucket policy refuses any other form)")
    return key_arn
