"""The metrics function's ledger: shared/ledger.py's claim-once markers, one per version and count
(<prefix><version>/<metric>), and each decision's record for analysts (decisions.py), created the same way, once,
and kept (<decisions_prefix><version>-<status>-<decided at>.json: a version approved, rejected and approved again
has three records; repeated events of one decision carry its time, so they make one)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shared.ledger import Ledger as Markers

from .events import Change


def version_name(change: Change) -> str:
    """The version number; a version without a usable number is named by its package ARN."""
    if change.version is not None and 0 < change.version < 10**9:
        return str(change.version)
    return "arn-" + hashlib.sha256(change.package_arn.encode("utf-8", "backslashreplace")).hexdigest()[:32]


@dataclass(frozen=True)
class Ledger(Markers):
    decisions_prefix: str  # ends with "/": the decisions table's folder

    def claim_count(self, s3, change: Change, metric: str) -> str | None:
        return self.claim(s3, f"{version_name(change)}/{metric}")

    @staticmethod
    def decision_name(change: Change, decided_at: str | None) -> str:
        at = (decided_at or "unknown").replace("-", "").replace(":", "")
        return f"{version_name(change)}-{change.status}-{at}.json"

    def decision_key(self, change: Change, decided_at: str | None) -> str:
        return self.decisions_prefix + self.decision_name(change, decided_at)

    def record(self, s3, change: Change, body: bytes, decided_at: str | None) -> bool:
        """Create the decision's record; False if an earlier delivery of the same decision made it."""
        records = Markers(self.bucket, self.decisions_prefix)
        return records.claim(s3, self.decision_name(change, decided_at), body) is not None
