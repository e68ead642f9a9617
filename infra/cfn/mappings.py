"""The CloudFormation Mappings our templates may hold: values that differ by region, not by environment.

An env's templates hold the entry of its own region: a statement names a mapped value with its lookup function
(what the template says reads as where the value comes from); the stack that holds such a statement adds the
mapping with add_*.
"""
from __future__ import annotations

from troposphere import AWS_REGION, FindInMap, Ref, Template

from infra.config.image_registries import BUILT_IN_IMAGE_REGISTRIES

IMAGE_REGISTRY_MAPPING = "BuiltInImageRegistry"
IMAGE_REGISTRY_ACCOUNT = "Account"


def image_registry_account() -> FindInMap:
    """The account of AWS's registry of SageMaker's built-in images in the stack's region."""
    return FindInMap(IMAGE_REGISTRY_MAPPING, Ref(AWS_REGION), IMAGE_REGISTRY_ACCOUNT)


def add_image_registries(template: Template, region: str) -> None:
    """The BuiltInImageRegistry mapping for the env's region (config refuses a region missing from
    infra/config/image_registries.py)."""
    template.add_mapping(IMAGE_REGISTRY_MAPPING, {region: {IMAGE_REGISTRY_ACCOUNT: BUILT_IN_IMAGE_REGISTRIES[region]}})
