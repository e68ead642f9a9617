"""What a source env grants the env serving its approved versions from another account, held to one table: every
statement of the source's templates that names the serving account is a row here, exactly (principal, the serving
roles by aws:PrincipalArn, actions, resources, conditions), and nothing else of the source's templates names that
account but the promotion rule's target, the serving env's bus. An added action, role or resource, a dropped condition
or a new statement naming the serving account fails (docs/promotion.md lists the same grants).

Read from the PROMOTION variant (tests/support/concrete_envs.py): its first env is the source, its last the taker,
in two accounts; the table derives every name from config (infra/config/names.py), never from the sample's values.
"""
from __future__ import annotations

import json

import pytest

from infra.config.names import Names
from infra.stacks import BUILDERS
from lambda_src.shared.contract import ARCHIVE_TAG
from tests.support.cfn import load
from tests.support.concrete_envs import PROMOTION, variant_renders


@pytest.fixture(scope="module")
def promotion(project) -> tuple[Names, Names, dict[str, dict]]:
    """(source env, serving env, the source's templates by stack)."""
    variant, rendered = variant_renders(project)[PROMOTION]
    source = next(n for n in (Names(variant, env) for env in variant.environments.values()) if n.models_taker)
    templates = {stack: load(rendered[f"{source.env_name}/{stack}.yaml"]) for stack in BUILDERS
                 if f"{source.env_name}/{stack}.yaml" in rendered}
    return source, source.models_taker, templates


def plain(node, a: Names):
    """A template fragment as IAM reads it in the source's account: Subs written out, lists in one order."""
    if isinstance(node, dict) and set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
        node = (node["Fn::Sub"].replace("${AWS::Partition}", "aws").replace("${AWS::Region}", a.env.region)
                .replace("${AWS::AccountId}", a.env.account_id))
    if isinstance(node, dict):
        return {key: plain(value, a) for key, value in node.items()}
    if isinstance(node, list):
        return sorted((plain(item, a) for item in node), key=lambda item: json.dumps(item, sort_keys=True))
    return node


