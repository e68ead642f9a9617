"""Two accounts on one moto, and every call one makes on the other's resources checked as AWS would decide it.

moto keeps one backend per account and answers as the account MOTO_ACCOUNT_ID names (read per request), so the
promotion rehearsal switches it as the side that acts changes. moto evaluates no policy: the Gate does, before each
call a role of one account makes on the other's bucket or model package group, with tests/support/policy_eval.py —
the caller's rendered identity policies AND its permissions boundary AND the owner's rendered resource policy (and,
for an object read, the owner's key policy for the kms:Decrypt S3 makes for it). A denial is answered as AWS would
(AccessDenied, which the function handles as it would on AWS) and recorded: the rehearsal then fails, naming the call.
moto finds another account's model package by ARN, and an object's tags, only in the owning account's backend: the
Gate sends registry reads (Describe*, List*) and calls on the owner's bucket there; CreateModel stays in the caller's
account, as on AWS.
"""
from __future__ import annotations

import contextlib
import copy
import os
from dataclasses import dataclass, field
from unittest import mock

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.support import policy_eval
from tests.support.cfn import strings


@dataclass
class Identity:
    """A role as IAM evaluates it: its inline policies (one allow is enough) and its boundary (must allow too)."""

    arn: str
    policies: list[dict]
    boundary: dict | None


@dataclass
class Owner:
    """The account whose resources another account reads, and their rendered resource policies."""

    account: str
    region: str
    bucket: str
    bucket_policy: dict
    key_arn: str
    key_alias: str
    key_policy: dict
    group_policy: dict


@dataclass
class Decision:
    caller: str
    action: str
    resource: str
    allowed: bool
    why: str

    def line(self) -> str:
        return f"{'allowed' if self.allowed else 'DENIED '} {self.action:<32} {self.resource}  by {self.caller.rsplit('/', 1)[1]}{self.why}"


def _with_principal(document: dict, arn: str) -> dict:
    """An identity policy as policy_eval reads it: each statement applies to the role it is attached to."""
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    return {"Statement": [{**s, "Principal": {"AWS": arn}} for s in statements]}


def _delegated(document: dict, account: str, arn: str) -> dict:
    """A resource policy naming `account`'s root grants what that account's own policies allow its roles: read the
    root as the caller (its identity policies are evaluated separately)."""
    root = f"arn:aws:iam::{account}:root"
    out = copy.deepcopy(document)
    for statement in out["Statement"] if isinstance(out["Statement"], list) else [out["Statement"]]:
        principal = statement.get("Principal")
        if isinstance(principal, dict) and "AWS" in principal:
            names = principal["AWS"] if isinstance(principal["AWS"], list) else [principal["AWS"]]
            principal["AWS"] = [arn if name in (root, account) else name for name in names]
    return out


def identity_sides(caller: Identity, request: policy_eval.Request) -> dict[str, bool]:
    """Whether the caller's own account lets it make the request: its inline policies, and its boundary."""
    return {
        "its identity policy": policy_eval.allowed(
            {"Statement": [s for d in caller.policies for s in _with_principal(d, caller.arn)["Statement"]]}, request),
        "its boundary": caller.boundary is None or policy_eval.allowed(_with_principal(caller.boundary, caller.arn), request),
    }


def delegated_allows(policy: dict, caller: Identity, request: policy_eval.Request) -> bool:
    """Whether a resource policy of another account allows the caller's request (see _delegated)."""
    return policy_eval.allowed(_delegated(policy, caller.arn.split(":")[4], caller.arn), request)


