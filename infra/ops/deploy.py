"""`make deploy` / `make diff`: bootstrap an environment, or preview every stack, from templates/.

    python -m infra.ops.deploy deploy --env dev   # IAM, messaging, then pipeline: what must exist before the pipeline runs
    python -m infra.ops.deploy diff --env dev     # a change set per stack, printed, never executed

Deploys go through change sets (so "no changes" is a clean no-op) with the env's generated parameter
file, its stack tags, and termination protection on. The notifications and KPI stacks are left to
the pipeline: the notifier's zip is in S3 only once Synth has run.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from infra import config
from infra.config import names as names_mod
from infra.ops import promotion, quotas, subscriptions
from infra.output import render, size_limits
from infra.stacks.pipeline import CAPABILITIES
from infra import stacks

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP_STACKS = ("deploy-roles", "boundaries", "iam", "serving-iam", "messaging", "pipeline")
TEMPLATE_BODY_LIMIT = size_limits.TEMPLATE_BODY_LIMIT  # bytes CloudFormation accepts inline
CHANGE_SET_TIMEOUT_SECONDS = 600  # a change set is computed in seconds; this is a stuck one


class DeployError(Exception):
    """Anything that stops a deploy; printed as one line."""


def compact_body(yaml_text: str) -> str:
    """The template as compact JSON: the same document, small enough to send inline."""
    import cfn_flip

    body = size_limits.compact_json(json.loads(cfn_flip.to_json(yaml_text, clean_up=False)))
    if len(body.encode()) > TEMPLATE_BODY_LIMIT:
        raise DeployError(f"template is {len(body)} bytes even as compact JSON; CloudFormation takes {TEMPLATE_BODY_LIMIT} inline")
    return body


def stack_inputs(templates_dir: Path, stack: str, env: str) -> tuple[str, list[dict], list[dict]]:
    """(template body, Parameters, Tags) for one stack from the committed templates/."""
    template = templates_dir / env / f"{stack}.yaml"
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
    import botocore.session
    from botocore.config import Config

    # Bounded waits: an endpoint that accepts and never answers fails a call in under two minutes.
    core = botocore.session.get_session()
    # Four retries with backoff: the 3-hour follow loop polls every 5 s and must ride out throttling. An operator's
    # own max_attempts (AWS_MAX_ATTEMPTS, ~/.aws/config) wins: a Config value would silently override it.
    retries = {"mode": "standard"}
    if core.get_config_variable("max_attempts") is None:
        retries["max_attempts"] = 4
    core.set_default_client_config(Config(connect_timeout=10, read_timeout=20, retries=retries))
    s = boto3.Session(botocore_session=core, region_name=region)
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


def create_change_set(cfn, name: str, stack: str, body: str, params, tags, status: str | None,
                      role_arn: str | None = None) -> tuple[str, str, dict]:
    """Create a change set for a stack in `status` (None: no stack) and wait for it; return (name, type, description).

    Without `role_arn`, CloudFormation acts with the caller's credentials on a new stack, but with the role the
    stack was last deployed with on an existing one (for a stack the pipeline has updated: its deploy role)."""
    cs_type = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    cs_name = f"{stack}-{time.strftime('%Y%m%d%H%M%S')}"
    try:
        cfn.create_change_set(
            StackName=name, ChangeSetName=cs_name, ChangeSetType=cs_type, TemplateBody=body, Parameters=params, Tags=tags,
            Capabilities=CAPABILITIES[stack], **({"RoleARN": role_arn} if role_arn else {}),
        )
    except Exception as exc:  # noqa: BLE001
        if _error_code(exc) != "AlreadyExistsException":  # a retried call whose first try went through
            raise
    deadline = time.monotonic() + CHANGE_SET_TIMEOUT_SECONDS
    try:
        while True:
            desc = cfn.describe_change_set(StackName=name, ChangeSetName=cs_name)
            if desc["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return cs_name, cs_type, desc
            if time.monotonic() > deadline:
                raise DeployError(f"{name}: change set {cs_name} still {desc['Status']} after "
                                  f"{CHANGE_SET_TIMEOUT_SECONDS} s; nothing was executed")
            time.sleep(2)
    except Exception:
        # Throttled or cut off while waiting: take back what this call made before saying so.
        _clean_up(cfn, name, cs_name, created_stack=status is None)
        raise


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def _clean_up(cfn, name: str, cs_name: str, created_stack: bool) -> None:
    """Delete a change set, and the empty REVIEW_IN_PROGRESS stack a CREATE change set made; best effort."""
    try:
        cfn.delete_change_set(StackName=name, ChangeSetName=cs_name)
        if created_stack:
            cfn.delete_stack(StackName=name)
    except Exception:  # noqa: BLE001 - the original error is the one to report
        pass


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


def stack_role(cfn, name: str) -> str | None:
    """The service role CloudFormation uses for an existing stack, if any."""
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0].get("RoleARN")
    except Exception:  # noqa: BLE001 - no stack (or no answer): the change set call reports what matters
        return None


ADMIN_ROLE_DOC = "docs/operations.md#an-administrators-cloudformation-role-cfn_role_arn"


def deploy_stack(cfn, name: str, stack: str, body: str, params, tags, role_arn: str | None = None, env: str = "<env>") -> None:
    if _stack_status(cfn, name) == "ROLLBACK_COMPLETE":
        raise DeployError(f"{name} is in ROLLBACK_COMPLETE (its first creation failed) and cannot be updated: delete it "
                          f"(aws cloudformation delete-stack --stack-name {name}) and run make deploy again")
    held_by = None if role_arn else stack_role(cfn, name)
    if held_by:
        account = held_by.split(":")[4]
        print(f"{name}: CloudFormation acts as {held_by} (the role that last deployed it); a change that role may not "
              f"make (key, bucket, model-group or operations-topic policies, e-mail subscriptions) needs an administrator's role: make deploy "
              f"ENV={env} CFN_ROLE_ARN=arn:aws:iam::{account}:role/<role> (how to create it: {ADMIN_ROLE_DOC})", file=sys.stderr)
    cs_name, cs_type, desc = create_change_set(cfn, name, stack, body, params, tags, _stack_status(cfn, name), role_arn)
    if _no_changes(desc):
        cfn.delete_change_set(StackName=name, ChangeSetName=cs_name)
        print(f"{name}: no changes")
    elif desc["Status"] == "FAILED":
        raise DeployError(f"{name}: change set failed: {desc.get('StatusReason', '?')}")
    else:
        print(f"{name}: {cs_type.lower()} with {len(desc.get('Changes', []))} change(s)")
        print("\n".join(describe_changes(desc)))
        started = datetime.now(timezone.utc) - timedelta(seconds=EVENT_CLOCK_SKEW_SECONDS)
        try:
            cfn.execute_change_set(StackName=name, ChangeSetName=cs_name)
        except Exception as exc:  # noqa: BLE001
            if _error_code(exc) != "InvalidChangeSetStatus":  # a retried call whose first try started it
                raise
        follow(cfn, name, started)
    cfn.update_termination_protection(StackName=name, EnableTerminationProtection=True)


ROLE_ARN = re.compile(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,512}")

# Stack statuses that end an operation, and the ones among them that mean it worked.
FINAL = {"CREATE_COMPLETE", "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_COMPLETE", "UPDATE_FAILED",
         "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "DELETE_COMPLETE", "DELETE_FAILED"}
SUCCEEDED = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE"}
EVENT_CLOCK_SKEW_SECONDS = 5
POLL_SECONDS = 5
FOLLOW_TIMEOUT_SECONDS = 3 * 3600


def _event_line(event: dict) -> str:
    when = event["Timestamp"].strftime("%H:%M:%S") if hasattr(event["Timestamp"], "strftime") else str(event["Timestamp"])
    reason = f"  {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
    return f"  {when}  {event['ResourceStatus']:<28} {event['LogicalResourceId']} ({event['ResourceType']}){reason}"


def _new_events(cfn, name: str, since: datetime, seen: set[str]) -> list[dict]:
    """Events of this operation not printed yet, oldest first (the API lists newest first, in pages)."""
    fresh = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=name):
        for event in page["StackEvents"]:
            if event["Timestamp"] < since or event["EventId"] in seen:
                return list(reversed(fresh))
            fresh.append(event)
    return list(reversed(fresh))


def follow(cfn, name: str, since: datetime, sleep=time.sleep, now=time.monotonic) -> str:
    """Print the stack's events as they happen until the operation ends; return the final status.

    On failure, raise DeployError naming the first resource that failed and why (the cause, not the
    rollback that followed).
    """
    seen: set[str] = set()
    failures: list[dict] = []
    deadline = now() + FOLLOW_TIMEOUT_SECONDS
    while True:
        for event in _new_events(cfn, name, since, seen):
            seen.add(event["EventId"])
            print(_event_line(event), flush=True)
            if event["ResourceStatus"].endswith("_FAILED") and event["LogicalResourceId"] != name:
                failures.append(event)
        status = _stack_status(cfn, name) or "DELETE_COMPLETE"
        if status in FINAL:
            break
        if now() > deadline:
            raise DeployError(f"{name}: still {status} after {FOLLOW_TIMEOUT_SECONDS // 60} minutes; see the console")
        sleep(POLL_SECONDS)
    if status in SUCCEEDED:
        print(f"{name}: {status} ({len(seen)} event(s))")
        return status
    first = failures[0] if failures else None
    cause = (f"; first failure: {first['LogicalResourceId']} ({first['ResourceType']}): {first.get('ResourceStatusReason', '?')}"
             if first else "")
    raise DeployError(f"{name}: {status}{cause}")


def stack_policy_of(template: Path) -> dict | None:
    """The stack policy of a rendered template (infra/output/render.py stack_policy): what it retains may not be
    replaced or deleted. Computed here, never read from the TemplateConfiguration a pipeline passes."""
    import cfn_flip

    return render.stack_policy(json.loads(cfn_flip.to_json(template.read_text(encoding="utf-8"), clean_up=False)))


def apply_stack_policy(cfn, name: str, template: Path) -> None:
    """Set the stack's policy from its template. Only `make deploy` does: no role a push controls may
    (cloudformation:SetStackPolicy), and the pipelines' updates name none, which keeps the current one."""
    policy = stack_policy_of(template)
    if policy:
        cfn.set_stack_policy(StackName=name, StackPolicyBody=json.dumps(policy, sort_keys=True))


