"""`make deploy`'s checks of the other account in a promotion (deployment.models_from, docs/promotion.md).

The source env (A) is deployed first, the serving env (B) after it. B's deploy looks, with B's credentials only,
whether A's model package group admits B (the group policy's `ServingAccountSeesTheGroup` statement, deployed in
A's pipeline stack with A's bucket and key policies); A's deploy never waits for B, whose bus A cannot describe.
"""
from __future__ import annotations

from infra.config import names as names_mod

# What SageMaker answers a caller the group's policy does not name, or for a group that does not exist (yet).
NOT_GRANTED = ("AccessDenied", "AccessDeniedException", "ValidationException", "ResourceNotFound",
               "ResourceNotFoundException")


def group_arn(source: names_mod.Names, partition: str) -> str:
    return (f"arn:{partition}:sagemaker:{source.env.region}:{source.env.account_id}:model-package-group/"
            f"{source.model_package_group}")


def missing_grant(sagemaker, n: names_mod.Names, partition: str) -> str | None:
    """In an env that serves another env's models: None when A's group is visible to B's credentials, else one line
    naming A, its account and what to run there. Elsewhere None: nothing to check."""
    source = n.models_source
    if source is None:
        return None
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group_arn(source, partition))
    except Exception as exc:  # noqa: BLE001 - botocore's ClientError; anything else (no connection) goes on up
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code not in NOT_GRANTED:
            raise
        account = source.env.account_id
        return (f"{source.env_name} (account {account}) does not grant {n.env_name} its models yet "
                f"(SageMaker: {code} on {source.model_package_group}): run `make deploy ENV={source.env_name}` "
                f"in account {account} first (if it ran, your credentials here lack sagemaker:DescribeModelPackageGroup "
                "on that group)")
    return None


def taker_note(n: names_mod.Names) -> str | None:
    """One line for a source env's deploy: B's side is B's deploy's to check (EventBridge lets another account put
    events on a bus, not describe it), and until B's bus exists the forwarded decisions land in the rule's
    dead-letter queue."""
    taker = n.models_taker
    if taker is None:
        return None
    return (f"{taker.env_name} (account {taker.env.account_id}) serves {n.env_name}'s models: `make deploy "
            f"ENV={taker.env_name}` in account {taker.env.account_id} checks its side; until its bus "
            f"{taker.promotion_bus} exists, the decisions {n.promotion_rule} forwards land in {n.archive_pin_dlq}")
