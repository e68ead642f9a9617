"""The version to deploy: the newest Approved version of the group, read from the registry at run time.

Nothing comes from the event that started the pipeline: a replayed or late "Approved" event for an
older version still deploys the newest Approved one, and a rejected version is never deployed.
"""
from __future__ import annotations

from shared import clients

PAGE_SIZE = 10
# ListModelPackages sorts the whole result before paging, so the newest is the first item of the first
# non-empty page. Pages may come back empty with a NextToken; stop following them after this many.
MAX_PAGES = 50
# A version rejected (or approved) between the list and the describe: look again, this many times.
MAX_LOOKS = 3


class RegistryChanged(Exception):
    pass


def _newest_approved_summary(group: str) -> dict | None:
    sagemaker = clients.client("sagemaker")
    request = {"ModelPackageGroupName": group, "ModelApprovalStatus": "Approved", "SortBy": "CreationTime",
               "SortOrder": "Descending", "MaxResults": PAGE_SIZE}
    for _ in range(MAX_PAGES):
        page = sagemaker.list_model_packages(**request)
        summaries = page.get("ModelPackageSummaryList") or []
        if summaries:
            return summaries[0]
        if not page.get("NextToken"):
            return None
        request["NextToken"] = page["NextToken"]
    raise RegistryChanged(f"ListModelPackages returned {MAX_PAGES} empty pages for {group}")


def _in_group(described: dict, group: str) -> bool:
    """The version belongs to `group`: by name, and where the group is given by ARN (another account's), by the
    version's ARN too (that account and region)."""
    name = group.rpartition("/")[2]
    versions = group.replace(":model-package-group/", ":model-package/", 1) + "/"
    return described.get("ModelPackageGroupName") == name and (
        not group.startswith("arn:") or str(described.get("ModelPackageArn", "")).startswith(versions))


def newest_approved(group: str) -> dict | None:
    """DescribeModelPackage of the newest Approved version of `group` (a name, or the ARN of another account's group),
    or None when the group has none."""
    for _ in range(MAX_LOOKS):
        summary = _newest_approved_summary(group)
        if summary is None:
            return None
        described = clients.client("sagemaker").describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        if not _in_group(described, group):
            raise RegistryChanged(f"{str(described.get('ModelPackageArn'))[:300]}, listed in {group}, is not one of its "
                                  "versions; nothing was deployed")
        if described.get("ModelApprovalStatus") == "Approved":
            described.pop("ResponseMetadata", None)
            return described
    raise RegistryChanged(f"the newest Approved version of {group} changed status {MAX_LOOKS} times while resolving")
