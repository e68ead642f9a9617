"""No account ids, real-account ARNs, access keys or people's emails hard-coded outside config/.

templates/ is rendered from config/ (its addresses become subscriptions) and `generate.py --check`
holds it to what the code renders, so it is scanned through the code that writes it, not itself.
"""
from __future__ import annotations

import re
import subprocess

from infra.config.image_registries import BUILT_IN_IMAGE_REGISTRIES
from tests.conftest import ROOT

# Documentation/test placeholders: AWS's own example account and obviously fake ones; and the accounts of AWS's
# registries of SageMaker's built-in images, public and held to the SageMaker SDK's data by tests/iam/test_image_registries.py.
PLACEHOLDER_ACCOUNTS = {"123456789012", "111111111111", "222222222222", "000000000000", "999999999999",
                        *BUILT_IN_IMAGE_REGISTRIES.values()}
PLACEHOLDER_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

ACCOUNT_IN_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")
ACCOUNT_ANYWHERE = re.compile(r"(?<![\d.])(\d{12})(?![\d.])")
ACCESS_KEY = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")
SECRET_KEY = re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*['\"]?(?!testing)[A-Za-z0-9/+=]{40}")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def _tracked_files():
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True)
    for rel in sorted(set(out.stdout.split())):
        path = ROOT / rel
        if rel.startswith(("config/", "templates/")) or not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            yield rel, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue


def test_no_real_account_ids_keys_or_emails_outside_config():
    problems = []
    for rel, text in _tracked_files():
        for match in ACCOUNT_IN_ARN.finditer(text):
            if match.group(1) not in PLACEHOLDER_ACCOUNTS:
                problems.append(f"{rel}: ARN with account {match.group(1)}")
        for match in ACCOUNT_ANYWHERE.finditer(text):
            if match.group(1) not in PLACEHOLDER_ACCOUNTS and not rel.startswith("requirements"):
                problems.append(f"{rel}: 12-digit number {match.group(1)} looks like an account id")
        problems += [f"{rel}: access key id {m.group(0)[:8]}…" for m in ACCESS_KEY.finditer(text)]
        problems += [f"{rel}: secret access key" for _ in SECRET_KEY.finditer(text)]
        for match in EMAIL.finditer(text):
            domain = match.group(1).lower()
            if not domain.endswith(PLACEHOLDER_EMAIL_DOMAINS) and not domain.endswith(("amazonaws.com", "amazon.com")):
                problems.append(f"{rel}: email {match.group(0)}")
    assert not problems, "\n".join(problems)


def test_the_scan_would_catch_a_leak(tmp_path):
    # Assembled at run time so this file does not trip its own scan.
    account, key, person = "4938" + "27164510", "AKIA" + "ABCDEFGHIJKLMNOP", "jane.doe" + "@corp.io"
    sample = f"role: arn:aws:iam::{account}:role/admin\nkey: {key}\nowner: {person}\n"
    assert ACCOUNT_IN_ARN.search(sample).group(1) == account
    assert ACCESS_KEY.search(sample)
    assert EMAIL.search(sample).group(1) == "corp.io"
