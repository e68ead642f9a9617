"""A push cannot destroy the data the artifact bucket keeps by writing objects.

The bucket is versioned: an overwrite or a delete makes the original noncurrent, and it is lost only when the lifecycle
expires that version or someone deletes it by version id. Code a push controls (the builds, the SageMaker jobs, the
functions, the pipelines' stages) may write under several folders. So, for every env and config variant:

- every object any project role may write or delete lies in a folder of the table (infra/parts/artifact_prefixes.py),
  which says whether that folder keeps its data;
- no lifecycle rule that reaches a retained folder expires a version, current or noncurrent;
- no project role, and no bucket-policy Allow, may delete an object version in a retained folder;
- the data the registry and the deployment rely on (input, splits, model archives, evaluation reports) is retained.
"""
from __future__ import annotations

import re
from fnmatch import fnmatchcase

import pytest

from infra.config.names import ARTIFACT_BUCKET_SUB
from infra.parts.artifact_prefixes import FOLDERS, RETAINED
from tests.support.cfn import as_list, policies, statements

# What replaces an object's current version (PutObject also authorises CopyObject and CompleteMultipartUpload) or
# hides it (DeleteObject, with no version id, adds a delete marker), and what deletes a version outright.
OBJECT_WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:ReplicateObject", "s3:ReplicateDelete")
VERSION_DELETES = ("s3:DeleteObjectVersion",)
# A lifecycle rule's actions that delete a version (ExpiredObjectDeleteMarker removes only markers with no version
# left, AbortIncompleteMultipartUpload only unfinished uploads, transitions keep the data).
EXPIRING = ("ExpirationInDays", "ExpirationDate", "NoncurrentVersionExpiration", "NoncurrentVersionExpirationInDays")
_S3_ARN = re.compile(r"^arn:(?:\$\{AWS::Partition\}|[^:]*):s3:::(?P<bucket>[^/]*)(?:/(?P<key>.*))?$")
# Boundaries cap roles and grant nothing themselves; the deploy-roles, iam and serving-iam stacks hold the roles.
NOT_GRANTS = ("boundaries",)


def _held(granted: str, actions: tuple[str, ...]) -> list[str]:
    return [a for a in actions if fnmatchcase(a.lower(), granted.lower())]


def _literal(pattern: str) -> str:
    """The part of a key pattern before its first wildcard: every key it matches starts with this."""
    return re.split(r"[*?]", pattern, maxsplit=1)[0]


def _overlaps(pattern: str, prefix: str) -> bool:
    literal = _literal(pattern)
    return literal.startswith(prefix) or prefix.startswith(literal)


def _bucket_keys(resource, bucket: str) -> list[str]:
    """The key patterns of the artifact bucket that one Resource entry names ("*": every key)."""
    text = resource if isinstance(resource, str) else resource.get("Fn::Sub") if isinstance(resource, dict) else None
    if not isinstance(text, str):
        return ["*"]  # an intrinsic this check cannot read: assume the worst
    if text == "*":
        return ["*"]
    match = _S3_ARN.match(text)
    if text.startswith("${ArtifactBucket.Arn}"):  # the bucket policy names its own bucket by attribute
        match = _S3_ARN.match(f"arn:aws:s3:::{bucket}{text.removeprefix('${ArtifactBucket.Arn}')}")
    if not match or not fnmatchcase(bucket, match["bucket"]) and match["bucket"] != bucket:
        return []
    return [match["key"]] if match["key"] is not None else []


