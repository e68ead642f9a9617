"""Test and demo code creates S3 buckets in whatever region config names, us-east-1 included.

S3 wants a LocationConstraint in every region but us-east-1, which refuses one (tests/support/s3.py). A bucket
created with the constraint written out passes in the sample's region and fails `make test` and `make demo` for
an adopter who moves an env to us-east-1. So: the helper works in every region config accepts (moto refuses both
mistakes as S3 does), and nothing else under tests/ calls create_bucket or writes a LocationConstraint.
"""
from __future__ import annotations

import ast
from pathlib import Path

import boto3
from moto import mock_aws

from infra.config.image_registries import BUILT_IN_IMAGE_REGISTRIES
from infra.config.regions import KNOWN_REGIONS, SUPPORTED_PARTITIONS
from tests.support import s3 as s3_support
from tests.support.s3 import create_bucket

TESTS = Path(__file__).resolve().parents[1]
HELPER = Path(s3_support.__file__).resolve()
# The regions infra/config/loader.py accepts for an env.
CONFIG_REGIONS = sorted(r for r, p in KNOWN_REGIONS.items() if p in SUPPORTED_PARTITIONS and r in BUILT_IN_IMAGE_REGISTRIES)


def test_us_east_1_is_among_the_regions_config_accepts():
    assert "us-east-1" in CONFIG_REGIONS and len(CONFIG_REGIONS) > 10


def test_the_helper_creates_a_bucket_in_every_region_config_accepts():
    with mock_aws():
        for region in CONFIG_REGIONS:
            s3 = boto3.client("s3", region_name=region)
            create_bucket(s3, f"bucket-{region}")
            location = s3.get_bucket_location(Bucket=f"bucket-{region}")["LocationConstraint"]
            assert (location or "us-east-1") == region


def _bucket_creations(path: Path) -> list[str]:
    """Each create_bucket method call, CreateBucketConfiguration keyword and {"LocationConstraint": …} in the file."""
    lines = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "create_bucket"
        keyword = isinstance(node, ast.keyword) and node.arg == "CreateBucketConfiguration"
        constraint = isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "LocationConstraint" for k in node.keys)
        if call or keyword or constraint:
            lines.add(node.lineno)
    return [f"{path.name}:{line}" for line in sorted(lines)]


def test_no_code_under_tests_creates_a_bucket_but_the_helper():
    found = [f"{path.relative_to(TESTS.parent).parent}/{hit}" for path in sorted(TESTS.rglob("*.py")) if path.resolve() != HELPER for hit in _bucket_creations(path)]
    assert not found, f"create buckets with tests.support.s3.create_bucket (us-east-1 refuses a LocationConstraint): {found}"


def test_the_scan_sees_a_constraint_written_out(tmp_path):
    """The check catches the shape it forbids, and lets a call of the helper through."""
    bad = tmp_path / "bad.py"
    bad.write_text('s3.create_bucket(Bucket="b", CreateBucketConfiguration={"LocationConstraint": REGION})\n'
                   'create_bucket(s3, "b")\n'
                   'config = {"LocationConstraint": "eu-west-1"}\n')
    assert _bucket_creations(bad) == ["bad.py:1", "bad.py:3"]
