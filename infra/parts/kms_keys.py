"""Customer managed KMS keys: rotated, retained, named by an alias from a parameter."""
from __future__ import annotations

from awacs.aws import PolicyDocument
from troposphere import Ref, Sub, Template, kms

from infra.cfn.templates_common import RETAIN_DELETION, RETAIN_REPLACEMENT


def customer_managed_key(template: Template, logical_id: str, alias_logical_id: str, alias_param: str,
                         description: str, policy: PolicyDocument, created_by_pipeline: bool = False) -> kms.Key:
    """The key and its alias. Logical IDs are passed in, never derived: renaming one replaces the key.

    A key the delivery pipeline creates (its stack is not bootstrapped by an administrator) skips KMS's lockout
    check: that check wants the creator able to change the key policy later, and the deploy roles may not (the
    account's administrators may, through the policy's AccountAdministers statement, so the key is never locked).
    """
    key = template.add_resource(kms.Key(
        logical_id,
        Description=Sub(description),
        EnableKeyRotation=True,
        KeyPolicy=policy,
        DeletionPolicy=RETAIN_DELETION,
        UpdateReplacePolicy=RETAIN_REPLACEMENT,
        **({"BypassPolicyLockoutSafetyCheck": True} if created_by_pipeline else {}),
    ))
    template.add_resource(kms.Alias(alias_logical_id, AliasName=Ref(alias_param), TargetKeyId=Ref(key)))
    return key
