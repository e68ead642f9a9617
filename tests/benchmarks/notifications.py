"""The notifier Lambda: cold import of its handler in a fresh process, and per-event handling against moto."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from tests.benchmarks.common import PY, ROOT, Row

_IMPORT = (
    "import resource, sys, time; sys.path.insert(0, 'lambda_src'); t = time.perf_counter();"
    "import get_model_metadata.handler; d = time.perf_counter() - t;"
    "print(d, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
)
_FIRST_CLIENTS = (
    "import sys, time; t = time.perf_counter();"
    "import boto3; boto3.client('sns', region_name='eu-west-1'); boto3.client('sagemaker', region_name='eu-west-1');"
    "boto3.client('s3', region_name='eu-west-1'); import resource;"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
)


def _cold(code: str, runs: int = 7) -> list[list[float]]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    out = [subprocess.run([PY, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.split()
           for _ in range(runs)]
    return [[float(x) for x in row] for row in out]


def _per_event_ms(runs: int = 30) -> tuple[float, float]:
    """Median ms per approved event (describe + report + publish) and per ignored event, against moto."""
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
                       "AWS_EC2_METADATA_DISABLED": "true"})
    sys.path.insert(0, str(ROOT / "lambda_src"))
    sys.path.insert(0, str(ROOT))
    import pytest  # noqa: F401 - the test helpers import it
    from moto import mock_aws

    from get_model_metadata import aws, handler
    from tests.support.notifier_support import sample_event
    from tests.support.notifier_world import BUCKET, LEDGER_PREFIX, World

    class Env:  # World wants pytest's monkeypatch; only setenv is used
        @staticmethod
        def setenv(key, value):
            os.environ[key] = value

    with mock_aws():
        aws.reset()
        world = World(Env)
        world.put_report()
        world.register(ModelApprovalStatus="Approved", ApprovalDescription="ok")
        approved, other = sample_event("approved"), sample_event("approved_in_other_group")
        real_stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # the handler's JSON log lines
        try:
            handler.lambda_handler(approved)  # warm: clients created
            timings = {"approved": [], "ignored": []}
            for _ in range(runs):
                for name, event in (("approved", approved), ("ignored", other)):
                    for marker in world.s3.list_objects_v2(Bucket=BUCKET, Prefix=LEDGER_PREFIX).get("Contents", []):
                        world.s3.delete_object(Bucket=BUCKET, Key=marker["Key"])  # each run a first delivery
                    t = time.perf_counter()
                    handler.lambda_handler(json.loads(json.dumps(event)))
                    timings[name].append((time.perf_counter() - t) * 1000)
        finally:
            sys.stdout.close()
            sys.stdout = real_stdout
        aws.reset()
    return statistics.median(timings["approved"]), statistics.median(timings["ignored"])


def rows() -> list[Row]:
    imports = _cold(_IMPORT)
    seconds = statistics.median(r[0] for r in imports)
    rss = max(r[1] for r in imports)
    first = _cold(_FIRST_CLIENTS, runs=5)
    clients, clients_rss = statistics.median(r[0] for r in first), max(r[1] for r in first)
    approved_ms, ignored_ms = _per_event_ms()
    return [
        Row("notifier handler cold import, median s", f"{seconds:.4f}", "< 0.3 s", "ok" if seconds < 0.3 else "OVER"),
        Row("notifier handler import, process peak RSS, MB", f"{rss:.1f}", "< 64 MB", "ok" if rss < 64 else "OVER"),
        Row("notifier first notified event: import boto3 + 3 clients, median s", f"{clients:.3f}", "(paid once per container)"),
        Row("notifier process peak RSS after boto3 + 3 clients, MB", f"{clients_rss:.1f}", "(Lambda memory: 256 MB)"),
        Row("notifier approved event vs moto (describe, report, claim, publish), median ms", f"{approved_ms:.1f}"),
        Row("notifier ignored event, median ms", f"{ignored_ms:.3f}"),
    ]
