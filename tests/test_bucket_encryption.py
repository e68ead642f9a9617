"""Objects in the artifact bucket are encrypted with KMS: an upload asking for any other encryption is refused,
while the documented upload (no header, the bucket default) and what services send (aws:kms) pass."""
from __future__ import annotations

import pytest

from infra.stacks import BUILDERS
from tests.support.policy_eval import Request, denied
from tests.support.resolve import resolve_all

ENCRYPTION = "s3:x-amz-server-side-encryption"


@pytest.fixture(scope="module")
def bucket_policies(rendered, project):
    out = {}
    for env in project.environments:
        stacks = resolve_all(rendered, project, env, list(BUILDERS))
        (policy,) = stacks["pipeline"].resources("AWS::S3::BucketPolicy").values()
        (bucket,) = stacks["pipeline"].resources("AWS::S3::Bucket").values()
        out[env] = (policy["Properties"]["PolicyDocument"], f"arn:aws:s3:::{bucket['Properties']['BucketName']}")
    return out


@pytest.mark.parametrize("headers,refused", [
    ({}, False),  # aws s3 cp, the Synth build's sync: the bucket's default encryption (the project key)
    ({ENCRYPTION: "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:eu-west-1:123456789012:key/k"}, False),
    ({ENCRYPTION: "AES256"}, True),
    ({ENCRYPTION: "aws:kms:dsse"}, True),
    ({"s3:x-amz-server-side-encryption-customer-algorithm": "AES256"}, True),
])
def test_uploads_asking_for_other_encryption_are_refused(bucket_policies, headers, refused):
    for env, (document, bucket_arn) in bucket_policies.items():
        request = Request("arn:aws:iam::123456789012:role/anyone", "s3:PutObject", f"{bucket_arn}/any/key", {**headers})
        assert denied(document, request) is refused, f"env {env}: {headers}"