@dataclass(frozen=True)
class Preview:
    """What `make diff` learned about one stack. `failed` previews make the command exit non-zero."""

    name: str
    summary: str
    details: tuple[str, ...] = ()
    failed: bool = False


_MISSING_EXPORT = re.compile(r"No export named (\S+)")


def _waits_for(reason: str, missing_stacks: tuple[str, ...]) -> str | None:
    """The earlier stack (not created yet) whose export this change set needs, if that is why it failed."""
    match = _MISSING_EXPORT.search(reason)
    if not match:
        return None
    return next((stack for stack in missing_stacks if match.group(1).startswith(f"{stack}-")), None)


def diff_stack(cfn, name: str, stack: str, body: str, params, tags, status: str | None,
               missing_stacks: tuple[str, ...] = ()) -> Preview:
    """Preview one stack with a change set that is never executed, and leave nothing behind.

    A stack that does not exist yet previews as a creation; one that needs exports of an earlier stack
    that does not exist yet is reported as waiting for it. Anything else that stops the preview
    (no connection, access denied, an invalid template) is a failure.
    """
    try:
        cs_name, cs_type, desc = create_change_set(cfn, name, stack, body, params, tags, status)
    except Exception as exc:  # noqa: BLE001 - connection, access and validation errors alike
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        waits = _waits_for(reason, missing_stacks)
        if waits:
            return Preview(name, f"waits for {waits}, which does not exist yet")
        return Preview(name, f"cannot preview: {reason}", failed=True)
    try:
        reason = desc.get("StatusReason", "?")
        if _no_changes(desc):
            return Preview(name, "no changes")
        if desc["Status"] == "FAILED":
            waits = _waits_for(reason, missing_stacks)
            if waits:
                return Preview(name, f"waits for {waits}, which does not exist yet")
            return Preview(name, f"cannot preview: {reason}", failed=True)
        verb = "does not exist yet; would be created" if cs_type == "CREATE" else "would change"
        return Preview(name, f"{verb} ({len(desc.get('Changes', []))} change(s))", tuple(describe_changes(desc)))
    finally:
        # A CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS: delete it when this preview made it,
        # never one that was already there (someone else's pending creation).
        cfn.delete_change_set(StackName=name, ChangeSetName=cs_name)
        if status is None:
            cfn.delete_stack(StackName=name)


