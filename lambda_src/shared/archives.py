"""The archive a version is served from is the one that was registered, and serving may load nothing else.

Shared by the env's own Resolve (`pin`), a source env's archive pin function (`pin`, at approval time) and the
Resolve of an env serving another env's models (`verify_pinned`: it may read the source's bucket, never write it).

A model package names its archive by S3 key, and the roles that run the repository's code (the SageMaker jobs)
may write under the pipeline's models/ folder, so a later push could replace the archive of a version a person
already approved. Before anything is deployed, for each container of the version:

1. the archive is in this env's bucket, under its models/ folder (the only place the model role may read);
2. the bucket is versioned, and the key has exactly one object version, no delete marker, written before the
   version was registered: it was written once and never replaced since (any rewrite leaves a second version,
   which the bucket's lifecycle never expires: no version under the SageMaker folder ever does);
3. its serving image is one the endpoints may pull (SERVING_IMAGES: AWS's registry of the region), so a version
   registered with another image stops here, not at the endpoint;
4. that object version gets the ARCHIVE_TAG tag, naming the version. The model role only reads
   tagged archives, so a rewrite after this (a new, untagged object version) fails the next model load instead
   of serving what nobody approved.
"""
from __future__ import annotations

import os
import re

from . import clients
from .contract import ARCHIVE_TAG
from .pipeline_job import Failed

IMAGE_REFERENCE = r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})"  # a tag or a digest, as ECR takes them
MAX_PAGES = 5  # an archive written once has one version; more pages than this mean it was rewritten