def object_grants(env, actions: tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    """(stack, role or policy, action, key pattern) for each of `actions` an Allow of a project role, or of the
    bucket's policy (the data uploaders, the analysts), grants on the artifact bucket's objects, wildcards (`s3:*`,
    `s3:Delete*`) and `NotAction` included."""
    bucket = env.concrete(ARTIFACT_BUCKET_SUB)
    out = []
    for stack in env.stacks:
        if stack in NOT_GRANTS:
            continue
        for logical_id, rtype, prop, document in policies(env.template(stack)):
            if rtype not in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::S3::BucketPolicy") \
                    or prop == "AssumeRolePolicyDocument":
                continue
            for st in statements(document):
                if st.get("Effect") != "Allow":
                    continue
                if "NotAction" in st:
                    held = [a for a in actions if not any(_held(n, (a,)) for n in as_list(st["NotAction"]))]
                else:
                    held = [a for granted in as_list(st.get("Action", [])) for a in _held(granted, actions)]
                resources = ["*"] if "NotResource" in st else as_list(st.get("Resource", []))
                out += [(stack, logical_id, action, key) for action in dict.fromkeys(held)
                        for resource in resources for key in _bucket_keys(resource, bucket)]
    return out


def folders(env) -> list[tuple[str, bool]]:
    return [(env.concrete(folder.prefix), folder.retained) for folder in FOLDERS]


def unclassified_writes(env) -> list[str]:
    table = folders(env)
    return [f"{stack} {who} may {action} {key!r}: under no folder of infra/parts/artifact_prefixes.py"
            for stack, who, action, key in object_grants(env, OBJECT_WRITES + VERSION_DELETES)
            if not any(_literal(key).startswith(prefix) for prefix, _ in table)]


def version_deletes_in_retained(env) -> list[str]:
    retained = [prefix for prefix, kept in folders(env) if kept]
    return [f"{stack} {who} may {action} {key!r}, in retained {prefix!r}"
            for stack, who, action, key in object_grants(env, VERSION_DELETES)
            for prefix in retained if _overlaps(key, prefix)]


def lifecycle_rules(env) -> list[dict]:
    bucket = env.template("pipeline")["Resources"]["ArtifactBucket"]["Properties"]
    return bucket.get("LifecycleConfiguration", {}).get("Rules", [])


def _rule_prefix(rule: dict) -> str:
    """The rule's key prefix ("" for the whole bucket); a tag or size filter only narrows it, so it is ignored."""
    prefix = rule.get("Prefix")
    if prefix is None:
        prefix = (rule.get("Filter") or {}).get("Prefix", "")  # a V2-style filter, if a template ever has one
    return prefix if isinstance(prefix, str) else ""


def expiring_rules_in_retained(env) -> list[str]:
    retained = [prefix for prefix, kept in folders(env) if kept]
    return [f"lifecycle rule {rule.get('Id')} (prefix {_rule_prefix(rule)!r}) has {field}: reaches retained {prefix!r}"
            for rule in lifecycle_rules(env) if rule.get("Status") != "Disabled"
            for field in EXPIRING if field in rule
            for prefix in retained if _overlaps(_rule_prefix(rule), prefix)]


def bucket_policy_version_deletes(env) -> list[str]:
    document = env.template("pipeline")["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]
    return [f"bucket policy {st.get('Sid')} allows {action}" for st in statements(document) if st.get("Effect") == "Allow"
            for granted in as_list(st.get("Action", [])) for action in _held(granted, VERSION_DELETES)]


def test_every_object_a_role_may_write_lies_in_a_classified_folder(envs):
    problems = [f"{env.label}: {p}" for env in envs for p in unclassified_writes(env)]
    assert not problems, "\n".join(problems)


def test_the_check_sees_the_writers_it_knows_of(envs):
    """A grant this check could not read would pass unseen: the jobs' model archives, the upsert's folder and, where
    config names them, the uploaders' input are found."""
    for env in envs:
        seen = {(who, key) for _, who, _, key in object_grants(env, OBJECT_WRITES)}
        n = env.names
        assert ("SageMakerExecutionRole", f"{n.sagemaker_prefix}models/*") in seen, env.label
        assert ("UpsertBuildRole", f"{n.sagemaker_prefix}code/*") in seen, env.label
        if env.project.env(env.env).data_uploaders:
            assert ("ArtifactBucketPolicy", f"{n.input_prefix}*") in seen, env.label


def test_no_lifecycle_rule_expires_a_version_in_a_retained_folder(envs):
    problems = [f"{env.label}: {p}" for env in envs for p in expiring_rules_in_retained(env)]
    assert not problems, "\n".join(problems)


def test_nobody_may_delete_an_object_version_in_a_retained_folder(envs):
    problems = [f"{env.label}: {p}" for env in envs for p in version_deletes_in_retained(env) + bucket_policy_version_deletes(env)]
    assert not problems, "\n".join(problems)


def test_the_data_the_registry_and_the_deployment_rely_on_is_retained(envs):
    for env in envs:
        n, retained = env.names, [prefix for prefix, kept in folders(env) if kept]
        needed = (n.input_prefix, n.evaluation_prefix, f"{n.sagemaker_prefix}models/", f"{n.sagemaker_prefix}data/",
                  f"{n.sagemaker_prefix}code/")
        assert all(any(p.startswith(r) for r in retained) for p in needed), (env.label, needed, retained)


def test_the_lifecycle_is_the_table(envs):
    """Each folder has its rule; the one bucket-wide rule only drops unfinished uploads."""
    for env in envs:
        rules = {rule["Id"]: rule for rule in lifecycle_rules(env)}
        assert {rule_id: _rule_prefix(r) for rule_id, r in rules.items() if rule_id != "AbortIncompleteUploads"} == {
            folder.rule_id: env.concrete(folder.prefix) for folder in FOLDERS}, env.label
        assert set(rules["AbortIncompleteUploads"]) == {"Id", "Status", "AbortIncompleteMultipartUpload"}, env.label


def test_the_table_keeps_what_it_says():
    assert RETAINED and all(f.days is None and f.noncurrent_days is None for f in RETAINED)
    assert all(f.noncurrent_days for f in FOLDERS if not f.retained)
    assert len({f.rule_id for f in FOLDERS}) == len(FOLDERS)


@pytest.mark.parametrize("rule, retained, expired", [
    ({"Id": "All", "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 30,
                                                                         "NewerNoncurrentVersions": 1}}, "a/b/", True),
    ({"Id": "Narrower", "Status": "Enabled", "Prefix": "a/b/input/", "ExpiredObjectDeleteMarker": True,
      "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}, "a/b/", True),
    ({"Id": "Wider", "Status": "Enabled", "Filter": {"Prefix": "a/"}, "ExpirationInDays": 9}, "a/b/", True),
    ({"Id": "Beside", "Status": "Enabled", "Prefix": "a/c/", "ExpirationInDays": 9}, "a/b/", False),
    ({"Id": "Transition", "Status": "Enabled", "Prefix": "a/b/", "NoncurrentVersionTransitions": [{}]}, "a/b/", False),
    ({"Id": "Off", "Status": "Disabled", "ExpirationInDays": 1}, "a/b/", False),
])
def test_the_lifecycle_check_catches_rules_reaching_a_retained_folder(rule, retained, expired):
    class Env:
        label = "x"

        @staticmethod
        def template(stack):
            return {"Resources": {"ArtifactBucket": {"Properties": {"LifecycleConfiguration": {"Rules": [rule]}}}}}

        @staticmethod
        def concrete(text):
            return retained if text == RETAINED[0].prefix else "elsewhere/"

    assert bool(expiring_rules_in_retained(Env)) is expired


def test_the_grant_check_reads_wildcards_and_resources():
    bucket = "b-1-r"
    role = {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": "s3:Delete*", "Resource": {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket}/keep/*"}},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket}/odd/*"}},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::other-bucket/keep/*"},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
    ]}}]}}

    class Env:
        label, stacks = "x", ["iam"]

        @staticmethod
        def template(stack):
            return {"Resources": {"Role": role}}

        @staticmethod
        def concrete(text):
            return {ARTIFACT_BUCKET_SUB: bucket}.get(text, "keep/" if text == RETAINED[0].prefix else f"z/{text}")

    assert [(action, key) for _, _, action, key in object_grants(Env, VERSION_DELETES)] == [
        ("s3:DeleteObjectVersion", "keep/*"), ("s3:DeleteObjectVersion", "*")]
    assert len(version_deletes_in_retained(Env)) == 1 + len(RETAINED)  # keep/* once, "*" in every retained folder
    assert any("'odd/*'" in p for p in unclassified_writes(Env))