def _warn_about_quotas(s, n: names_mod.Names) -> None:
    """A quota short of the env's peak fails its first rollout only when SageMaker provisions the new fleet: say so
    now, in one line each (the bootstrap itself creates no endpoint, so it goes on)."""
    try:
        short = quotas.shortfalls(s.client("service-quotas"), s.client("sagemaker"), n)
    except Exception as exc:  # noqa: BLE001 - a quota that cannot be read must not stop the bootstrap
        if not type(exc).__module__.startswith("botocore"):
            raise
        short = [f"could not read the endpoint quotas: {str(exc).splitlines()[0]}"]
    for line in short:
        print(f"warning: {line}", file=sys.stderr)


def pending_subscriptions(s, n: names_mod.Names) -> list[str]:
    """One line per subscription of the env's topics still waiting for its owner's confirmation (until then that address
    hears nothing); a listing that fails is one line too, and does not fail the bootstrap that already happened."""
    try:
        return subscriptions.pending(s.client("sns"), n, s.client("sts").get_caller_identity()["Account"])
    except Exception as exc:  # noqa: BLE001 - botocore errors (access denied…) as one line
        if not type(exc).__module__.startswith("botocore"):
            raise
        return [f"could not list the topics' subscriptions: {str(exc).splitlines()[0]}"]


