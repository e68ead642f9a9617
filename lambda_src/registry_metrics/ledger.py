"""Count each registration and each decision once, though SageMaker may send an event more than once.

A count is claimed by creating an empty marker object with a conditional write (If-None-Match: *):
S3 lets exactly one writer create a key, so of two deliveries of one change, or of a change and an
unrelated update of the same version (SageMaker sends one for every field it changes), only the first
claims the count. Keys: <prefix><version>/<metric>. A claim whose publishing then fails is released
again, so the retry can claim it. Each decision's record (decisions.py) is created the same way, once, and kept.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from botocore.exceptions import ClientError

from .events import Change


@dataclass(frozen=True)
class Ledger:
    bucket: str
    prefix: str  # ends with "/"; one per model package group
    decisions_prefix: str  # likewise: the decisions table's folder

    @staticmethod
    def version(change: Change) -> str:
        if change.version is not None and 0 < change.version < 10**9:
            return str(change.version)
        # no usable version number: the package ARN identifies the version
        return "arn-" + hashlib.sha256(change.package_arn.encode("utf-8", "backslashreplace")).hexdigest()[:32]

    def key(self, change: Change, metric: str) -> str:
        return f"{self.prefix}{self.version(change)}/{metric}"

    def decision_key(self, change: Change) -> str:
        return f"{self.decisions_prefix}{self.version(change)}-{change.status}.json"

    def claim(self, s3, change: Change, metric: str) -> str | None:
        """The marker key if this call claimed the count, None if it was claimed before."""
        key = self.key(change, metric)
        return key if self._create(s3, key, b"") else None

    def record(self, s3, change: Change, record: bytes) -> bool:
        """Create the decision's record; False if an earlier delivery of the change made it."""
        return self._create(s3, self.decision_key(change), record)

    def _create(self, s3, key: str, body: bytes) -> bool:
        try:
            s3.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "412"):
                return False
            # 409 ConditionalRequestConflict: a concurrent write of the same key; raise, the retry decides.
            raise
        return True

    def release(self, s3, keys: list[str]) -> None:
        for key in keys:
            s3.delete_object(Bucket=self.bucket, Key=key)
