"""Do a thing once per change, though SageMaker may send an event more than once (and retries repeat it).

A change is claimed by creating an empty marker object with a conditional write (If-None-Match: *): S3 lets
exactly one writer create a key, so of two deliveries of one change only the first claims it. A claim whose work
then fails is released again, so the retry can claim it. Markers live under one prefix per model package group.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ledger:
    bucket: str
    prefix: str  # ends with "/"

    def claim(self, s3, name: str, body: bytes = b"") -> str | None:
        """The marker key if this call claimed `name` (creating it with `body`), None if it was claimed before."""
        key = self.prefix + name
        try:
            s3.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
        except Exception as exc:  # botocore's ClientError, not imported: a function that ignores an event never loads it
            code = str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "412"):
                return None
            # 409 ConditionalRequestConflict: a concurrent write of the same key; raise, the retry decides.
            raise
        return key

    def release(self, s3, keys: list[str]) -> None:
        for key in keys:
            s3.delete_object(Bucket=self.bucket, Key=key)
