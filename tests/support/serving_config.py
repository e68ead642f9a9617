"""An env file of a test config made to serve models, as config requires of such an env."""
from __future__ import annotations

from infra.config.names import OFFLINE_ACCOUNT


def serve(data: dict, deployment: dict | None = None, release_approval: bool = True) -> None:
    """`data` (an env file's mapping) gets a deployment block, release approval and someone who may approve its
    versions, a principal of its account (the connection's, when it names none)."""
    data["deployment"] = {} if deployment is None else deployment
    data.setdefault("operations", {})["release_approval"] = release_approval
    connection = data.get("source", {}).get("connection_arn")
    data["account_id"] = data.get("account_id") or (connection.split(":")[4] if connection else OFFLINE_ACCOUNT)
    sagemaker = data.setdefault("sagemaker", {})
    if not sagemaker.get("approvers"):
        sagemaker["approvers"] = [f"arn:aws:iam::{data['account_id']}:role/model-approver"]
