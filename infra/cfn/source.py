"""The kinds of source a delivery pipeline follows (config `source.type`); an env's templates hold its own kind's
resources and statements only."""
from __future__ import annotations

SOURCE_TYPES = ("codeconnections", "codecommit", "s3")
