"""An env serving another env's models (deployment.models_from) reaches into that account for exactly what the source
env's policies grant it (docs/promotion.md), read from the rendered PROMOTION variant:

- every statement of the serving env's roles that names the source account is a row of GRANTS (role, Sid, actions,
  resources, conditions), and every row is there, unchanged: an added action, resource or role, or a dropped
  condition, fails;
- no other statement of the serving env names the source account: its boundaries only with the rows' resources;
- its promotion bus admits the source's promotion role alone, for SageMaker's model package state changes only;
- its DeploymentRule listens on that bus for the source account's group alone.

Rows name config values (${ModelsAccountId}…: infra/cfn/parameters.py) as the stacks do; the env's are written in.
"""
from __future__ import annotations

import copy
import json

import pytest
import yaml

from tests.support.cfn import role_statements
from tests.support.concrete_envs import PROMOTION, EnvRender, variant_renders
from tests.support.policy_eval import Request, allowed
from tests.support.resolve import alone

GROUP = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${ModelsAccountId}:model-package-group/${ModelsGroupName}"
VERSIONS = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${ModelsAccountId}:model-package/${ModelsGroupName}/*"
BUCKET = "arn:${AWS::Partition}:s3:::${ModelsBucketName}"
ARCHIVES = "arn:${AWS::Partition}:s3:::${ModelsBucketName}/${ModelsArchivePrefix}*"
KEYS = "arn:${AWS::Partition}:kms:${AWS::Region}:${ModelsAccountId}:key/*"
OWNED = {"aws:ResourceAccount": "${ModelsAccountId}"}  # the bucket is the source account's, not a name anyone may take
PINNED = {"StringLike": {"s3:ExistingObjectTag/approved-model-package": VERSIONS}, "StringEquals": OWNED}
LISTED = {"StringLike": {"s3:prefix": "${ModelsArchivePrefix}*"}, "StringEquals": OWNED}
THROUGH_S3 = {"StringEquals": {"kms:EncryptionContext:aws:s3:arn": BUCKET,
                               "kms:ViaService": "s3.${AWS::Region}.amazonaws.com"}}
ISOLATED = {"Bool": {"sagemaker:NetworkIsolation": "true"}}

# (role, Sid) -> (actions, resources, conditions): the serving env's every grant in the source account.
GRANTS = {
    ("ResolveFunctionRole", "ReadRegistry"): (["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
                                              [GROUP, VERSIONS], None),
    ("ResolveFunctionRole", "SourceArchivesVersions"): (["s3:ListBucketVersions"], [BUCKET], LISTED),
    ("ResolveFunctionRole", "SourceArchivesVersioning"): (["s3:GetBucketVersioning"], [BUCKET], {"StringEquals": OWNED}),
    ("ResolveFunctionRole", "SourceArchivesTags"): (["s3:GetObjectTagging", "s3:GetObjectVersionTagging"], [ARCHIVES],
                                                    {"StringEquals": OWNED}),
    ("SmokeTestFunctionRole", "ReadRegistry"): (["sagemaker:DescribeModelPackage"], [GROUP, VERSIONS], None),
    ("SmokeTestFunctionRole", "ModelArchivesRead"): (["s3:GetObject"], [ARCHIVES], PINNED),
    ("SmokeTestFunctionRole", "ModelArchivesList"): (["s3:ListBucket"], [BUCKET], LISTED),
    ("SmokeTestFunctionRole", "DecryptModelArchives"): (["kms:Decrypt"], [KEYS], THROUGH_S3),
    ("ModelRole", "ModelArchivesRead"): (["s3:GetObject"], [ARCHIVES], PINNED),
    ("ModelRole", "ModelArchivesList"): (["s3:ListBucket"], [BUCKET], LISTED),
    ("ModelRole", "ModelArchivesDecrypt"): (["kms:Decrypt"], [KEYS], THROUGH_S3),
    ("StagingEndpointDeployRole", "ModelsFromThisGroupsVersions"): (["sagemaker:CreateModel"], [VERSIONS], ISOLATED),
    ("StagingEndpointDeployRole", "ThisGroupsVersions"): (["sagemaker:DescribeModelPackage"], [VERSIONS], None),
    ("ProductionEndpointDeployRole", "ModelsFromThisGroupsVersions"): (["sagemaker:CreateModel"], [VERSIONS], ISOLATED),
    ("ProductionEndpointDeployRole", "ThisGroupsVersions"): (["sagemaker:DescribeModelPackage"], [VERSIONS], None),
}
BUS_POLICY = {
    "Sid": "SourcePromotionRolePutsModelDecisions", "Effect": "Allow", "Action": ["events:PutEvents"],
    "Principal": {"AWS": ["arn:${AWS::Partition}:iam::${ModelsAccountId}:root"]},
    "Resource": ["arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${PromotionBusName}"],
    "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:${AWS::Partition}:iam::${ModelsAccountId}:role${ModelsPromotionRole}"},
                  "ForAllValues:StringEquals": {"events:source": ["aws.sagemaker"]},
                  "StringEquals": {"events:detail-type": "SageMaker Model Package State Change"}},
}


@pytest.fixture(scope="module")
def serving(project) -> EnvRender:
    """The PROMOTION variant's serving env."""
    variant, rendered = variant_renders(project)[PROMOTION]
    env = next(name for name, e in variant.environments.items() if e.deployment and e.deployment.models_from)
    return EnvRender(f"{PROMOTION}: {env}", variant, env, rendered)


def _plain(value):
    """A rendered value without Fn::Sub wrappers, one-item lists as their item, keys sorted: comparable."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return value["Fn::Sub"]
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = sorted((_plain(v) for v in value), key=json.dumps)
        return items[0] if len(items) == 1 else items
    return value


def _source_account(r: EnvRender) -> str:
    return r.names.models_source.env.account_id


def _expected(r: EnvRender) -> dict:
    return {key: _plain({"Action": actions, "Resource": [r.concrete(x) for x in resources],
                         **({"Condition": json.loads(r.concrete(json.dumps(condition)))} if condition else {})})
            for key, (actions, resources, condition) in GRANTS.items()}


def _role_grants(r: EnvRender) -> dict:
    """(role, Sid) -> its statement, for the serving env's role statements naming the source account."""
    out = {}
    for where, _, st in r.policy_statements():
        stack, logical_id = where.rsplit(" ", 2)[1:]
        if stack != "boundaries" and _source_account(r) in json.dumps(st):
            out[(logical_id, st.get("Sid"))] = _plain({k: v for k, v in st.items() if k not in ("Sid", "Effect")}) \
                if st.get("Effect") == "Allow" else st
    return out


def grant_violations(r: EnvRender) -> list[str]:
    found, expected = _role_grants(r), _expected(r)
    return ([f"{key}: names account {_source_account(r)} but is no row of GRANTS: {found[key]}"
             for key in sorted(set(found) - set(expected))]
            + [f"{key}: a GRANTS row the render lacks" for key in sorted(set(expected) - set(found))]
            + [f"{key}: {found[key]} != the row {expected[key]}" for key in sorted(set(found) & set(expected))
               if found[key] != expected[key]])


def boundary_violations(r: EnvRender) -> list[str]:
    """A boundary may name the source account only in the rows' resources and conditions (it caps the roles: its
    merged statements pair each resource with its kind's other actions, which the source's policies do not grant)."""
    allowed = {json.dumps(v) for row in _expected(r).values()
               for v in ([*([row["Resource"]] if isinstance(row["Resource"], str) else row["Resource"])]
                         + ([row["Condition"]] if "Condition" in row else []))}
    out = []
    for where, _, st in r.policy_statements():
        if where.rsplit(" ", 2)[1] != "boundaries" or _source_account(r) not in json.dumps(st):
            continue
        resources = _plain(st["Resource"])
        named = [x for x in (resources if isinstance(resources, list) else [resources]) if _source_account(r) in x]
        condition = _plain(st.get("Condition")) if st.get("Condition") else None
        out += [f"{where} {st.get('Sid')}: {x}" for x in named if json.dumps(x) not in allowed]
        if condition and _source_account(r) in json.dumps(condition) and json.dumps(condition) not in allowed:
            out.append(f"{where} {st.get('Sid')}: condition {condition}")
    return out


def bus_violations(r: EnvRender) -> list[str]:
    bus = r.template("messaging")["Resources"].get("PromotionBus")
    if bus is None:
        return ["the messaging stack has no PromotionBus"]
    policy = bus["Properties"]["Policy"]["Statement"]
    expected = _plain(json.loads(r.concrete(json.dumps(BUS_POLICY))))
    if bus["Properties"]["Name"] != r.names.promotion_bus:
        return [f"PromotionBus is named {bus['Properties']['Name']}, not {r.names.promotion_bus}"]
    return [] if [_plain(st) for st in policy] == [expected] else [f"the bus policy {policy} is not {expected}"]


def rule_violations(r: EnvRender) -> list[str]:
    props = r.template("deployment")["Resources"]["DeploymentRule"]["Properties"]
    pattern, source = props["EventPattern"], r.names.models_source
    heard = {"bus": props.get("EventBusName"), "account": pattern.get("account"),
             "group": pattern.get("detail", {}).get("ModelPackageGroupName"),
             "source": pattern.get("source"), "detail-type": pattern.get("detail-type")}
    wanted = {"bus": r.names.promotion_bus, "account": [source.env.account_id], "group": [source.model_package_group],
              "source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"]}
    return [f"DeploymentRule hears {key} {heard[key]}, not {wanted[key]}" for key in wanted if heard[key] != wanted[key]]


def _put_rule(r: EnvRender, bus: str, source: str) -> bool:
    """May the deployment stack's deploy role put the DeploymentRule on `bus` for events of `source`?"""
    stack = alone(r.rendered, r.project, r.env, "serving-iam")
    template = {"Resources": stack.resources()}
    role = template["Resources"]["DeploymentDeployRole"]["Properties"]
    arn = f"arn:aws:iam::{stack.pseudo['AWS::AccountId']}:role{role['Path']}{role['RoleName']}"
    rule = (f"arn:aws:events:{stack.pseudo['AWS::Region']}:{stack.pseudo['AWS::AccountId']}:rule/{bus}/"
            f"{r.names.deployment_rule}")
    context = {"events:source": source, "events:detail-type": "SageMaker Model Package State Change"}
    held = [{**st, "Principal": {"AWS": arn}} for st in role_statements(template, "DeploymentDeployRole")]  # its own
    return allowed({"Statement": held}, Request(arn, "events:PutRule", rule, context))


def test_the_deployment_deploy_role_puts_its_rule_on_the_promotion_bus_for_model_decisions_only(serving):
    assert _put_rule(serving, serving.names.promotion_bus, "aws.sagemaker")
    assert not _put_rule(serving, serving.names.promotion_bus, "aws.s3")
    assert not _put_rule(serving, "another-teams-bus", "aws.sagemaker")


def test_the_serving_roles_name_the_source_account_only_in_the_granted_rows(serving):
    assert not grant_violations(serving)


def test_the_serving_boundaries_name_the_source_account_only_in_the_rows_resources(serving):
    assert not boundary_violations(serving)


def test_the_promotion_bus_admits_only_the_source_promotion_role_with_model_decisions(serving):
    assert not bus_violations(serving)


def test_the_deployment_rule_hears_only_the_source_account_and_group(serving):
    assert not rule_violations(serving)


# -- each check catches a widened render ------------------------------------------------------------------------------
def _edited(r: EnvRender, stack: str, edit) -> EnvRender:
    template = copy.deepcopy(r.template(stack))
    edit(template["Resources"])
    return r.replaced(stack, yaml.safe_dump(template, sort_keys=True))


def _statement(resources: dict, role: str, sid: str) -> dict:
    return next(st for policy in resources[role]["Properties"]["Policies"]
                for st in policy["PolicyDocument"]["Statement"] if st.get("Sid") == sid)


@pytest.mark.parametrize("widen", [
    lambda res: _statement(res, "ModelRole", "ModelArchivesRead")["Action"].append("s3:PutObject"),
    lambda res: _statement(res, "SmokeTestFunctionRole", "ModelArchivesRead").pop("Condition"),
    lambda res: _statement(res, "ResolveFunctionRole", "SourceArchivesTags")["Action"].append("s3:PutObjectVersionTagging"),
    lambda res: _statement(res, "ResolveFunctionRole", "ReadRegistry")["Action"].append("sagemaker:UpdateModelPackage"),
    lambda res: _statement(res, "StagingEndpointDeployRole", "ThisGroupsVersions")["Resource"].append(
        _statement(res, "ResolveFunctionRole", "ReadRegistry")["Resource"][0]),
    lambda res: res["ResolveFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
        dict(_statement(res, "ResolveFunctionRole", "SourceArchivesTags"), Sid="Extra", Action=["s3:GetObject"])),
], ids=["added action", "dropped tag condition", "tag write", "registry write", "added resource", "added statement"])
def test_the_grants_check_catches_a_widened_role(serving, widen):
    assert grant_violations(_edited(serving, "serving-iam", widen))


def test_the_boundary_check_catches_a_boundary_naming_more_of_the_source(serving):
    def widen(res):
        for policy in res.values():
            if policy["Type"] == "AWS::IAM::ManagedPolicy":
                for st in policy["Properties"]["PolicyDocument"]["Statement"]:
                    if _source_account(serving) in json.dumps(st):
                        st["Resource"] = [{"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{serving.names.models_source.artifact_bucket}/*"}]
                        return
    assert boundary_violations(_edited(serving, "boundaries", widen))


@pytest.mark.parametrize("widen", [
    lambda props: props["Policy"]["Statement"][0]["Condition"].pop("ArnEquals"),
    lambda props: props["Policy"]["Statement"][0]["Condition"].pop("ForAllValues:StringEquals"),
    lambda props: props["Policy"]["Statement"][0].update(Principal={"AWS": "*"}),
    lambda props: props["Policy"]["Statement"][0]["Action"].append("events:PutRule"),
], ids=["any role of the account", "any source", "anyone", "rules too"])
def test_the_bus_check_catches_a_widened_bus_policy(serving, widen):
    assert bus_violations(_edited(serving, "messaging", lambda res: widen(res["PromotionBus"]["Properties"])))


@pytest.mark.parametrize("widen", [
    lambda props: props["EventPattern"].pop("account"),
    lambda props: props["EventPattern"]["detail"]["ModelPackageGroupName"].append("another-group"),
    lambda props: props.pop("EventBusName"),
], ids=["any account", "another group", "the default bus"])
def test_the_rule_check_catches_a_widened_deployment_rule(serving, widen):
    assert rule_violations(_edited(serving, "deployment", lambda res: widen(res["DeploymentRule"]["Properties"])))


def test_the_put_rule_check_catches_a_deploy_role_that_may_put_rules_on_any_bus(serving):
    def widen(res):
        for policy in res["DeploymentDeployRole"]["Properties"]["Policies"]:
            for st in policy["PolicyDocument"]["Statement"]:
                if "events:PutRule" in st["Action"]:
                    st["Resource"] = [{"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/*"}]
    assert _put_rule(_edited(serving, "serving-iam", widen), "another-teams-bus", "aws.sagemaker")
