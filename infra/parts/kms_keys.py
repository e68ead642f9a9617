"""Customer managed KMS keys: rotated, retained, named by an alias from a parameter."""
from __future__ import annotations

from awacs.aws import PolicyDocument
from troposphere import Ref, Sub, Template, kms

from infra.cfn.templates_common import RETAIN_DELETION, RETAIN_REPLACEMENT


def customer_managed_key(template: Template, logical_id: str, alias_logical_id: str, alias_param: str,
                         description: str, policy: PolicyDocument) -> kms.Key:
    """The key and its alias. Logical IDs are passed in, never derived: renaming one replaces the key.

    Only stacks an administrator deploys create keys (no deploy role holds kms:CreateKey), so KMS's lockout check
    holds: the creator may change the key policy later, through the AccountAdministers statement."""
    key = template.add_resource(kms.Key(
        logical_id,
        Description=Sub(description),
        EnableKeyRotation=True,
        KeyPolicy=policy,
        DeletionPolicy=RETAIN_DELETION,
        UpdateReplacePolicy=RETAIN_REPLACEMENT,
    ))
    template.add_resource(kms.Alias(alias_logical_id, AliasName=Ref(alias_param), TargetKeyId=Ref(key)))
    return key
