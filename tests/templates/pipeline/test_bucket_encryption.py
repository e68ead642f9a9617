"""Objects in the artifact bucket are encrypted with the project key: an upload asking for any other encryption, or
naming any other key, is refused, while every writer the project has passes as it really writes: with no encryption
header (the bucket default), or naming the artifact key by its ARN, the form the bucket policy compares.

Writers are read from the rendered templates and the rendered SageMaker pipeline definition, never listed by hand:
a resource type that names a KMS key must be classified below as writing to the bucket with it or not, so a new
writer (or a writer naming the key in another form, an alias say) fails here before it fails in AWS.
"""
from __future__ import annotations

import json
import re
import shlex

import pytest

from infra.config import names as names_mod
from infra.stacks import BUILDERS
from pipeline_def import cli
from tests.conftest import ROOT
from tests.demo.pipeline_run import output_key, steps
from tests.support.policy_eval import Request, denied
from tests.support.resolve import resolve_all, walk

ENCRYPTION = "s3:x-amz-server-side-encryption"
KEY_ID = "s3:x-amz-server-side-encryption-aws-kms-key-id"
CALLER = "arn:aws:iam::123456789012:role/anyone"

# Property paths ("[]" for any list index) that name a KMS key the service uses to write into the artifact bucket.
S3_WRITERS = {
    ("AWS::CodePipeline::Pipeline", "ArtifactStore.EncryptionKey.Id"): "CodePipeline and its actions' artifacts",
    ("AWS::CodePipeline::Pipeline", "Stages[].Actions[].Configuration.KMSEncryptionKeyARN"): "the S3 deploy action (the release)",
    ("AWS::CodeBuild::Project", "EncryptionKey"): "build output and cache",
    ("AWS::Athena::WorkGroup", "WorkGroupConfiguration.ResultConfiguration.EncryptionConfiguration.KmsKey"): "query results",
    ("AWS::Glue::SecurityConfiguration", "EncryptionConfiguration.S3Encryptions[].KmsKeyArn"): "what the crawler writes to S3",
    ("AWS::SageMaker::EndpointConfig", "DataCaptureConfig.KmsKeyId"): "captured requests and responses",
}
# Properties naming a key for something other than an object in the bucket (reviewed).
NOT_S3_WRITERS = {
    ("AWS::S3::Bucket", "BucketEncryption.ServerSideEncryptionConfiguration[].ServerSideEncryptionByDefault.KMSMasterKeyID"),
    ("AWS::SNS::Topic", "KmsMasterKeyId"),
    ("AWS::SQS::Queue", "KmsMasterKeyId"),
    ("AWS::Lambda::Function", "KmsKeyArn"),
    ("AWS::Logs::LogGroup", "KmsKeyId"),
    ("AWS::SageMaker::EndpointConfig", "KmsKeyId"),  # the instances' ML storage volumes
    ("AWS::Glue::SecurityConfiguration", "EncryptionConfiguration.CloudWatchEncryption.KmsKeyArn"),
    ("AWS::Glue::SecurityConfiguration", "EncryptionConfiguration.JobBookmarksEncryption.KmsKeyArn"),
}
NAMES_A_KEY = re.compile(r"(?i)(kms.*key|encryptionkey)")
POLICY_PROPERTIES = ("PolicyDocument", "KeyPolicy", "Policies", "AssumeRolePolicyDocument")


def _generic(path: str) -> str:
    return re.sub(r"\[\d+\]", "[]", path)


@pytest.fixture(scope="module")
def envs(rendered, project):
    """env -> (bucket policy, bucket ARN, the bucket's default key, resolved stacks)."""
    out = {}
    for env in project.environments:
        stacks = resolve_all(rendered, project, env, list(BUILDERS))
        (policy,) = stacks["pipeline"].resources("AWS::S3::BucketPolicy").values()
        (bucket,) = stacks["pipeline"].resources("AWS::S3::Bucket").values()
        default = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        out[env] = (policy["Properties"]["PolicyDocument"], f"arn:aws:s3:::{bucket['Properties']['BucketName']}",
                    default["KMSMasterKeyID"], stacks)
    return out


def _key_properties(stacks) -> list[tuple[str, str, str, object]]:
    """(stack, resource type, generic property path, value) for every property that names a KMS key."""
    found = []
    for key, stack in stacks.items():
        for logical_id, resource in stack.resources().items():
            for path, value in walk(resource["Properties"]):
                if isinstance(value, (dict, list)) or any(p in path for p in POLICY_PROPERTIES):
                    continue
                names = path.split(".")
                if NAMES_A_KEY.search(names[-1]) or (names[-1] == "Id" and NAMES_A_KEY.search(names[-2])):
                    found.append((f"{key}.yaml {logical_id}", resource["Type"], _generic(path), value))
    return found


def _put(bucket_arn: str, headers: dict) -> Request:
    return Request(CALLER, "s3:PutObject", f"{bucket_arn}/any/key", headers)


