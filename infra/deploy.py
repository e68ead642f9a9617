"""`make deploy` / `make diff`: bootstrap an environment, or preview every stack, from templates/.

    python -m infra.deploy deploy --env dev   # IAM, then pipeline: what must exist before the pipeline runs
    python -m infra.deploy diff --env dev     # a change set per stack, printed, never executed

Deploys go through change sets (so "no changes" is a clean no-op) with the env's generated parameter
file, its stack tags, and termination protection on. The notifications and KPI stacks are left to
the pipeline: the notifier's zip is in S3 only once Synth has run.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from infra import config, names as names_mod, render
from infra.pipeline import CAPABILITIES
from infra.stacks import BUILDERS

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP_STACKS = ("deploy-roles", "iam", "pipeline")
TEMPLATE_BODY_LIMIT = 51_200  # bytes CloudFormation accepts inline


class DeployError(Exception):
    """Anything that stops a deploy; printed as one line."""


def compact_body(yaml_text: str) -> str:
    """The template as compact JSON: the same document, small enough to send inline."""
    import cfn_flip

    body = json.dumps(json.loads(cfn_flip.to_json(yaml_text, clean_up=False)), separators=(",", ":"), sort_keys=True)
    if len(body.encode()) > TEMPLATE_BODY_LIMIT:
        raise DeployError(f"template is {len(body)} bytes even as compact JSON; CloudFormation takes {TEMPLATE_BODY_LIMIT} inline")
    return body


def stack_inputs(templates_dir: Path, stack: str, env: str) -> tuple[str, list[dict], list[dict]]:
    """(template body, Parameters, Tags) for one stack from the committed templates/."""
    template = templates_dir / f"{stack}.yaml"
    conf = templates_dir / env / f"{stack}.json"
    for path in (template, conf):
        if not path.is_file():
            raise DeployError(f"{path}: missing; run `make templates`")
    data = json.loads(conf.read_text(encoding="utf-8"))
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(data["Parameters"].items())]
    tags = [{"Key": k, "Value": v} for k, v in sorted(data.get("Tags", {}).items())]
    return compact_body(template.read_text(encoding="utf-8")), params, tags


def session(region: str):
    """A boto3 session with credentials, or DeployError before any API call."""
    try:
        import boto3
    except ImportError:
        raise DeployError("boto3 is not installed; run `make dev-venv`") from None
    s = boto3.Session(region_name=region)
    if s.get_credentials() is None:
        raise DeployError("no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); nothing was changed")
    return s


def check_account(s, env: config.Environment) -> None:
    if env.account_id:
        actual = s.client("sts").get_caller_identity()["Account"]
        if actual != env.account_id:
            raise DeployError(f"{env.file}: account_id: credentials are for account {actual}, config pins {env.account_id}")


def _stack_status(cfn, name: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def create_change_set(cfn, name: str, stack: str, body: str, params, tags) -> tuple[str, str, dict]:
    """Create a change set and wait for it; return (change set name, type, description)."""
    status = _stack_status(cfn, name)
    cs_type = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    cs_name = f"{stack}-{time.strftime('%Y%m%d%H%M%S')}"
    cfn.create_change_set(
        StackName=name, ChangeSetName=cs_name, ChangeSetType=cs_type, TemplateBody=body, Parameters=params, Tags=tags,
        Capabilities=CAPABILITIES[stack],
    )
    while True:
        desc = cfn.describe_change_set(StackName=name, ChangeSetName=cs_name)
        if desc["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return cs_name, cs_type, desc
        time.sleep(2)


def _no_changes(desc: dict) -> bool:
    reason = desc.get("StatusReason", "")
    return desc["Status"] == "FAILED" and ("didn't contain changes" in reason or "No updates are to be performed" in reason)


def describe_changes(desc: dict) -> list[str]:
    lines = []
    for change in desc.get("Changes", []):
        rc = change["ResourceChange"]
        replace = f" (replacement: {rc['Replacement']})" if rc.get("Replacement") else ""
        lines.append(f"  {rc['Action']:<8} {rc['LogicalResourceId']} {rc['ResourceType']}{replace}")
    return lines


def deploy_stack(cfn, name: str, stack: str, body: str, params, tags) -> None:
    cs_name, cs_type, desc = create_change_set(cfn, name, stack, body, params, tags)
    if _no_changes(desc):
        cfn.delete_change_set(StackName=name, ChangeSetName=cs_name)
        print(f"{name}: no changes")
    elif desc["Status"] == "FAILED":
        raise DeployError(f"{name}: change set failed: {desc.get('StatusReason', '?')}")
    else:
        print(f"{name}: {cs_type.lower()} with {len(desc.get('Changes', []))} change(s)")
        print("\n".join(describe_changes(desc)))
        cfn.execute_change_set(StackName=name, ChangeSetName=cs_name)
        waiter = "stack_create_complete" if cs_type == "CREATE" else "stack_update_complete"
        try:
            cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 10, "MaxAttempts": 360})
        except Exception as exc:  # noqa: BLE001 - the waiter's error names the final status
            raise DeployError(f"{name}: {cs_type.lower()} did not complete: {exc}") from None
    cfn.update_termination_protection(StackName=name, EnableTerminationProtection=True)


def apply_stack_policy(cfn, name: str, configuration: Path) -> None:
    """Set the TemplateConfiguration's StackPolicy, as the pipeline's CloudFormation actions do."""
    policy = json.loads(configuration.read_text(encoding="utf-8")).get("StackPolicy")
    if policy:
        cfn.set_stack_policy(StackName=name, StackPolicyBody=json.dumps(policy, sort_keys=True))


def diff_stack(cfn, name: str, stack: str, body: str, params, tags) -> None:
    try:
        cs_name, cs_type, desc = create_change_set(cfn, name, stack, body, params, tags)
    except Exception as exc:  # noqa: BLE001 - e.g. an import from a stack not deployed yet
        print(f"{name}: cannot preview: {exc}")
        return
    if _no_changes(desc):
        print(f"{name}: no changes")
    elif desc["Status"] == "FAILED":
        print(f"{name}: cannot preview: {desc.get('StatusReason', '?')}")
    else:
        verb = "would be created" if cs_type == "CREATE" else "would change"
        print(f"{name}: {verb} ({len(desc.get('Changes', []))} change(s))")
        print("\n".join(describe_changes(desc)))
    cfn.delete_change_set(StackName=name, ChangeSetName=cs_name)
    if cs_type == "CREATE":
        # A CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS; a preview leaves nothing.
        cfn.delete_stack(StackName=name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Bootstrap (deploy) or preview (diff) an environment's stacks")
    parser.add_argument("command", choices=("deploy", "diff"))
    parser.add_argument("--env", required=True)
    parser.add_argument("--templates", type=Path, default=ROOT / "templates", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        project = config.load(config.CONFIG_DIR)
        env = project.env(args.env)
        stale = render.stale(args.templates, render.render(project))
        if stale:
            raise DeployError(f"{len(stale)} file(s) in templates/ are stale; run `make templates` first")
        s = session(env.region)
        check_account(s, env)
        cfn = s.client("cloudformation")
        n = names_mod.for_env(project, env)
        stacks = BOOTSTRAP_STACKS if args.command == "deploy" else tuple(BUILDERS)
        for stack in stacks:
            body, params, tags = stack_inputs(args.templates, stack, env.name)
            (deploy_stack if args.command == "deploy" else diff_stack)(cfn, n.stack(stack), stack, body, params, tags)
            if args.command == "deploy":
                apply_stack_policy(cfn, n.stack(stack), args.templates / env.name / f"{stack}.json")
    except (config.ConfigError, DeployError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - botocore errors (access denied, throttling…) as one line
        if type(exc).__module__.startswith("botocore"):
            print(f"error: AWS: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 1
        raise
    if args.command == "deploy":
        print(f"{args.env}: bootstrap done; the pipeline deploys the notifications and KPI stacks on its first run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
