"""`make destroy ENV=…`: tear an environment down, in reverse deployment order, after a confirmation.

    python -m infra.ops.destroy --env dev                       # asks you to type the env's name
    python -m infra.ops.destroy --env dev --confirm dev         # automation (make destroy ENV=dev CONFIRM=dev)
    python -m infra.ops.destroy --env dev --confirm dev --purge-retained dev
                                                                # the data too (… PURGE=dev)

    python -m infra.ops.destroy --env dev --confirm dev --cfn-role-arn arn:aws:iam::<account>:role/<admin-cfn-role>
                                                                # once the pipeline has updated its own stack
    python -m infra.ops.destroy --env qa --region eu-west-1     # an env taken out of config/ (make destroy … REGION=…)

First it says what it will delete and what stays: the production endpoint and its autoscaling (the deployment
pipeline's rollout made them, not a stack: docs/endpoints.md), the stacks (production-endpoint … pipeline, messaging, serving-iam,
iam, boundaries, deploy-roles: the reverse of deployment, so nothing is deleted while another stack still imports
from it), the SageMaker
pipeline the upsert build made (outside CloudFormation), and the retained resources that outlive their stacks
(bucket, keys, model package group, queues, log groups), with their names. Retained resources are deleted only
with a second, separate confirmation: the bucket emptied of every version first, keys scheduled for deletion
after the shortest window KMS allows, the group's model versions and then the group.

An env no longer in config/ is found by the naming rule (infra/config/names.py: `<project>-<env>-<stack>`, from
project.yaml's current names); config no longer says its region, so the command asks for it (`--region`).
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass

from infra import config
from infra.config import names as names_mod
from infra.config.model import display_path
from infra.config.regions import KNOWN_REGIONS, SUPPORTED_PARTITIONS
from infra.config.schema import ENV_NAME
from infra.ops import deploy
from infra.ops.common import OpsError, aws_session, run
from infra.stacks import BUILDERS
from infra.cfn.templates_common import RETAINED
from infra.parts.endpoint import VARIANT as ENDPOINT_VARIANT

KEY_DELETION_DAYS = 7  # the shortest pending window KMS accepts


@dataclass(frozen=True)
class Retained:
    stack: str
    logical_id: str
    resource_type: str
    physical_id: str

    def __str__(self) -> str:
        return f"{self.resource_type:<34} {self.physical_id}  ({self.stack}.yaml {self.logical_id})"


def _retained_in_deployed_template(cfn, stack_name: str) -> set[str]:
    """Logical IDs the deployed template keeps when its stack is deleted (DeletionPolicy Retain…): what CloudFormation
    will keep, whatever the committed templates say now (an older version, an env gone from config)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    # Short-form intrinsics (!Ref, !Sub…) are irrelevant here: read them as plain values.
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    body = cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    # boto3 hands back a JSON body (what make deploy sends) already parsed, a YAML one (the pipeline's) as text.
    template = body if isinstance(body, dict) else yaml.load(body, Loader=Loader)  # noqa: S506
    return {k for k, r in template.get("Resources", {}).items() if isinstance(r, dict) and r.get("DeletionPolicy") in RETAINED}


@dataclass
class Plan:
    stacks: list[str]
    retained: list[Retained]
    sagemaker_pipeline: str | None
    # The role the pipeline stack acts as: once the pipeline has updated it, its deploy role, which may not delete what
    # only an administrator changes (the bucket's and the operations topic's policies, the topic's subscriptions).
    pipeline_acts_as: str | None = None
    # The production endpoint, if any: the deployment pipeline's rollout creates it, so no stack deletes it.
    production_endpoint: str | None = None

    def lines(self, purge: bool = False) -> list[str]:
        out = ["Will delete, in this order:"]
        if self.sagemaker_pipeline:
            out.append(f"  SageMaker pipeline {self.sagemaker_pipeline} (stopping running executions)")
        if self.production_endpoint:
            out.append(f"  SageMaker endpoint {self.production_endpoint} and its autoscaling (made by the model-deployment "
                       "pipeline, in no stack)")
        out += [f"  stack {name}" for name in self.stacks] or ["  no stack: none is deployed"]
        if purge:
            out.append("Then, with PURGE, will also DELETE the retained data:" if self.retained else "Nothing retained.")
        else:
            out.append("Will keep (retained, holding data):" if self.retained else "Nothing retained.")
        out += [f"  {r}" for r in self.retained]
        return out


