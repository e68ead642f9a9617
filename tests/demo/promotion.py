"""`make demo SCENARIO=promotion`: a version built and approved in one account, served from another (docs/promotion.md).

The source env A trains, registers and approves in account A as the approval demo does (run.Demo's steps); the
decision crosses to account B as A's rendered PromotionRule and B's rendered bus policy say; A's pin function tags the
archive; B's Resolve, staging and smoke test run (their code, with B's rendered environment variables) as B's roles,
every call they make on A's resources decided by both sides' rendered policies (accounts.Gate); B's model role reads
the archive, which must be, byte for byte, what A's training wrote.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from unittest import mock

from infra.config.names import for_env
from tests.demo import accounts, sagemaker_events, serving
from tests.demo import wiring as wiring_mod
from tests.demo.progress import Broken
from tests.demo.run import Demo
from tests.support import policy_eval
from tests.support.resolve import resolve_all
from tests.support.s3 import create_bucket

EMULATED = """\
What the promotion rehearsal proves and what it does not:
  real:     both envs' rendered templates (the pair's rule, bus and its policy, the group, bucket and key policies, B's
            roles and boundaries, each function's environment), the model A's training code wrote, the pin function,
            Resolve and the smoke test (lambda_src/, in-process), and every call B's code makes on A's resources,
            allowed only where B's identity policy, its boundary and A's resource policy all allow it (as IAM decides
            a cross-account call; tests/support/policy_eval.py, which knows the condition operators we use).
  emulated: two accounts on one moto, switched per call (MOTO_ACCOUNT_ID); moto evaluates no policy, finds another
            account's model packages and object tags only in that account's backend (the demo sends B's calls on
            A's registry and bucket there), and encrypts nothing (the kms:Decrypt S3 would make for each read of A's archive is decided, not done).
            EventBridge's delivery across accounts is played: the event must match A's rule, the PutEvents must be
            allowed by A's promotion role and B's bus policy, and the event must match B's deployment rule.
  not done: no stack is deployed, no STS session or real IAM evaluation, SageMaker hosting does not pull the archive
            (the model role's read of it stands in); the production stages are the approval demo's (make demo)."""


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def pair(project, env_name: str):
    """(source env, serving env) of the project's promotion involving `env_name`, else its first; None: no pair."""
    pairs = [(project.env(e.deployment.models_from), e) for e in project.environments.values()
             if e.deployment and e.deployment.models_from]
    return next((p for p in pairs if env_name in (p[0].name, p[1].name)), pairs[0] if pairs else None)


def _where(stacks, rtype: str, key: str, value: str, *stack_keys: str) -> tuple[str, dict]:
    """(logical ID, evaluated properties) of the one resource of `rtype` whose `key` is `value`."""
    found = [(lid, res["Properties"]) for s in stack_keys if s in stacks
             for lid, res in stacks[s].resources(rtype).items() if res["Properties"].get(key) == value]
    if len(found) != 1:
        raise Broken(f"{'/'.join(stack_keys)}.yaml: {len(found)} {rtype} with {key} {value}; the rehearsal expects one")
    return found[0]


def _identities(stacks, account: str) -> dict[str, accounts.Identity]:
    boundaries = {props["ManagedPolicyName"]: props["PolicyDocument"]
                  for res in stacks["boundaries"].resources("AWS::IAM::ManagedPolicy").values()
                  for props in [res["Properties"]]}
    out = {}
    for stack in stacks.values():
        for res in stack.resources("AWS::IAM::Role").values():
            props = res["Properties"]
            arn = f"arn:aws:iam::{account}:role{props.get('Path', '/')}{props['RoleName']}"
            boundary = props.get("PermissionsBoundary")
            out[arn] = accounts.Identity(arn, [p["PolicyDocument"] for p in props.get("Policies", [])],
                                         boundaries[boundary.rsplit("/", 1)[1]] if boundary else None)
    return out


class Promotion(Demo):
    """run.Demo for the source env (self.env, self.w: A), with `self.b`, a Demo of the serving env, for B's steps."""

    def __init__(self, project, source, taker, progress):
        super().__init__(project, source, progress)
        self.b = Demo(project, taker, progress)
        self.a_names, self.b_names = for_env(project, source), for_env(project, taker)

    # -- steps --------------------------------------------------------------------------------
    def load_pair(self, row):
        a, b = self.env, self.b.env
        self.p.say(f"A, the source env {a.name}: account {a.account_id}, region {a.region} (builds and approves)")
        self.p.say(f"B, the serving env {b.name}: account {b.account_id}, region {b.region}, {b.file} deployment.models_from: {a.name}")
        row.result = f"{a.name} (account {a.account_id}) -> {b.name} (account {b.account_id})"

    def render(self, row):
        from infra.output import render

        self.rendered = render.render(self.project)
        row.result = f"{len(self.rendered)} files"

    def read_pair(self, row):
        from infra.stacks import BUILDERS

        self.w = wiring_mod.read(self.rendered, self.project, self.env)
        self.b.w = wiring_mod.read(self.rendered, self.project, self.b.env)
        a_stacks = resolve_all(self.rendered, self.project, self.env.name, list(BUILDERS))
        b_stacks = resolve_all(self.rendered, self.project, self.b.env.name, list(BUILDERS))
        an, bn = self.a_names, self.b_names
        _, self.promotion_rule = _where(a_stacks, "AWS::Events::Rule", "Name", an.promotion_rule, "messaging")
        _, role = _where(a_stacks, "AWS::IAM::Role", "RoleName", an.promotion_role, "iam")
        self.a_identities = _identities(a_stacks, self.env.account_id)
        self.promotion_role_arn = f"arn:aws:iam::{self.env.account_id}:role{role.get('Path', '/')}{role['RoleName']}"
        _, bus = _where(b_stacks, "AWS::Events::EventBus", "Name", bn.promotion_bus, "messaging")
        self.bus_arn = f"arn:aws:events:{self.b.env.region}:{self.b.env.account_id}:event-bus/{bn.promotion_bus}"
        self.bus_policy = bus["Policy"]
        _, self.deployment_rule = _where(b_stacks, "AWS::Events::Rule", "Name", bn.deployment_rule, "deployment")
        pin_id, pin = _where(a_stacks, "AWS::Lambda::Function", "FunctionName", an.archive_pin_function, "notifications")
        self.pin = wiring_mod._function(a_stacks["notifications"], pin_id)
        pin_arn = f"arn:aws:lambda:{self.env.region}:{self.env.account_id}:function:{pin['FunctionName']}"
        self.pin_rule = next((res["Properties"] for res in a_stacks["notifications"].resources("AWS::Events::Rule").values()
                              if any(t["Arn"] == pin_arn for t in res["Properties"]["Targets"])), None)
        if self.pin_rule is None:
            raise Broken(f"notifications.yaml of {self.env.name}: no rule targets {pin['FunctionName']}")
        _, bucket_policy = _where(a_stacks, "AWS::S3::BucketPolicy", "Bucket", self.w.artifact_bucket, "pipeline")
        key = a_stacks["pipeline"].resources("AWS::KMS::Key")["ArtifactKey"]["Properties"]
        self.a_policies = {"bucket": bucket_policy["PolicyDocument"], "key": key["KeyPolicy"],
                           "group": self.w.model_package_group["ModelPackageGroupPolicy"]}
        self.b_identities = _identities(b_stacks, self.b.env.account_id)
        self.p.say(f"{self.env.name}/messaging.yaml rule {an.promotion_rule}: {_json(self.promotion_rule['EventPattern'])} -> "
                   f"{self.promotion_rule['Targets'][0]['Arn']}")
        self.p.say(f"{self.b.env.name}/messaging.yaml bus {bn.promotion_bus}, policy {_json(self.bus_policy)}")
        self.p.say(f"{self.b.env.name}/deployment.yaml rule {bn.deployment_rule} on bus "
                   f"{self.deployment_rule.get('EventBusName', 'default')}: {_json(self.deployment_rule['EventPattern'])}")
        self.p.say(f"{self.env.name}/notifications.yaml {self.pin.name}: handler {self.pin.handler}, env {_json(self.pin.environment)}")
        target = self.promotion_rule["Targets"][0]
        if (target["Arn"], target.get("RoleArn")) != (self.bus_arn, self.promotion_role_arn):
            raise Broken(f"{an.promotion_rule} targets {target['Arn']} as {target.get('RoleArn')}, not B's bus {self.bus_arn} "
                         f"as {self.promotion_role_arn}")
        if self.deployment_rule.get("EventBusName") != bn.promotion_bus:
            raise Broken(f"{bn.deployment_rule} listens on {self.deployment_rule.get('EventBusName', 'the default bus')}, "
                         f"not {bn.promotion_bus}")
        row.result = f"rule -> {bn.promotion_bus}; {len(self.b_identities)} roles of {self.b.env.name} with their policies"

    def start_accounts(self, row):
        self.start_emulator(row)  # account A (offline.environment's MOTO_ACCOUNT_ID): A's bucket and key
        a_key = self.markers["<GetAtt ArtifactKey.Arn>"]
        self.gate = accounts.Gate(accounts.Owner(
            account=self.env.account_id, region=self.env.region, bucket=self.w.artifact_bucket,
            bucket_policy=self.a_policies["bucket"], key_arn=a_key, key_alias=self.a_names.artifact_key_alias,
            key_policy=self.a_policies["key"], group_policy=self.a_policies["group"]), self.b_identities)
        self._gate = self.gate.installed()
        self._gate.__enter__()
        with self.gate.acting(self.b.env.account_id):
            s3, kms = self.b.client("s3"), self.b.client("kms")
            create_bucket(s3, self.b.w.artifact_bucket)
            key_arn = kms.create_key(Description="stands in for B's artifact key")["KeyMetadata"]["Arn"]
            kms.create_alias(AliasName=self.b_names.artifact_key_alias, TargetKeyId=key_arn)
            self.b.markers = {"<GetAtt ArtifactKey.Arn>": key_arn}
        row.result = (f"account {self.env.account_id}: bucket {self.w.artifact_bucket}, key {self.a_names.artifact_key_alias}; "
                      f"account {self.b.env.account_id}: bucket {self.b.w.artifact_bucket}, key {self.b_names.artifact_key_alias}")

    def approve(self, row):
        sm = self.client("sagemaker")
        sm.update_model_package(ModelPackageArn=self.package_arn, ModelApprovalStatus="Approved",
                                ApprovalDescription="approved in the source account by the demo")
        self.described = sm.describe_model_package(ModelPackageName=self.package_arn)
        row.result = f"v{self.package_arn.rsplit('/', 1)[1]} {self.described['ModelApprovalStatus']} in account {self.env.account_id}"

    def cross(self, row):
        from moto.events.models import EventPattern

        entry = sagemaker_events.put_events_entry(self.described, dt.datetime.now(dt.timezone.utc))
        event = {"version": "0", "id": "demo-promotion", "source": entry["Source"], "detail-type": entry["DetailType"],
                 "account": self.env.account_id, "region": self.env.region, "time": entry["Time"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "resources": entry["Resources"], "detail": json.loads(entry["Detail"])}
        self.event = event
        if not EventPattern.load(json.dumps(self.promotion_rule["EventPattern"])).matches_event(event):
            raise Broken(f"{self.a_names.promotion_rule} does not match the approval of {self.package_arn}")
        put = policy_eval.Request(self.promotion_role_arn, "events:PutEvents", self.bus_arn,
                                  {"events:source": event["source"], "events:detail-type": event["detail-type"]})
        identity = self.a_identities[self.promotion_role_arn]
        sides = {**{f"{self.a_names.promotion_role}: {side}": ok for side, ok in accounts.identity_sides(identity, put).items()},
                 f"{self.b_names.promotion_bus}'s policy": accounts.delegated_allows(self.bus_policy, identity, put)}
        for side, ok in sides.items():
            self.p.say(f"PutEvents {self.bus_arn} as {self.promotion_role_arn}: {'allowed' if ok else 'DENIED'} by {side}")
        if not all(sides.values()):
            raise Broken(f"events:PutEvents on {self.bus_arn} by {self.promotion_role_arn} is denied by "
                         f"{', '.join(s for s, ok in sides.items() if not ok)}")
        for key, value in (("events:source", "com.example.forged"), ("events:detail-type", "Forged Change")):
            if accounts.delegated_allows(self.bus_policy, identity, dataclasses.replace(put, context={**put.context, key: value})):
                raise Broken(f"{self.b_names.promotion_bus}'s policy admits a PutEvents with {key} {value}")
        if not EventPattern.load(json.dumps(self.deployment_rule["EventPattern"])).matches_event(event):
            raise Broken(f"{self.b_names.deployment_rule} does not match the forwarded approval (account {event['account']})")
        other = {**event, "account": self.b.env.account_id}
        if EventPattern.load(json.dumps(self.deployment_rule["EventPattern"])).matches_event(other):
            raise Broken(f"{self.b_names.deployment_rule} matches the same event from its own account too")
        row.result = (f"{self.a_names.promotion_rule} matched; PutEvents allowed by both sides (another source or "
                      f"detail-type: refused); "
                      f"{self.b_names.deployment_rule} matched -> a run of {self.b.w.deployment.pipeline_name} starts")

    def pin_archive(self, row):
        from moto.events.models import EventPattern

        if not EventPattern.load(json.dumps(self.pin_rule["EventPattern"])).matches_event(self.event):
            raise Broken(f"the rule of {self.pin.name} does not match the approval")
        result = self._invoke(self.pin, self.event)
        uri = self.described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        bucket, key = uri[len("s3://"):].split("/", 1)
        versions = self.client("s3").list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
        tags = {t["Key"]: t["Value"] for v in versions
                for t in self.client("s3").get_object_tagging(Bucket=bucket, Key=key, VersionId=v["VersionId"])["TagSet"]}
        if self.package_arn not in tags.values():
            raise Broken(f"{self.pin.name} answered {result}, but no version of {uri} is tagged with {self.package_arn}")
        row.result = f"{self.pin.name}: {uri} tagged {_json(tags)}"

    def _as(self, role_name: str):
        return self.gate.acting(self.b.env.account_id, f"arn:aws:iam::{self.b.env.account_id}:role{self.b_names.role_path}{role_name}")

    def _held(self, step: str) -> None:
        if self.gate.denied:
            raise Broken(f"{step}: " + "; ".join(d.line() for d in self.gate.denied))

    def resolve(self, row):
        b = self.b
        b.package_arn = self.package_arn
        fn = b.w.deployment.resolve
        self.p.say(f"{b.env.name}/deployment.yaml {fn.name}: handler {fn.handler}, env {_json(fn.environment)}")
        with self._as(self.b_names.resolve_function_role):
            try:
                variables = b._resolve_expecting(self.package_arn)
            finally:
                self._held("Resolve")
        row.result = f"v{variables['ModelPackageVersion']} of {self.env.name}'s group: {variables['Summary']}"

    def staging_and_smoke_test(self, row):
        b = self.b
        b.trained = self.trained
        with self.gate.acting(b.env.account_id):
            b.outcome_queues, b.deployment_execution = {}, "0f1e2d3c-4b5a-4697-8a8b-9c0d1e2f3a41"
            b.operations_inbox = b.client("sqs").create_queue(QueueName="demo-operations-inbox")["QueueUrl"]
            b.operations_emails = b.env.operations_emails or b.env.emails
        with self._as(self.b_names.deploy_role("staging-endpoint")):
            try:
                b.staging(row)
            finally:
                self._held("staging")
        staged = row.result
        # The staging endpoint's answers: SageMaker hosting looks the model up itself and reads the archive as the
        # model's role (serving.LocalEndpoints plays both).
        real_model, real_load = serving.LocalEndpoints._model, serving._load

        def hosted(endpoints, endpoint):
            with self.gate.acting(b.env.account_id):
                return real_model(endpoints, endpoint)

        def as_model_role(s3, url):
            with self._as(self.b_names.model_role):
                return real_load(s3, url)

        with self._as(self.b_names.smoke_test_function_role), \
                mock.patch.object(serving.LocalEndpoints, "_model", hosted), mock.patch.object(serving, "_load", as_model_role):
            try:
                b.smoke_test(row)
            finally:
                self._held("smoke test")
        row.result = f"{staged}; smoke test {row.result}"

    def bytes_served(self, row):
        uri = self.described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        bucket, key = uri[len("s3://"):].split("/", 1)
        with self._as(self.b_names.model_role):
            try:
                read = self.b.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
            finally:
                self._held("model role")
        self.p.say(f"every request {self.b.env.name}'s roles made on {self.env.name}'s resources, as both accounts decide it:")
        for decision in self.gate.decisions:
            self.p.say(decision.line(), indent=6)
        wrote = self.trained.archive
        digest = hashlib.sha256(read).hexdigest()
        self.p.say(f"{self.env.name}'s training wrote {len(wrote)} bytes, sha256 {hashlib.sha256(wrote).hexdigest()}")
        self.p.say(f"{self.b.env.name}'s model role read  {len(read)} bytes, sha256 {digest} ({uri})")
        if read != wrote:
            raise Broken(f"the archive {self.b.env.name}'s model role reads differs from what {self.env.name}'s training wrote")
        row.result = (f"{len(self.gate.decisions)} cross-account requests, each allowed by both accounts; the archive: "
                      f"identical, byte for byte: {len(read)} bytes, sha256 {digest[:16]}...")

    def close(self):
        if getattr(self, "_gate", None) is not None:
            self._gate.__exit__(None, None, None)


STEPS = (
    ("Load config: the promotion pair", Promotion.load_pair),
    ("Render the templates", Promotion.render),
    ("Read both envs' rendered templates", Promotion.read_pair),
    ("Start the AWS emulator: two accounts", Promotion.start_accounts),
    ("A: create the model package group", Demo.create_group),
    ("A: upsert the SageMaker pipeline (pipeline_def)", Demo.upsert_pipeline),
    ("A: train and register a model version", Demo.register_version),
    ("A: a person approves the version", Promotion.approve),
    ("The approval crosses to B's bus", Promotion.cross),
    ("A: the pin function tags the archive", Promotion.pin_archive),
    ("B: Resolve reads A's registry and archive", Promotion.resolve),
    ("B: staging endpoint and smoke test", Promotion.staging_and_smoke_test),
    ("B's model role reads what A's training wrote", Promotion.bytes_served),
)