@dataclass
class Gate:
    owner: Owner
    identities: dict[str, Identity]  # role ARN -> identity
    decisions: list[Decision] = field(default_factory=list)
    role: str | None = None  # the role the code now running acts as (None: the demo itself, as an administrator)

    # -- who acts -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def acting(self, account: str, role: str | None = None):
        """Calls inside answer as `account` (moto) and, with `role`, are checked as that role's."""
        saved = os.environ.get("MOTO_ACCOUNT_ID"), self.role
        os.environ["MOTO_ACCOUNT_ID"], self.role = account, role
        try:
            yield
        finally:
            os.environ["MOTO_ACCOUNT_ID"], self.role = saved

    @contextlib.contextmanager
    def installed(self):
        gate, real = self, BaseClient._make_api_call

        def checked(client, operation, params):
            return gate._call(real, client, operation, params)

        with mock.patch.object(BaseClient, "_make_api_call", checked):
            yield self

    @property
    def denied(self) -> list[Decision]:
        return [d for d in self.decisions if not d.allowed]

    # -- one call -----------------------------------------------------------------------------
    def _call(self, real, client, operation: str, params: dict):
        service = client.meta.service_model.service_name
        caller_account = self.role.split(":")[4] if self.role else None
        if self.role is not None and caller_account != self.owner.account:
            requests = self._requests(real, client, service, operation, params)
            for action, resource, context, policy in requests:
                self._decide(action, resource, context, policy)
            refused = [d for d in self.decisions[len(self.decisions) - len(requests):] if not d.allowed]
            if refused:
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": f"denied by the demo's policy check: "
                                             f"{refused[0].line()}"}}, operation)
        return self._routed(real, client, service, operation, params)

    def _routed(self, real, client, service: str, operation: str, params: dict):
        """moto answers calls on the owner's resources from the owner's backend only: its model packages (a group by
        name only), and its objects' tags (moto keeps them per account, even for another account's bucket)."""
        here = os.environ.get("MOTO_ACCOUNT_ID")
        owned = f"arn:aws:sagemaker:{self.owner.region}:{self.owner.account}:"
        reads_registry = (service == "sagemaker" and operation.startswith(("Describe", "List"))
                          and any(v.startswith(owned) for v in strings(params)))
        if here == self.owner.account or not (reads_registry or (service == "s3" and params.get("Bucket") == self.owner.bucket)):
            return real(client, operation, params)
        if operation == "DescribeModelPackageGroup":
            params = {**params, "ModelPackageGroupName": params["ModelPackageGroupName"].rsplit("/", 1)[1]}
        os.environ["MOTO_ACCOUNT_ID"] = self.owner.account
        try:
            return real(client, operation, params)
        finally:
            os.environ["MOTO_ACCOUNT_ID"] = here

    def _requests(self, real, client, service: str, operation: str, params: dict) -> list[tuple[str, str, dict, dict | None]]:
        """(action, resource ARN, request context, the owner's policy) the call needs on the owner's resources."""
        o = self.owner
        if service == "s3" and params.get("Bucket") == o.bucket:
            bucket_arn = f"arn:aws:s3:::{o.bucket}"
            versioned = "VersionId" in params
            if operation in ("GetObject", "HeadObject"):
                tags = self._tags(real, client, params)
                context = {f"s3:ExistingObjectTag/{t['Key']}": t["Value"] for t in tags}
                read = ("s3:GetObjectVersion" if versioned else "s3:GetObject", f"{bucket_arn}/{params['Key']}", context,
                        o.bucket_policy)
                if operation == "HeadObject":
                    return [read]
                decrypt = ("kms:Decrypt", o.key_arn, {"kms:ViaService": f"s3.{o.region}.amazonaws.com",
                                                       "kms:EncryptionContext:aws:s3:arn": bucket_arn,
                                                       "kms:ResourceAliases": [o.key_alias]}, o.key_policy)
                return [read, decrypt]
            if operation == "GetObjectTagging":
                action = "s3:GetObjectVersionTagging" if versioned else "s3:GetObjectTagging"
                return [(action, f"{bucket_arn}/{params['Key']}", {}, o.bucket_policy)]
            if operation in ("ListObjectVersions", "ListObjectsV2", "ListObjects"):
                action = "s3:ListBucketVersions" if operation == "ListObjectVersions" else "s3:ListBucket"
                return [(action, bucket_arn, {"s3:prefix": params["Prefix"]} if "Prefix" in params else {}, o.bucket_policy)]
            if operation == "GetBucketVersioning":
                return [("s3:GetBucketVersioning", bucket_arn, {}, o.bucket_policy)]
            return [(f"s3:{operation}", bucket_arn, {}, None)]  # a call the table does not know is refused
        if service == "sagemaker":
            arns = sorted({v for v in strings(params) if v.startswith(f"arn:aws:sagemaker:{o.region}:{o.account}:")})
            context = {}
            if operation == "CreateModel":  # the request's condition key the grants hold CreateModel to
                context["sagemaker:NetworkIsolation"] = "true" if params.get("EnableNetworkIsolation") else "false"
            return [(f"sagemaker:{operation}", arn, context, o.group_policy) for arn in arns]
        return []

    def _tags(self, real, client, params: dict) -> list[dict]:
        """The object's tags as S3 reads them for s3:ExistingObjectTag (the owner's view; no check)."""
        ask = {k: params[k] for k in ("Bucket", "Key", "VersionId") if k in params}
        try:
            return self._routed(real, client, "s3", "GetObjectTagging", ask)["TagSet"]
        except ClientError:
            return []

    def _decide(self, action: str, resource: str, context: dict, policy: dict) -> None:
        caller = self.identities.get(self.role)
        # AWS puts the resource's owner in every request's context (aws:ResourceAccount): here, always the source's.
        request = policy_eval.Request(self.role, action, resource, {"aws:ResourceAccount": self.owner.account, **context})
        if caller is None or policy is None:
            why = "no such role in the rendered templates" if caller is None else "a call the demo's table does not know"
            self.decisions.append(Decision(self.role, action, resource, False, f": {why}"))
            return
        sides = {**identity_sides(caller, request),
                 f"account {self.owner.account}'s resource policy": delegated_allows(policy, caller, request)}
        refused = [side for side, ok in sides.items() if not ok]
        self.decisions.append(Decision(self.role, action, resource, not refused,
                                       f": refused by {', '.join(refused)}" if refused else ""))


