"""Create a bucket in any region: the one way tests/ (and `make demo`, `make bench`) make S3 buckets.

CreateBucket takes the bucket's region as `CreateBucketConfiguration.LocationConstraint`, except in us-east-1, where
S3 refuses one (`InvalidLocationConstraint`: botocore's S3 model leaves us-east-1 out of `BucketLocationConstraint`'s
values; a request without one goes to us-east-1). moto enforces both ways, so a test that writes the constraint
itself passes in the sample's region and fails for an adopter in us-east-1. tests/repo/test_buckets_in_any_region.py keeps
every other create_bucket call out of tests/.
"""
from __future__ import annotations

# Regions whose buckets are created without a LocationConstraint (S3 API reference, CreateBucketConfiguration).
NO_LOCATION_CONSTRAINT = frozenset({"us-east-1"})


def create_bucket(s3, bucket: str, **kwargs) -> dict:
    """CreateBucket in the client's own region (`s3.meta.region_name`); kwargs go to CreateBucket as they are."""
    region = s3.meta.region_name
    if region not in NO_LOCATION_CONSTRAINT:
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    return s3.create_bucket(Bucket=bucket, **kwargs)
