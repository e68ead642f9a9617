"""Count each registration and each decision once, though SageMaker may send an event more than once.

A count is claimed by creating an empty marker object with a conditional write (If-None-Match: *):
S3 lets exactly one writer create a key, so of two deliveries of one change, or of a change and an
unrelated update of the same version (SageMaker sends one for every field it changes), only the first
claims the count. Keys: <prefix><version>/<metric>. A claim whose publishing then fails is released
again, so the retry can claim it.
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

    def key(self, change: Change, metric: str) -> str:
        if change.version is not None and 0 < change.version < 10**9:
            version = str(change.version)
        else:  # no usable version number: the package ARN identifies the version
            version = "arn-" + hashlib.sha256(change.package_arn.encode("utf-8", "backslashreplace")).hexdigest()[:32]
        return f"{self.prefix}{version}/{metric}"

    def claim(self, s3, change: Change, metric: str) -> str | None:
        """The marker key if this call claimed the count, None if it was claimed before."""
        key = self.key(change, metric)
        try:
            s3.put_object(Bucket=self.bucket, Key=key, Body=b"", IfNoneMatch="*")
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "412"):
                return None
            # 409 ConditionalRequestConflict: a concurrent write of the same key; raise, the retry decides.
            raise
        return key

    def release(self, s3, keys: list[str]) -> None:
        for key in keys:
            s3.delete_object(Bucket=self.bucket, Key=key)
