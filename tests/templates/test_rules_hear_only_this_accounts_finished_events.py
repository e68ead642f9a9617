"""Every EventBridge rule of every env (config/ and its variants, every stack) hears only its own account's events (a
rule on the promotion bus of an env serving another env's models: that env's account's, docs/promotion.md), and
every rule on model package state changes only finished packages: SageMaker also reports a package InProgress (and
Failed, Deleting) and may send several events per change ("Events that Amazon SageMaker sends to Amazon
EventBridge", SageMaker developer guide). A rule that forgets either is caught here, whichever stack it is in."""
from __future__ import annotations

import pytest

from infra.iam import rule_events
from tests.support import resolve
from tests.support.concrete_envs import env_renders
from tests.support.events import deliver, stranger
from tests.support.notifier_support import for_group, sample_event


@pytest.fixture(scope="module")
def rules(project, rendered) -> list[tuple[str, dict, list]]:
    """("label: stack logical-id", pattern, the account it must hear) of every rule every env renders."""
    found = [(f"{env.label}: {stack} {rid}", resource["Properties"]["EventPattern"], _heard(env, resource["Properties"]))
             for env in env_renders(project, rendered) for stack in env.stacks
             for rid, resource in env.template(stack)["Resources"].items() if resource["Type"] == "AWS::Events::Rule"]
    assert found
    return found


def _heard(env, rule: dict) -> list:
    """The env's own account; on the promotion bus of an env serving another env's models, that env's account."""
    source = env.names.models_source
    if source and rule.get("EventBusName") == env.names.promotion_bus:
        return [source.env.account_id]
    return [{"Ref": "AWS::AccountId"}]


def test_every_rule_pins_the_envs_own_account(rules):
    strangers_heard = [where for where, pattern, heard in rules if pattern.get("account") != heard]
    assert not strangers_heard, f"rules that do not pin account to AWS::AccountId: {strangers_heard}"


def test_every_model_package_rule_hears_finished_packages_only(rules):
    package_rules = [(where, p) for where, p, _ in rules if p["detail-type"] == [rule_events.MODEL_PACKAGE_STATE[1]]]
    assert package_rules
    unfinished_heard = [where for where, p in package_rules if p["detail"].get("ModelPackageStatus") != ["Completed"]]
    assert not unfinished_heard, f"model package rules that hear unfinished packages: {unfinished_heard}"


@pytest.mark.every_env
def test_a_documented_approval_reaches_each_package_rule_from_this_account_finished_only(rendered, project, env):
    """moto's EventBridge, the developer guide's event shape: the same approval arrives once from this account with the
    package Completed, never InProgress, never from another account."""
    for stack in ("notifications", "kpi", "deployment"):
        if f"{env}/{stack}.yaml" not in rendered:
            continue
        evaluated = resolve.alone(rendered, project, env, stack)
        for logical_id, resource in evaluated.template["Resources"].items():
            if resource["Type"] != "AWS::Events::Rule":
                continue
            pattern = evaluated.value(resource["Properties"]["EventPattern"])
            if pattern["detail-type"] != [rule_events.MODEL_PACKAGE_STATE[1]]:
                continue
            event = for_group(sample_event("approved"), pattern["detail"]["ModelPackageGroupName"][0])
            in_progress = for_group(sample_event("approved"), pattern["detail"]["ModelPackageGroupName"][0])
            in_progress["detail"]["ModelPackageStatus"] = "InProgress"
            region = project.env(env).region
            if "Approved" in pattern["detail"]["ModelApprovalStatus"]:
                assert len(deliver(pattern, region, [event, in_progress])) == 1, f"{stack} {logical_id}"
            assert deliver(pattern, region, [event], account=stranger(pattern)) == [], f"{stack} {logical_id}"