def bootstrap_stacks(env) -> list[str]:
    """The administrator's stacks the env renders, in deployment order (no serving-iam where it serves no models)."""
    return [stack for stack in BOOTSTRAP_STACKS if stack in stacks.of_env(env)]


def check_no_serving_stacks_left(cfn, n: names_mod.Names) -> None:
    """An env whose config serves no models must have none of the stacks serving needs left: its boundaries update
    would remove the serving boundary their roles still carry, and its messaging update the queue the deployment
    stack imports. DeployError naming them, before any stack changes."""
    if n.env.deployment is not None:
        return
    left = [n.stack(stack) for stack in reversed(stacks.SERVING_STACKS)
            if _stack_status(cfn, n.stack(stack)) not in (None, "DELETE_COMPLETE")]
    if left:
        raise DeployError(f"{n.env.file} serves no models, but {', '.join(left)} still exist: delete them first, in that "
                          "order, and the production endpoint (docs/deployment.md#stopping-removing-the-deployment-block-"
                          "does-not-delete-the-endpoints)")


def bootstrap_stack(cfn, n: names_mod.Names, stack: str, templates: Path, env_name: str, role_arn: str | None) -> None:
    """Deploy one administrator stack with its stack policy. CloudFormation enforces a stack's current policy when it
    executes a change set, and no change set can override it (ExecuteChangeSet, CloudFormation API reference): so an
    existing stack gets the new template's policy first, which still protects every retained resource the new
    template keeps, and no longer one it dropped (the deployment functions' queue of an env that stops serving,
    which its DeletionPolicy keeps)."""
    name, template = n.stack(stack), templates / env_name / f"{stack}.yaml"
    body, params, tags = stack_inputs(templates, stack, env_name)
    if _stack_status(cfn, name) not in (None, "REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"):
        apply_stack_policy(cfn, name, template)
    deploy_stack(cfn, name, stack, body, params, tags, role_arn, env_name)
    apply_stack_policy(cfn, name, template)


# The stacks the delivery pipeline deploys besides its own: it creates them on its first run, with no stack policy.
PIPELINE_CREATED_STACKS = tuple(stack for stack in names_mod.PIPELINE_STACKS if stack != "pipeline")


def protect_pipeline_created_stacks(cfn, n: names_mod.Names, templates: Path, env_name: str) -> list[str]:
    """Set the stack policy of each stack the pipeline created (as the env's templates have it); return those of the
    env's that do not exist yet (the pipeline has not run): the next `make deploy` protects them."""
    waiting = []
    for stack in (s for s in PIPELINE_CREATED_STACKS if s in stacks.of_env(n.env)):
        if _stack_status(cfn, n.stack(stack)) in (None, "REVIEW_IN_PROGRESS", "DELETE_COMPLETE"):
            waiting.append(n.stack(stack))
        else:
            apply_stack_policy(cfn, n.stack(stack), templates / env_name / f"{stack}.yaml")
    return waiting


def env_serves_models(env_name: str) -> bool:
    return config.load(only_env=env_name).env(env_name).deployment is not None


def previewed_stacks(names: names_mod.Names) -> list[str]:
    """The stacks `make diff` previews, in deployment order (see diff_all)."""
    return [stack for stack in stacks.of_env(names.env) if stack not in names_mod.ENDPOINT_STACKS]