def plan(cfn, sm, n) -> Plan:
    stacks, retained, pipeline_acts_as = [], [], None
    for stack in reversed(list(BUILDERS)):
        name = n.stack(stack)
        if deploy._stack_status(cfn, name) is None:
            continue
        stacks.append(name)
        if stack == "pipeline":
            pipeline_acts_as = cfn.describe_stacks(StackName=name)["Stacks"][0].get("RoleARN")
        keep = _retained_in_deployed_template(cfn, name)
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
            for summary in page["StackResourceSummaries"]:
                if summary["LogicalResourceId"] in keep and summary.get("PhysicalResourceId"):
                    retained.append(Retained(stack, summary["LogicalResourceId"], summary["ResourceType"],
                                             summary["PhysicalResourceId"]))
    try:
        sm.describe_pipeline(PipelineName=n.sagemaker_pipeline)
        pipeline = n.sagemaker_pipeline
    except Exception as exc:  # noqa: BLE001 - not there is fine; anything else is reported by the caller
        if "does not exist" not in str(exc) and "Could not find" not in str(exc) and "ResourceNotFound" not in str(exc):
            raise
        pipeline = None
    return Plan(stacks, retained, pipeline, pipeline_acts_as, _production_endpoint(sm, n))


def _production_endpoint(sm, n) -> str | None:
    # Looked up even where config has no deployment block: it may have had one, or the env may be gone from config.
    try:
        sm.describe_endpoint(EndpointName=n.production_endpoint)
    except Exception as exc:  # noqa: BLE001 - not there is fine; anything else is reported by the caller
        if "Could not find" not in str(exc) and "does not exist" not in str(exc):
            raise
        return None
    return n.production_endpoint


def delete_production_endpoint(sm, scaling, name: str) -> None:
    """Its scalable target first (Application Auto Scaling keeps it, and its alarms, after the endpoint goes), then the
    endpoint, waited for: the production stack's deletion then removes the config it ran on."""
    resource_id = f"endpoint/{name}/variant/{ENDPOINT_VARIANT}"
    if scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource_id])["ScalableTargets"]:
        scaling.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource_id,
                                           ScalableDimension="sagemaker:variant:DesiredInstanceCount")
    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=name)
    print(f"SageMaker endpoint {name}: deleted")


def removed_env(project: config.Project, name: str, region: str) -> tuple[config.Environment, names_mod.Names]:
    """An env config no longer lists, named as when it was deployed: only its name and region matter to destroy."""
    if not re.fullmatch(ENV_NAME["pattern"], name) or len(name) > ENV_NAME["maxLength"]:
        raise OpsError(f"ENV: '{name}' is not an env name ({ENV_NAME['x-expect']}, at most {ENV_NAME['maxLength']} characters)")
    if KNOWN_REGIONS.get(region) not in SUPPORTED_PARTITIONS:
        raise OpsError(f"REGION: '{region}' is not an AWS region this project deploys to (infra/config/regions.py)")
    env = config.Environment(
        name=name, file=display_path(config.CONFIG_DIR / "project.yaml"), region=region, account_id=None, source=config.Source(type=""),
        emails=(), statuses=(), processing_instance_type="", training_instance_type="", model_approval_threshold=0.0,
        crawler_schedule="", athena_bytes_scanned_cutoff=0, quicksight_principals=(), analyst_principals=(),
        log_retention_days=0, tags={})
    return env, names_mod.for_env(project, env)


