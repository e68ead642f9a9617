"""The serving env's promotion bus: where its models_from env's approval decisions arrive (docs/promotion-serving.md).

The source env's promotion rule forwards its group's Approved and Rejected events here with its promotion role
(EventBridge: "Sending and receiving events between AWS accounts"). The bus policy admits that one role of that one
account, and only SageMaker's model package state changes ("Example policy: Send events to a custom bus in a
different account"); the deployment stack's rule on this bus matches the source account's group alone.
"""
from __future__ import annotations

import awacs.events
from awacs.aws import (Allow, ArnEquals, Condition, ForAllValuesStringEquals, PolicyDocument, Principal, Statement,
                       StringEquals)
from troposphere import Ref, Sub, Template, encode_to_dict, events

from infra.iam import rule_events
from infra.iam.policies import VERSION

SOURCE, DETAIL_TYPE = rule_events.MODEL_PACKAGE_STATE
BUS_ARN = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${PromotionBusName}"
SOURCE_ROOT = "arn:${AWS::Partition}:iam::${ModelsAccountId}:root"
SOURCE_PROMOTION_ROLE = "arn:${AWS::Partition}:iam::${ModelsAccountId}:role${ModelsPromotionRole}"


def bus_policy() -> PolicyDocument:
    """PutEvents by the source env's promotion role only (its account's root as principal, held to the role by
    aws:PrincipalArn: no `*` principal), only SageMaker's model package state changes. events:source is multivalued
    in a PutEvents of several entries, hence ForAllValues (as AWS's example policy)."""
    return PolicyDocument(Version=VERSION, Statement=[Statement(
        Sid="SourcePromotionRolePutsModelDecisions",
        Effect=Allow,
        Principal=Principal("AWS", [Sub(SOURCE_ROOT)]),
        Action=[awacs.events.PutEvents],
        Resource=[Sub(BUS_ARN)],
        Condition=Condition([ArnEquals({"aws:PrincipalArn": Sub(SOURCE_PROMOTION_ROLE)}),
                             ForAllValuesStringEquals({"events:source": [SOURCE]}),
                             StringEquals({"events:detail-type": DETAIL_TYPE})]),
    )])


def add(t: Template) -> events.EventBus:
    return t.add_resource(events.EventBus(
        "PromotionBus",
        Name=Ref("PromotionBusName"),
        Description=Sub("Approval decisions of ${ModelsGroupName} (account ${ModelsAccountId}) for this env's deployment"),
        Policy=encode_to_dict(bus_policy()),
    ))