def diff_all(cfn, names: names_mod.Names, templates: Path, env_name: str) -> list[Preview]:
    """Preview every stack of the env in deployment order, carrying on past failures to report them all. Not the
    endpoint stacks: the model-deployment pipeline deploys them with a resolved model version, which a preview from
    the committed placeholders (a placeholder version) would misstate; nor the deployment stack where the env serves none."""
    previews: list[Preview] = []
    missing: list[str] = []
    for stack in previewed_stacks(names):
        name = names.stack(stack)
        body, params, tags = stack_inputs(templates, stack, env_name)
        try:
            status = _stack_status(cfn, name)
        except Exception as exc:  # noqa: BLE001 - no connection, access denied…: this stack cannot be previewed
            preview = Preview(name, f"cannot preview: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", failed=True)
        else:
            preview = diff_stack(cfn, name, stack, body, params, tags, status, tuple(missing))
            if status in (None, "REVIEW_IN_PROGRESS"):
                missing.append(name)
        previews.append(preview)
        print(f"{name}: {preview.summary}")
        if preview.details:
            print("\n".join(preview.details))
    return previews


def diff_outcome(previews: list[Preview]) -> int:
    """0 when every stack was previewed (or waits for an earlier one); 1, with each reason on stderr, otherwise."""
    failed = [p for p in previews if p.failed]
    for preview in failed:
        print(f"error: {preview.name}: {preview.summary}", file=sys.stderr)
    if failed:
        print(f"error: {len(failed)} of {len(previews)} stack(s) could not be previewed", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Bootstrap (deploy) or preview (diff) an environment's stacks")
    parser.add_argument("command", choices=("deploy", "diff"))
    parser.add_argument("--env", required=True)
    parser.add_argument("--templates", type=Path, default=ROOT / "templates", help=argparse.SUPPRESS)
    parser.add_argument("--cfn-role-arn", default=None,
                        help="service role CloudFormation acts as for the bootstrap stacks (default: your credentials on "
                             "new stacks, the role that last deployed an existing one)")
    args = parser.parse_args(argv)
    try:
        if args.cfn_role_arn is not None and not ROLE_ARN.fullmatch(args.cfn_role_arn):
            raise DeployError(f"--cfn-role-arn: '{args.cfn_role_arn}' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
        project = config.load(config.CONFIG_DIR)
        env = project.env(args.env)
        stale = render.stale(args.templates, render.render(project))
        if stale:
            raise DeployError(f"{len(stale)} file(s) in templates/ are stale; run `make templates` first")
        s = session(env.region)
        check_account(s, env)
        cfn = s.client("cloudformation")
        n = names_mod.for_env(project, env)
        if args.command == "diff":
            return diff_outcome(diff_all(cfn, n, args.templates, env.name))
        missing = promotion.missing_grant(s.client("sagemaker"), n, s.get_partition_for_region(env.region))
        if missing:
            raise DeployError(missing)
        _warn_about_quotas(s, n)
        check_no_serving_stacks_left(cfn, n)
        for stack in bootstrap_stacks(env):
            bootstrap_stack(cfn, n, stack, args.templates, env.name, args.cfn_role_arn)
        unprotected = protect_pipeline_created_stacks(cfn, n, args.templates, env.name)
        waiting = pending_subscriptions(s, n)
    except (config.ConfigError, DeployError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - botocore errors (access denied, throttling…) as one line
        if type(exc).__module__.startswith("botocore"):
            print(f"error: AWS: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 1
        raise
    rest = "notifications, KPI and deployment stacks" if env_serves_models(args.env) else "notifications and KPI stacks"
    print(f"{args.env}: bootstrap done; the pipeline deploys the {rest} on its first run")
    for line in [*waiting, *filter(None, [promotion.taker_note(n)])]:
        print(f"note: {line}", file=sys.stderr)
    if unprotected:
        print(f"note: {', '.join(unprotected)} get their stack policy from the next `make deploy ENV={args.env}`, once the "
              "pipeline has created them (the pipeline sets no stack policy)", file=sys.stderr)
    if args.cfn_role_arn:
        print(f"note: CloudFormation keeps {args.cfn_role_arn} for every later operation on the stacks it deployed; "
              "whoever may update those stacks acts as that role. Deploy them again with your usual role to hand them back.",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