def env_to_destroy(name: str, region: str | None) -> tuple[config.Environment, names_mod.Names, bool]:
    """(env, names, whether config still lists it). A configured env's region is config's; a removed env's is asked."""
    project = config.load(config.CONFIG_DIR)
    if name in project.environments:
        env = project.env(name)
        if region not in (None, env.region):
            raise OpsError(f"REGION={region}, but {env.file} puts env {name} in {env.region}: nothing was deleted")
        return env, names_mod.for_env(project, env), True
    if region is None and sys.stdin.isatty():
        try:
            region = input(f"config/ no longer lists env {name!r}; its stacks are found by name. Its region: ").strip()
        except EOFError:
            region = None
    if not region:
        raise OpsError(f"env '{name}' is not in config/project.yaml (configured: {', '.join(project.environments)}); to destroy "
                       f"the stacks it left, name its region: make destroy ENV={name} REGION=<region>")
    return (*removed_env(project, name, region), False)


def delete_sagemaker_pipeline(sm, name: str) -> None:
    for page in sm.get_paginator("list_pipeline_executions").paginate(PipelineName=name):
        for execution in page["PipelineExecutionSummaries"]:
            if execution.get("PipelineExecutionStatus") in ("Executing", "Stopping"):
                sm.stop_pipeline_execution(PipelineExecutionArn=execution["PipelineExecutionArn"])
    sm.delete_pipeline(PipelineName=name)
    print(f"SageMaker pipeline {name}: deleted")


def delete_stacks(cfn, names: list[str], role_arn: str | None = None) -> None:
    """`role_arn`: the CloudFormation service role to delete as (else each stack's own, or the caller's)."""
    from datetime import datetime, timedelta, timezone

    for name in names:
        cfn.update_termination_protection(StackName=name, EnableTerminationProtection=False)
        started = datetime.now(timezone.utc) - timedelta(seconds=deploy.EVENT_CLOCK_SKEW_SECONDS)
        cfn.delete_stack(StackName=name, **({"RoleARN": role_arn} if role_arn else {}))
        print(f"{name}: deleting")
        deploy.follow(cfn, name, started)


def empty_and_delete_bucket(s3, bucket: str) -> int:
    """Every object version and delete marker, then the bucket; returns how many versions went."""
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]} for kind in ("Versions", "DeleteMarkers") for v in page.get(kind, [])]
        for start in range(0, len(doomed), 1000):  # DeleteObjects takes 1,000 keys a call
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start:start + 1000], "Quiet": True})
        removed += len(doomed)
    s3.delete_bucket(Bucket=bucket)
    return removed


def purge(clients: dict, retained: list[Retained]) -> None:
    for r in retained:
        if r.resource_type == "AWS::S3::Bucket":
            print(f"bucket {r.physical_id}: {empty_and_delete_bucket(clients['s3'], r.physical_id)} object version(s) and the bucket deleted")
        elif r.resource_type == "AWS::KMS::Key":
            clients["kms"].schedule_key_deletion(KeyId=r.physical_id, PendingWindowInDays=KEY_DELETION_DAYS)
            print(f"key {r.physical_id}: deletion scheduled in {KEY_DELETION_DAYS} days (cancel with aws kms cancel-key-deletion)")
        elif r.resource_type == "AWS::SageMaker::ModelPackageGroup":
            sm = clients["sagemaker"]
            for page in sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=r.physical_id):
                for package in page["ModelPackageSummaryList"]:
                    sm.delete_model_package(ModelPackageName=package["ModelPackageArn"])
            sm.delete_model_package_group(ModelPackageGroupName=r.physical_id)
            print(f"model package group {r.physical_id}: its versions and the group deleted")
        elif r.resource_type == "AWS::SQS::Queue":
            clients["sqs"].delete_queue(QueueUrl=r.physical_id)  # a queue's physical ID is its URL
            print(f"queue {r.physical_id}: deleted")
        elif r.resource_type == "AWS::Logs::LogGroup":
            clients["logs"].delete_log_group(logGroupName=r.physical_id)
            print(f"log group {r.physical_id}: deleted")
        else:
            raise OpsError(f"{r}: no way to delete a retained {r.resource_type} yet; delete it by hand")