class NotPinned(Exception):
    """The archives pass the checks but are not tagged for this version yet (the source env pins them)."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {str(uri)[:200]!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket or not key:
        raise ValueError(f"not an s3://bucket/key URI: {uri[:200]!r}")
    return bucket, key


def settings() -> tuple[str, str]:
    """ARCHIVE_BUCKET and ARCHIVE_PREFIX: the bucket and models/ folder the archives must be in."""
    bucket, prefix = os.environ.get("ARCHIVE_BUCKET", ""), os.environ.get("ARCHIVE_PREFIX", "")
    if not bucket or not prefix.endswith("/"):
        raise Failed("misconfigured", "the function's ARCHIVE_BUCKET or ARCHIVE_PREFIX (ending in /) environment "
                                      "variable is not set", "ConfigurationError")
    return bucket, prefix


def _images_allowed() -> tuple[str, ...]:
    images = tuple(i for i in os.environ.get("SERVING_IMAGES", "").split(",") if i)
    if not images:
        raise Failed("misconfigured", "the function's SERVING_IMAGES environment variable is not set", "ConfigurationError")
    return images


def check_images(package: dict) -> None:
    """Each container's image is one of SERVING_IMAGES (AWS's registry of the region, by repository), any tag or
    digest: the model role may pull nothing else, so another image would fail at the endpoint; say so now."""
    allowed = _images_allowed()
    for index, container in enumerate((package.get("InferenceSpecification") or {}).get("Containers") or []):
        image = container.get("Image")
        if not isinstance(image, str) or not any(re.fullmatch(re.escape(repository) + IMAGE_REFERENCE, image)
                                                  for repository in allowed):
            raise Failed("image_elsewhere", f"container {index} of version {package.get('ModelPackageVersion')} names "
                                            f"image {str(image)[:300]}, not one of {', '.join(allowed)} (the images "
                                            "the endpoints may pull); nothing was deployed")


def archives(package: dict) -> list[str]:
    """The s3:// URL of each container's archive; a version whose container has none (or names its model data
    another way) cannot be checked, so it is not deployed."""
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers:
        raise Failed("no_archive", f"version {package.get('ModelPackageVersion')} has no inference containers; "
                                   "nothing was deployed")
    urls = []
    for index, container in enumerate(containers):
        url = container.get("ModelDataUrl")
        if not isinstance(url, str) or not url:
            raise Failed("no_archive", f"container {index} of version {package.get('ModelPackageVersion')} names no "
                                       "ModelDataUrl (an archive this deployment can check); nothing was deployed")
        urls.append(url)
    return urls


def _versions(bucket: str, key: str) -> tuple[list[dict], int]:
    """The object versions and the number of delete markers of exactly `key`. S3 lists versions in key order, so
    once a page holds a longer key that starts with `key`, every version of `key` has been seen."""
    s3 = clients.client("s3")
    request, versions, markers = {"Bucket": bucket, "Prefix": key}, [], 0
    for _ in range(MAX_PAGES):
        page = s3.list_object_versions(**request)
        entries = list(page.get("Versions") or []) + list(page.get("DeleteMarkers") or [])
        versions += [v for v in page.get("Versions") or [] if v.get("Key") == key]
        markers += sum(1 for m in page.get("DeleteMarkers") or [] if m.get("Key") == key)
        if not page.get("IsTruncated") or any(e.get("Key") != key for e in entries):
            return versions, markers
        request.update(KeyMarker=page.get("NextKeyMarker", ""), VersionIdMarker=page.get("NextVersionIdMarker", ""))
    raise Failed("archive_rewritten", f"s3://{bucket}/{key} has more object versions than {MAX_PAGES} pages list: "
                                      "it was written more than once; nothing was deployed")


def _versioned(bucket: str) -> None:
    """Rewrites leave a trace only while the bucket keeps versions (the pipeline stack turns versioning on, and its
    lifecycle keeps the newest noncurrent version of every key)."""
    status = clients.client("s3").get_bucket_versioning(Bucket=bucket).get("Status", "")
    if status != "Enabled":
        raise Failed("archive_unverifiable", f"bucket {bucket} has versioning {status or 'off'}, not Enabled: whether a "
                                             "model archive was rewritten cannot be seen; nothing was deployed",
                     "ConfigurationError")


def check(package: dict, bucket: str, prefix: str) -> list[tuple[str, str]]:
    """Checks 1-3 of the module's docstring on each archive of `package`; (key, object version id) of each."""
    check_images(package)
    _versioned(bucket)
    registered = package.get("CreationTime")
    version = package.get("ModelPackageVersion")
    checked = []
    for url in archives(package):
        try:
            archive_bucket, key = split_s3_uri(url)
        except ValueError as exc:
            raise Failed("archive_elsewhere", f"version {version}: {exc}; nothing was deployed") from None
        if archive_bucket != bucket or not key.startswith(prefix) or "/../" in f"/{key}/":
            raise Failed("archive_elsewhere", f"version {version} serves {url[:300]}, outside s3://{bucket}/{prefix} "
                                              "where this env's models are; nothing was deployed")
        versions, markers = _versions(bucket, key)
        if not versions:
            raise Failed("archive_missing", f"the archive of version {version}, {url[:300]}, does not exist; nothing "
                                            "was deployed")
        if len(versions) > 1 or markers:
            raise Failed("archive_rewritten", f"the archive of version {version}, {url[:300]}, was written more than "
                                              f"once ({len(versions)} object versions, {markers} deletions): it may not "
                                              "be what was registered and approved; nothing was deployed. Register "
                                              "the model again and approve the new version", group=package.get(
                                                  "ModelPackageGroupName", ""))
        written = versions[0].get("LastModified")
        if registered is None or written is None or written > registered:
            raise Failed("archive_rewritten", f"the archive of version {version}, {url[:300]}, was written at "
                                              f"{written}, after the version was registered at {registered}: it is "
                                              "not what was registered and approved; nothing was deployed")
        checked.append((key, versions[0].get("VersionId") or "null"))
    return checked


def pin(package: dict, bucket: str, prefix: str) -> list[str]:
    """Check and tag each archive of `package` (see the module's docstring); the tagged object versions."""
    pinned = []
    for key, object_version in check(package, bucket, prefix):
        clients.client("s3").put_object_tagging(
            Bucket=bucket, Key=key, VersionId=object_version,
            Tagging={"TagSet": [{"Key": ARCHIVE_TAG, "Value": package["ModelPackageArn"]}]})
        pinned.append(f"s3://{bucket}/{key}?versionId={object_version}")
    return pinned


def verify_pinned(package: dict, bucket: str, prefix: str) -> list[str]:
    """Check each archive of `package` and that its object version carries ARCHIVE_TAG = the version's ARN, without
    writing anything; raises NotPinned while a checked archive is not tagged for this version (yet)."""
    pinned = []
    for key, object_version in check(package, bucket, prefix):
        tags = clients.client("s3").get_object_tagging(Bucket=bucket, Key=key, VersionId=object_version)
        if {"Key": ARCHIVE_TAG, "Value": package["ModelPackageArn"]} not in (tags.get("TagSet") or []):
            raise NotPinned(f"s3://{bucket}/{key} (object version {object_version}) has no {ARCHIVE_TAG} tag naming "
                            f"version {package.get('ModelPackageVersion')}")
        pinned.append(f"s3://{bucket}/{key}?versionId={object_version}")
    return pinned