def _statements(node, found: list) -> list:
    """Every policy statement in a template fragment."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            found.append(node)
        else:
            for value in node.values():
                _statements(value, found)
    elif isinstance(node, list):
        for item in node:
            _statements(item, found)
    return found


def expected_grants(a: Names, b: Names) -> dict[tuple[str, str, str], dict]:
    """(stack, logical id, Sid) -> the statement, for every statement of A's templates that names B's account."""
    root = {"AWS": [f"arn:aws:iam::{b.env.account_id}:root"]}

    def only(*roles: str) -> dict:
        return {"aws:PrincipalArn": sorted(f"arn:aws:iam::{b.env.account_id}:role{b.role_path}{r}" for r in roles)}

    sagemaker = f"arn:aws:sagemaker:{a.env.region}:{a.env.account_id}"
    group, versions = f"{sagemaker}:model-package-group/{a.model_package_group}", f"{sagemaker}:model-package/{a.model_package_group}/*"
    bucket = f"arn:aws:s3:::{a.artifact_bucket}"
    archives = f"{bucket}/{a.model_archives_prefix}*"
    bus = f"arn:aws:events:{a.env.region}:{b.env.account_id}:event-bus/{b.promotion_bus}"
    readers = (b.model_role, b.smoke_test_function_role)

    def allow(actions: list[str], resources: list[str], condition: dict | None = None, principal=root) -> dict:
        return {"Effect": "Allow", "Action": sorted(actions), "Resource": sorted(resources),
                **({"Principal": principal} if principal else {}), **({"Condition": condition} if condition else {})}

    return {
        # The model package group's policy (infra/parts/promotion_grants.py group_statements).
        ("pipeline", "ModelPackageGroup", "ServingResolveReadsVersions"): allow(
            ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
            [group, versions], {"ArnEquals": only(b.resolve_function_role)}),
        ("pipeline", "ModelPackageGroup", "ServingRolesDescribeVersions"): allow(
            ["sagemaker:DescribeModelPackage"], [group, versions],
            {"ArnEquals": only(b.smoke_test_function_role, b.deploy_role("staging-endpoint"),
                               b.deploy_role("production-endpoint"))}),
        # CreateModel takes sagemaker:NetworkIsolation; DescribeModelPackage does not (so apart).
        ("pipeline", "ModelPackageGroup", "ServingEndpointsCreateModels"): allow(
            ["sagemaker:CreateModel"], [group, versions],
            {"ArnEquals": only(b.deploy_role("staging-endpoint"), b.deploy_role("production-endpoint")),
             "Bool": {"sagemaker:NetworkIsolation": "true"}}),
        # make deploy ENV=<serving env> probes this with the operator's credentials (no role to name).
        ("pipeline", "ModelPackageGroup", "ServingAccountSeesTheGroup"): allow(
            ["sagemaker:DescribeModelPackageGroup"], [group]),
        # The artifact bucket's policy: the pinned archives, read; Resolve's read-only checks.
        ("pipeline", "ArtifactBucketPolicy", "ServingReadsPinnedArchives"): allow(
            ["s3:GetObject"], [archives], {"ArnEquals": only(*readers), "StringLike": {
                f"s3:ExistingObjectTag/{ARCHIVE_TAG}": versions}}),
        ("pipeline", "ArtifactBucketPolicy", "ServingListsArchives"): allow(
            ["s3:ListBucket"], [bucket], {"ArnEquals": only(*readers), "StringLike": {"s3:prefix": f"{a.model_archives_prefix}*"}}),
        ("pipeline", "ArtifactBucketPolicy", "ServingResolveListsArchiveVersions"): allow(
            ["s3:ListBucketVersions"], [bucket], {"ArnEquals": only(b.resolve_function_role),
                                                  "StringLike": {"s3:prefix": f"{a.model_archives_prefix}*"}}),
        ("pipeline", "ArtifactBucketPolicy", "ServingResolveSeesVersioning"): allow(
            ["s3:GetBucketVersioning"], [bucket], {"ArnEquals": only(b.resolve_function_role)}),
        ("pipeline", "ArtifactBucketPolicy", "ServingResolveReadsArchivePins"): allow(
            ["s3:GetObjectTagging", "s3:GetObjectVersionTagging"], [archives], {"ArnEquals": only(b.resolve_function_role)}),
        # The artifact key: decrypt, through S3, this bucket's objects only.
        ("pipeline", "ArtifactKey", "ServingDecryptsArchivesThroughS3"): allow(
            ["kms:Decrypt"], ["*"], {"ArnEquals": only(*readers),
                                     "StringEquals": {"kms:ViaService": f"s3.{a.env.region}.amazonaws.com",
                                                      "kms:EncryptionContext:aws:s3:arn": bucket}}),
        # The promotion role (A's, assumed by EventBridge) and the boundary that caps it: put events on B's bus only.
        ("iam", "PromotionRole", "ForwardToServingBus"): allow(["events:PutEvents"], [bus], principal=None),
        ("boundaries", "FunctionRolesBoundary", "Events"): allow(["events:PutEvents"], [bus], principal=None),
    }


def granted(a: Names, b: Names, templates: dict[str, dict]) -> dict[tuple[str, str, str], dict]:
    """The same, as A's rendered templates hold it."""
    out = {}
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            for statement in _statements(resource, []):
                if b.env.account_id in json.dumps(statement):
                    key = (stack, logical_id, statement.get("Sid", "?"))
                    assert key not in out, f"two statements at {key}"
                    out[key] = plain({k: v for k, v in statement.items() if k != "Sid"}, a)
    return out


def test_the_source_grants_the_serving_env_exactly_the_table(promotion):
    a, b, templates = promotion
    found, expected = granted(a, b, templates), expected_grants(a, b)
    assert sorted(found) == sorted(expected), "statements naming the serving account differ from the table"
    for key, statement in expected.items():
        assert found[key] == statement, f"{key} differs from the table"


def test_nothing_else_of_the_source_names_the_serving_account(promotion):
    """Beyond the table's statements, only the promotion rule's one target, B's bus, names B's account."""
    a, b, templates = promotion
    elsewhere = {}
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            text = json.dumps(resource)
            for statement in _statements(resource, []):
                text = text.replace(json.dumps(statement), "")
            if b.env.account_id in text:
                elsewhere[(stack, logical_id)] = resource
    assert sorted(elsewhere) == [("messaging", "PromotionRule")]
    targets = elsewhere[("messaging", "PromotionRule")]["Properties"]["Targets"]
    assert [plain(t["Arn"], a) for t in targets] == [
        f"arn:aws:events:{a.env.region}:{b.env.account_id}:event-bus/{b.promotion_bus}"]
    assert [t["RoleArn"] for t in targets] == [{"Fn::ImportValue": f"{a.stack('iam')}-PromotionRoleArn"}]
    outside_resources = [{k: v for k, v in template.items() if k != "Resources"} for template in templates.values()]
    assert b.env.account_id not in json.dumps(outside_resources)


