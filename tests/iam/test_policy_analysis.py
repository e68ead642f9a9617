"""cloudsplaining over every policy document of every rendered template, the boundaries included.

The permissions boundary was once one statement on Resource "*": cloudsplaining reported privilege
escalation (iam:PassRole), resource exposure and data exfiltration (s3:GetObject) for the whole account.
Any finding not in the reviewed table below fails, with the policy that has it.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from infra.stacks import BUILDERS
from tests.support.cfn import policies
from tests.conftest import ROOT
from tests.support.resolve import resolve_all

CHECKOV_PYTHON = ROOT / ".venv-checkov" / "bin" / "python"

# (finding, action) -> why it is accepted. Each is an action IAM cannot scope to a resource.
ACCEPTED = {
    ("CredentialsExposure", "ecr:GetAuthorizationToken"): (
        "ECR tokens are account-wide (no resource-level permission); the token pulls only from the two SageMaker image "
        "repositories the role may read"),
}


def _documents(stacks) -> list[tuple[str, dict]]:
    out = []
    for key, stack in stacks.items():
        template = {**stack.template, "Resources": {k: {**r, "Properties": r.get("Properties", {})}
                                                     for k, r in stack.resources().items()}}
        for logical_id, _rtype, prop, document in policies(template):
            if prop != "AssumeRolePolicyDocument":
                out.append((f"{key}.yaml {logical_id} {prop}", document))
    return out


def scan(documents: list[tuple[str, dict]]) -> dict[str, dict[str, list[str]]]:
    if not CHECKOV_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail("the checkov venv (cloudsplaining) is missing: `make test` builds it")
        pytest.skip("the checkov venv (cloudsplaining) is missing: `make test` builds it")
    proc = subprocess.run([str(CHECKOV_PYTHON), str(ROOT / "tests" / "support" / "cloudsplaining_scan.py")],
                          input=json.dumps(documents), capture_output=True, text=True, timeout=300, check=True)
    return json.loads(proc.stdout)


# In a key policy, Resource "*" is the key itself, which cloudsplaining cannot know: key administration there
# goes to the account (to be granted through IAM) and to the stack's deploy role (tests/iam/test_key_administration.py).
KEY_POLICY_ACCEPTED = {
    ("ResourceExposure", action): "key administration of this key only (Resource * in a key policy is the key)"
    for action in ("kms:PutKeyPolicy", "kms:RetireGrant", "kms:RevokeGrant")
}


def unaccepted(findings: dict[str, dict[str, list[str]]]) -> list[str]:
    def accepted(name: str, finding: str, action: str) -> bool:
        return (finding, action) in ACCEPTED or (name.endswith("KeyPolicy") and (finding, action) in KEY_POLICY_ACCEPTED)

    return [f"{name}: {finding} {action}" for name, by_finding in sorted(findings.items())
            for finding, acts in by_finding.items() for action in acts if not accepted(name, finding, action)]


def test_no_policy_has_a_finding_outside_the_reviewed_table(rendered, project):
    documents = {}
    for env in project.environments:
        for name, document in _documents(resolve_all(rendered, project, env, list(BUILDERS))):
            documents[f"env {env}: {name}"] = document
    problems = unaccepted(scan(sorted(documents.items())))
    assert not problems, "\n".join(problems)


def test_the_scan_catches_a_boundary_on_every_resource():
    boundary = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["iam:PassRole", "s3:GetObject", "codebuild:StartBuild"], "Resource": "*"}]}
    problems = unaccepted(scan([("deploy-roles.yaml ProjectRolesBoundary PolicyDocument", boundary)]))
    assert any("ResourceExposure iam:PassRole" in p for p in problems)
    assert any("DataExfiltration s3:GetObject" in p for p in problems)
