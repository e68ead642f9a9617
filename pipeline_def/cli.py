"""python -m pipeline_def {render,upsert,start,train-local,sample-data} …

render:      print the pipeline definition JSON. Offline: fake credentials, no network, no uploads.
upsert:      upload the step scripts (and, into an empty input location, the sample data), create or
             update the pipeline (role, description, tags), and start it when config or --start says so.
             This is what buildspec.yaml runs in the upsert CodeBuild project.
start:       start an execution of the env's pipeline; print its ARN and console link (`make run`).
train-local: rehearse an execution on this machine with the real step scripts (`make train-local`).
sample-data: write the generated sample dataset (pipeline_def/sample_data.py) to a file.

All lookups (config, environment variables, the account for the bucket name) happen here;
pipeline.build_pipeline only assembles. Exit codes: 0 ok, 1 AWS error, 2 usage or config error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from infra.config import CONFIG_DIR, ConfigError
from infra.config.names import OFFLINE_ACCOUNT, Names
from pipeline_def.target import AwsError, UsageError, bucket_for, load_names, offline_key_arn, role_arn_for



def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline_def", description="Render or upsert the SageMaker model-build pipeline.")
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="print the pipeline definition JSON (offline)")
    upsert = sub.add_parser("upsert", help="create or update the pipeline in SageMaker")
    for p in (render, upsert):
        p.add_argument("--env", default=os.environ.get("ENV_NAME"), required="ENV_NAME" not in os.environ,
                       help="environment from config/ (default: $ENV_NAME)")
        p.add_argument("--config-dir", default=str(CONFIG_DIR), help=argparse.SUPPRESS)
    upsert.add_argument("--role-arn", default=None, help="pipeline execution role (default: $SAGEMAKER_ROLE_ARN)")
    upsert.add_argument("--artifact-bucket", default=None, help="artifact bucket (default: $ARTIFACT_BUCKET, else <prefix>-<account>-<region>)")
    upsert.add_argument("--artifact-key-arn", default=None, help="the artifact key's ARN (default: $ARTIFACT_KEY_ARN, else the key behind the env's alias)")
    upsert.add_argument("--start", action="store_true", help="start an execution after the upsert, whatever config says")
    start = sub.add_parser("start", help="start an execution; print its ARN and console link")
    local = sub.add_parser("train-local", help="rehearse an execution offline with the real step scripts")
    for p in (start, local):
        p.add_argument("--env", default=os.environ.get("ENV_NAME"), required="ENV_NAME" not in os.environ,
                       help="environment from config/ (default: $ENV_NAME)")
        p.add_argument("--config-dir", default=str(CONFIG_DIR), help=argparse.SUPPRESS)
    local.add_argument("--input", type=Path, default=None, help="a CSV file to use instead of the generated sample")
    local.add_argument("--workdir", type=Path, default=None, help="keep the step outputs here (default: a temporary folder, removed)")
    local.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="override a pipeline parameter's default (e.g. --param TargetColumn=churn)")
    sample = sub.add_parser("sample-data", help="write the generated sample dataset (CSV) to a file")
    sample.add_argument("--out", type=Path, required=True)
    sample.add_argument("--rows", type=int, default=None, help=argparse.SUPPRESS)
    sample.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def _overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--param '{pair}' is not NAME=VALUE")
        out[name] = value
    return out


def _sample_data(out: Path, rows: int | None, seed: int | None) -> str:
    from pipeline_def import sample_data

    import os
    import tempfile

    if rows is not None and rows < 1:
        raise UsageError(f"--rows must be at least 1, got {rows}")
    data = sample_data.csv_bytes(rows or sample_data.DEFAULT_ROWS, sample_data.DEFAULT_SEED if seed is None else seed)
    tmp = None
    try:
        if out.is_symlink() or (out.exists() and not out.is_file()):
            raise UsageError(f"--out {out}: not a regular file; give a new or regular file's path")
        # A fresh name beside the target (never a predictable one a symlink could wait at), then one rename.
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent if str(out.parent) else ".")
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; the data is public, the file as any other the user makes
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, out)  # nothing half-written
        tmp = None
    except OSError as exc:
        raise UsageError(f"--out {out}: {exc.strerror}") from None
    finally:
        if tmp:  # failed or interrupted (Ctrl-C) before the rename: leave nothing behind
            Path(tmp).unlink(missing_ok=True)
    return f"wrote {out} ({len(data)} bytes, license {sample_data.LICENSE})"


def render(names: Names) -> str:
    return json.dumps(json.loads(definition_json(names)), indent=2, sort_keys=True)


def definition_json(names: Names, key_arn: str | None = None) -> str:
    """The definition as upsert would send it; offline, the artifact key's id is a placeholder unless given."""
    # Offline: no instance-metadata probes for region or credentials (upsert keeps them: EC2 hosts need them).
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    from pipeline_def import session as sm_session
    from pipeline_def.pipeline import build_pipeline

    region = names.env.region
    account = names.env.account_id or OFFLINE_ACCOUNT
    boto_session = sm_session.boto_session(region, offline=True)
    partition = boto_session.get_partition_for_region(region)
    role_arn = role_arn_for(names, account, partition)
    sess = sm_session.pipeline_session(boto_session, bucket_for(names, account, region))
    return build_pipeline(names, names.env, sess, role_arn=role_arn, key_arn=key_arn or offline_key_arn(names, account, partition)).definition()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "sample-data":
            print(_sample_data(args.out, args.rows, args.seed))
            return 0
        names = load_names(args.env, args.config_dir)
        if args.command == "render":
            print(render(names))
            return 0
        if args.command == "train-local":
            overrides = _overrides(args.param)
            definition = json.loads(definition_json(names))  # first: it sets the SDK up quietly
            from pipeline_def import local

            try:
                return local.run(names, definition, input_file=args.input, workdir=args.workdir, overrides=overrides)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        from pipeline_def import upsert

        if args.command == "start":
            result = upsert.start_only(names, os.environ)
        else:
            result = upsert.run(names, os.environ, role_arn=args.role_arn, bucket=args.artifact_bucket,
                                key_arn=args.artifact_key_arn, start=args.start)
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
