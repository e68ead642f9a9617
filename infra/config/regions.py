"""AWS regions, by partition, as botocore 1.44.8 ships them (botocore/data/partitions.json).

Kept here so the generator validates a region offline without installing botocore (the Synth step
installs only what generating needs); tests/config/test_config_errors.py holds this table to the data of the
pinned botocore, so a botocore upgrade that knows a new region says to add it. `python -m infra.ops.lint_regions`
prints the regions config/ uses (for `make lint`).
"""
from __future__ import annotations

# Service principals and endpoints differ in the other partitions (logs.<region>.amazonaws.com.cn, …),
# and nothing here is checked there: config refuses their regions with a clear line instead.
SUPPORTED_PARTITIONS = ("aws",)

# region -> partition
KNOWN_REGIONS: dict[str, str] = {
    "af-south-1": "aws",
    "ap-east-1": "aws",
    "ap-east-2": "aws",
    "ap-northeast-1": "aws",
    "ap-northeast-2": "aws",
    "ap-northeast-3": "aws",
    "ap-south-1": "aws",
    "ap-south-2": "aws",
    "ap-southeast-1": "aws",
    "ap-southeast-2": "aws",
    "ap-southeast-3": "aws",
    "ap-southeast-4": "aws",
    "ap-southeast-5": "aws",
    "ap-southeast-6": "aws",
    "ap-southeast-7": "aws",
    "ca-central-1": "aws",
    "ca-west-1": "aws",
    "cn-north-1": "aws-cn",
    "cn-northwest-1": "aws-cn",
    "eu-central-1": "aws",
    "eu-central-2": "aws",
    "eu-isoe-west-1": "aws-iso-e",
    "eu-north-1": "aws",
    "eu-south-1": "aws",
    "eu-south-2": "aws",
    "eu-west-1": "aws",
    "eu-west-2": "aws",
    "eu-west-3": "aws",
    "eusc-de-east-1": "aws-eusc",
    "il-central-1": "aws",
    "me-central-1": "aws",
    "me-south-1": "aws",
    "me-west-1": "aws",
    "mx-central-1": "aws",
    "sa-east-1": "aws",
    "sa-west-1": "aws",
    "us-east-1": "aws",
    "us-east-2": "aws",
    "us-gov-east-1": "aws-us-gov",
    "us-gov-west-1": "aws-us-gov",
    "us-iso-east-1": "aws-iso",
    "us-iso-west-1": "aws-iso",
    "us-isob-east-1": "aws-iso-b",
    "us-isob-west-1": "aws-iso-b",
    "us-isof-east-1": "aws-iso-f",
    "us-isof-south-1": "aws-iso-f",
    "us-west-1": "aws",
    "us-west-2": "aws",
}
