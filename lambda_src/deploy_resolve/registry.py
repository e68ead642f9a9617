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


def newest_approved(group: str) -> dict | None:
    """DescribeModelPackage of the newest Approved version, or None when the group has none."""
    for _ in range(MAX_LOOKS):
        summary = _newest_approved_summary(group)
        if summary is None:
            return None
        described = clients.client("sagemaker").describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        if described.get("ModelApprovalStatus") == "Approved" and described.get("ModelPackageGroupName") == group:
            described.pop("ResponseMetadata", None)
            return described
    raise RegistryChanged(f"the newest Approved version of {group} changed status {MAX_LOOKS} times while resolving")