def test_the_promotion_rule_forwards_only_the_groups_decisions(promotion):
    """What reaches the serving env's bus: finished Approved and Rejected versions of this env's group, nothing else
    (a registration or another group's decision would start the serving env's deployment pipeline)."""
    a, _, templates = promotion
    pattern = templates["messaging"]["Resources"]["PromotionRule"]["Properties"]["EventPattern"]
    assert pattern == {"account": [{"Ref": "AWS::AccountId"}], "source": ["aws.sagemaker"],
                       "detail-type": ["SageMaker Model Package State Change"],
                       "detail": {"ModelApprovalStatus": ["Approved", "Rejected"],
                                  "ModelPackageGroupName": [a.model_package_group], "ModelPackageStatus": ["Completed"]}}


def test_the_archive_pin_role_may_describe_list_and_tag_archives_only(promotion):
    """The pin's role is what decides which archives the serving env may load (the tag): exactly these statements, so
    a write, a read of data or a tag anywhere else fails here."""
    a, _, templates = promotion
    role = next(res for rid, res in templates["iam"]["Resources"].items()
                if res["Type"] == "AWS::IAM::Role" and plain(res["Properties"]["RoleName"], a) == a.archive_pin_role)
    found = {st["Sid"]: (sorted(st["Action"]), sorted(plain(st["Resource"], a)), plain(st.get("Condition"), a))
             for policy in role["Properties"]["Policies"] for st in policy["PolicyDocument"]["Statement"]}
    sagemaker = f"arn:aws:sagemaker:{a.env.region}:{a.env.account_id}"
    bucket = f"arn:aws:s3:::{a.artifact_bucket}"
    logs = f"arn:aws:logs:{a.env.region}:{a.env.account_id}:log-group:/aws/lambda/{a.archive_pin_function}"
    assert found == {
        "ReadRegistry": (["sagemaker:DescribeModelPackage"], sorted([
            f"{sagemaker}:model-package-group/{a.model_package_group}", f"{sagemaker}:model-package/{a.model_package_group}/*"]), None),
        "ApprovedArchivesVersions": (["s3:ListBucketVersions"], [bucket],
                                     {"StringLike": {"s3:prefix": f"{a.model_archives_prefix}*"}}),
        "ApprovedArchivesVersioning": (["s3:GetBucketVersioning"], [bucket], None),
        "ApprovedArchivesTag": (["s3:PutObjectTagging", "s3:PutObjectVersionTagging"], [f"{bucket}/{a.model_archives_prefix}*"], None),
        "FunctionLogs": (["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], [logs, f"{logs}:*"], None),
        "DeadLetters": (["sqs:SendMessage"], [f"arn:aws:sqs:{a.env.region}:{a.env.account_id}:{a.archive_pin_dlq}"], None),
    }


def test_only_the_pin_tags_the_archives_the_serving_env_trusts(promotion):
    """Anyone else of the source's account who may tag (by a broad identity policy) or upload with tags is refused on
    the models folder by the bucket itself: the tag is what the serving env's instances load by."""
    from tests.support.policy_eval import Request, denied

    a, _, templates = promotion
    policy = plain(templates["pipeline"]["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"], a)
    archive = f"arn:aws:s3:::{a.artifact_bucket}/{a.model_archives_prefix}x/model.tar.gz"

    def role(name: str) -> str:
        return f"arn:aws:iam::{a.env.account_id}:role{a.role_path}{name}"

    taggers = {role(a.archive_pin_role)} | ({role(a.resolve_function_role)} if a.env.deployment else set())
    others = [role(a.sagemaker_execution_role), role(a.notifier_role), f"arn:aws:iam::{a.env.account_id}:role/Admin"]
    for action in ("s3:PutObjectTagging", "s3:PutObjectVersionTagging", "s3:DeleteObjectVersionTagging"):
        for principal in taggers:
            assert not denied(policy, Request(principal, action, archive)), f"{principal} may not {action}"
        for principal in others:
            assert denied(policy, Request(principal, action, archive)), f"{principal} may {action} an archive"
    tagged_upload = Request(role(a.sagemaker_execution_role), "s3:PutObject", archive,
                            {f"s3:RequestObjectTag/{ARCHIVE_TAG}": "arn:aws:sagemaker:x"})
    assert denied(policy, tagged_upload), "an upload may carry the tag the serving env trusts"
    assert not denied(policy, Request(role(a.sagemaker_execution_role), "s3:PutObject", archive,
                                      {"s3:x-amz-server-side-encryption": "aws:kms"})), "the jobs may not write archives"