@pytest.mark.parametrize("headers,refused", [
    ({}, False),  # aws s3 cp, the Synth build's sync, boto3 put_object: the bucket's default encryption (the project key)
    ({ENCRYPTION: "aws:kms", KEY_ID: "<the artifact key>"}, False),
    ({ENCRYPTION: "aws:kms", KEY_ID: "arn:aws:kms:eu-west-1:123456789012:key/another"}, True),
    ({ENCRYPTION: "aws:kms", KEY_ID: "arn:aws:kms:eu-west-1:123456789012:alias/another"}, True),
    ({ENCRYPTION: "AES256"}, True),
    ({ENCRYPTION: "aws:kms:dsse"}, True),
    ({ENCRYPTION: "aws:kms:dsse", KEY_ID: "<the artifact key>"}, True),
    ({"s3:x-amz-server-side-encryption-customer-algorithm": "AES256"}, True),
])
def test_uploads_asking_for_other_encryption_or_another_key_are_refused(envs, headers, refused):
    for env, (document, bucket_arn, key_arn, _) in envs.items():
        request = _put(bucket_arn, {k: key_arn if v == "<the artifact key>" else v for k, v in headers.items()})
        assert denied(document, request) is refused, f"env {env}: {headers}"


def test_the_policy_compares_the_key_the_bucket_encrypts_with_by_arn(envs, project):
    """The condition names the default key itself, so naming it passes and nothing else does (not its alias either)."""
    for env, (document, bucket_arn, key_arn, stacks) in envs.items():
        (alias_name,) = [a["Properties"]["AliasName"] for a in stacks["pipeline"].resources("AWS::KMS::Alias").values()]
        assert alias_name == names_mod.for_env(project, env).artifact_key_alias
        alias = stacks["pipeline"].value({"Fn::Sub": f"arn:${{AWS::Partition}}:kms:${{AWS::Region}}:${{AWS::AccountId}}:{alias_name}"})
        for named, refused in ((key_arn, False), (alias, True), (key_arn + "x", True)):
            assert denied(document, _put(bucket_arn, {ENCRYPTION: "aws:kms", KEY_ID: named})) is refused, f"env {env}: {named}"


def test_every_property_naming_a_key_is_classified_as_a_bucket_writer_or_not(envs):
    for env, (*_, stacks) in envs.items():
        unknown = {(rtype, path) for _, rtype, path, _ in _key_properties(stacks)} - set(S3_WRITERS) - NOT_S3_WRITERS
        assert not unknown, (f"env {env}: classify these in {__name__} (does the service write objects to the "
                             f"artifact bucket with that key?): {sorted(unknown)}")


def test_every_service_writer_names_the_artifact_key_by_arn_and_the_bucket_accepts_it(envs):
    seen = set()
    for env, (document, bucket_arn, key_arn, stacks) in envs.items():
        for where, rtype, path, value in _key_properties(stacks):
            if (rtype, path) not in S3_WRITERS:
                continue
            seen.add((rtype, path))
            request = _put(bucket_arn, {ENCRYPTION: "aws:kms", KEY_ID: value})
            assert value == key_arn and not denied(document, request), (
                f"env {env}: {where} {path} ({S3_WRITERS[rtype, path]}) names {value}, not the artifact key ARN {key_arn}")
    assert seen >= {("AWS::CodePipeline::Pipeline", "ArtifactStore.EncryptionKey.Id"), ("AWS::CodeBuild::Project", "EncryptionKey")}


def test_sagemaker_jobs_name_the_key_the_upsert_build_is_given_and_the_bucket_accepts_it(envs, project, no_network):
    """Every processing and training job, rendered with the key ARN the Upsert project hands the build."""
    for env, (document, bucket_arn, key_arn, stacks) in envs.items():
        (build,) = [r for lid, r in stacks["pipeline"].resources("AWS::CodeBuild::Project").items() if lid == "UpsertProject"]
        given = {v["Name"]: v["Value"] for v in build["Properties"]["Environment"]["EnvironmentVariables"]}["ARTIFACT_KEY_ARN"]
        definition = json.loads(cli.definition_json(names_mod.for_env(project, env), key_arn=given))
        jobs = [s for s in steps(definition) if s["Type"] in ("Processing", "Training")]
        assert jobs
        for step in jobs:
            named = output_key(step)
            assert named == key_arn, f"env {env}: step {step['Name']} encrypts its outputs with {named}, not {key_arn}"
            assert not denied(document, _put(bucket_arn, {ENCRYPTION: "aws:kms", KEY_ID: named}))


def _documented_uploads() -> list[str]:
    text = (ROOT / "docs" / "data.md").read_text()
    return [line.split("#", 1)[0] for line in text.splitlines() if line.startswith("aws s3 cp ")]


def test_the_documented_data_uploads_pass_and_name_no_key_but_the_artifact_key(envs):
    """docs/data.md's commands, as the CLI turns their options into headers ($KEY: the ArtifactKeyArn output)."""
    uploads = _documented_uploads()
    assert len(uploads) >= 2, "docs/data.md shows the upload with and without naming the key"
    for env, (document, bucket_arn, key_arn, stacks) in envs.items():
        assert stacks["pipeline"].exports()[f"{stacks['pipeline'].name}-ArtifactKeyArn"] == key_arn
        for command in uploads:
            words = shlex.split(command)
            options = dict(zip(words, words[1:]))
            headers = {}
            if "--sse" in options:
                headers[ENCRYPTION] = options["--sse"]
            if "--sse-kms-key-id" in options:
                headers[KEY_ID] = key_arn if options["--sse-kms-key-id"] == "$KEY" else options["--sse-kms-key-id"]
            assert not any(w.startswith("--sse-c") for w in words), command
            assert headers.get(ENCRYPTION, "aws:kms") == "aws:kms" and (ENCRYPTION in headers) == (KEY_ID in headers), command
            assert not denied(document, _put(bucket_arn, headers)), f"env {env}: {command}"