def confirmed(given: str | None, expected: str, question: str) -> bool:
    """The expected word, given on the command line or typed at a terminal; never assumed."""
    if given is not None:
        return given == expected
    if not sys.stdin.isatty():
        return False
    try:
        return input(f"{question} Type {expected!r} to go on: ").strip() == expected
    except EOFError:  # Ctrl-D: an answer, and not the expected one
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.ops.destroy", description="Tear an environment down")
    parser.add_argument("--env", required=True)
    parser.add_argument("--region", help="the env's region: needed only for an env config no longer lists (make destroy REGION=…)")
    parser.add_argument("--confirm", help="the env's name: confirms without a prompt (make destroy CONFIRM=<env>)")
    parser.add_argument("--purge-retained", metavar="ENV", help="also delete the retained data; the env's name again")
    parser.add_argument("--cfn-role-arn", default=None,
                        help="service role CloudFormation deletes the stacks as (needed once the pipeline has updated "
                             "its own stack: its deploy role may not delete the bucket's or the topic's policy)")
    args = parser.parse_args(argv)

    def command() -> int:
        env, n, configured = env_to_destroy(args.env, args.region)
        purging = args.purge_retained is not None
        if purging and args.purge_retained != n.env_name:  # before any AWS call or prompt
            raise OpsError(f"PURGE must be the env's name ({n.env_name!r}) to delete its data: nothing was deleted")
        if args.cfn_role_arn is not None and not deploy.ROLE_ARN.fullmatch(args.cfn_role_arn):
            raise OpsError(f"CFN_ROLE_ARN: '{args.cfn_role_arn}' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>): "
                           "nothing was deleted")
        s = aws_session(env)
        clients = {service: s.client(service) for service in ("cloudformation", "sagemaker", "s3", "kms", "sqs", "logs",
                                                              "application-autoscaling")}
        the_plan = plan(clients["cloudformation"], clients["sagemaker"], n)
        if args.cfn_role_arn is None and (the_plan.pipeline_acts_as or "").endswith(f"/{n.deploy_role('pipeline')}"):
            raise OpsError(f"the pipeline stack acts as {the_plan.pipeline_acts_as}, which may not delete the artifact "
                           "bucket's and the operations topic's policies: pass CFN_ROLE_ARN=<an administrator's "
                           "CloudFormation role> (the one make deploy used): nothing was deleted")
        if not configured:
            print(f"env {n.env_name} is no longer in config/: looking for its stacks by name ({n.stack('pipeline')} …) in "
                  f"{env.region}; names from project.yaml as it is now (after a rename, the old names are not found)")
        print("\n".join(the_plan.lines(purge=purging)))
        if not confirmed(args.confirm, n.env_name, f"This deletes the {n.env_name} environment's stacks."):
            raise OpsError(f"not confirmed: nothing was deleted (type {n.env_name!r}, or pass CONFIRM={n.env_name})")
        # The data's own confirmation: PURGE=<env> given with CONFIRM, or typed separately at a terminal.
        if purging and the_plan.retained and args.confirm is None and not confirmed(
                None, f"delete {n.env_name} data", "This also deletes the retained data listed above, every version."):
            raise OpsError("data deletion not confirmed: nothing was deleted")
        if the_plan.sagemaker_pipeline:
            delete_sagemaker_pipeline(clients["sagemaker"], the_plan.sagemaker_pipeline)
        if the_plan.production_endpoint:
            delete_production_endpoint(clients["sagemaker"], clients["application-autoscaling"], the_plan.production_endpoint)
        delete_stacks(clients["cloudformation"], the_plan.stacks, args.cfn_role_arn)
        if args.purge_retained is None:
            if the_plan.retained:
                print(f"Kept {len(the_plan.retained)} retained resource(s) listed above; delete them with PURGE={n.env_name}.")
            return 0
        purge(clients, the_plan.retained)
        return 0

    return run(command)


if __name__ == "__main__":
    raise SystemExit(main())
