"""Run by tests/iam/test_policy_analysis.py with the checkov venv's Python, where cloudsplaining is installed.

Reads [[name, policy document], …] as JSON on stdin; writes {name: {finding: [actions]}} as JSON.
"""
import json
import sys

from cloudsplaining.scan.policy_document import PolicyDocument

FINDINGS = {
    "PrivilegeEscalation": lambda d: [p["type"] if isinstance(p, dict) else str(p) for p in d.allows_privilege_escalation],
    "ResourceExposure": lambda d: d.permissions_management_without_constraints,
    "DataExfiltration": lambda d: d.allows_data_exfiltration_actions,
    "CredentialsExposure": lambda d: d.credentials_exposure,
}

out = {}
for name, document in json.load(sys.stdin):
    policy = PolicyDocument(document)
    found = {finding: sorted(set(get(policy))) for finding, get in FINDINGS.items()}
    out[name] = {k: v for k, v in found.items() if v}
json.dump(out, sys.stdout, sort_keys=True)
