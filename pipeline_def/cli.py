"""python -m pipeline_def {render,upsert} --env ENV

render: print the pipeline definition JSON. Offline: fake credentials, no network, no uploads.
upsert: upload the step scripts, create or update the pipeline (role, description, tags), and
        optionally start it. This is what buildspec.yaml runs in the upsert CodeBuild project.

All lookups (config, environment variables, the account for the bucket name) happen here;
pipeline.build_pipeline only assembles. Exit codes: 0 ok, 1 AWS error, 2 usage or config error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from infra import config
from infra.config import ConfigError, Project
from infra.names import OFFLINE_ACCOUNT, Names, for_env

# Rendering offline has no account: the bucket and role ARNs in the printed definition use this one.

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline_def", description="Render or upsert the SageMaker model-build pipeline.")
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="print the pipeline definition JSON (offline)")
    upsert = sub.add_parser("upsert", help="create or update the pipeline in SageMaker")
    for p in (render, upsert):
        p.add_argument("--env", default=os.environ.get("ENV_NAME"), required="ENV_NAME" not in os.environ,
                       help="environment from config/ (default: $ENV_NAME)")
        p.add_argument("--config-dir", default=str(config.CONFIG_DIR), help=argparse.SUPPRESS)
    upsert.add_argument("--role-arn", default=None, help="pipeline execution role (default: $SAGEMAKER_ROLE_ARN)")
    upsert.add_argument("--artifact-bucket", default=None, help="artifact bucket (default: $ARTIFACT_BUCKET, else <prefix>-<account>-<region>)")
    upsert.add_argument("--start", action="store_true", help="start an execution after the upsert and print its ARN")
    return parser


def load_names(env: str, config_dir: str) -> Names:
    project: Project = config.load(config_dir, only_env=env)
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


def render(names: Names) -> str:
    # Offline: no instance-metadata probes for region or credentials (upsert keeps them: EC2 hosts need them).
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    from pipeline_def import session as sm_session
    from pipeline_def.pipeline import build_pipeline

    region = names.env.region
    account = names.env.account_id or OFFLINE_ACCOUNT
    boto_session = sm_session.boto_session(region, offline=True)
    role_arn = role_arn_for(names, account, boto_session.get_partition_for_region(region))
    sess = sm_session.pipeline_session(boto_session, bucket_for(names, account, region))
    pipeline = build_pipeline(names, names.env, sess, role_arn=role_arn)
    return json.dumps(json.loads(pipeline.definition()), indent=2, sort_keys=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        names = load_names(args.env, args.config_dir)
        if args.command == "render":
            print(render(names))
            return 0
        from pipeline_def import upsert

        result = upsert.run(names, os.environ, role_arn=args.role_arn, bucket=args.artifact_bucket, start=args.start)
        for line in result:
            print(line)
        return 0
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except AwsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - anything else (the SDK's own errors) is still one line on stderr
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"error: {type(exc).__name__}: {first}"[:1000], file=sys.stderr)
        return 1
