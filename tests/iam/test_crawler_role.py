"""The crawler's role holds what AWS documents for a crawler, as far as our crawler's configuration needs it, scoped.

AWS documents a crawler's role as "permissions similar to the AWS managed policy AWSGlueServiceRole", plus access to
the data store and decrypt on the key of KMS-encrypted data ("Step 3: Configure security settings", AWS Glue developer
guide; the policy itself: "Step 1: Create an IAM policy for the AWS Glue service"), and, where a security configuration
encrypts the crawler's CloudWatch Logs, use of that key by the roles passed to crawlers ("Setting up AWS Glue to use
security configurations"). The role once held only what a reviewer guessed the crawler calls: no GetBucketAcl, no key
use for its encrypted logs. DOCUMENTED lists every documented permission with either the request our crawler makes
with it (built from the crawler's own resource, per env) or why its configuration does not need it; the test
evaluates the resolved role against each request, and checks it holds none of the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

from infra.cfn import parameters
from infra.stacks import BUILDERS
from tests.support.cfn import as_list
from tests.support.concrete_envs import env_renders
from tests.support.policy_eval import Request, allowed
from tests.support.resolve import resolve_all


@dataclass(frozen=True)
class Crawler:
    """What the crawler's resources say, resolved for one env."""

    region: str
    account: str
    role_arn: str
    bucket: str
    prefix: str
    database: str
    key_alias: str
    log_group: str  # where Glue writes with a security configuration: /aws-glue/crawlers-role/<role>-<configuration>
    encrypts_logs: bool

    def arn(self, service: str, rest: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{rest}"

    @property
    def key(self) -> str:
        return self.arn("kms", "key/00000000-0000-0000-0000-000000000000")


def _s3_requests(c: Crawler, action: str) -> list[Request]:
    if action == "s3:ListBucket":
        return [Request(c.role_arn, action, f"arn:aws:s3:::{c.bucket}", {"s3:prefix": c.prefix})]
    if action == "s3:GetObject":
        return [Request(c.role_arn, action, f"arn:aws:s3:::{c.bucket}/{c.prefix}execution/evaluation.json")]
    return [Request(c.role_arn, action, f"arn:aws:s3:::{c.bucket}")]


def _key(c: Crawler, action: str) -> list[Request]:
    return [Request(c.role_arn, action, c.key, {"kms:ResourceAliases": [c.key_alias]})]


def _catalog(c: Crawler, action: str) -> list[Request]:
    return [Request(c.role_arn, action, arn) for arn in
            (c.arn("glue", "catalog"), c.arn("glue", f"database/{c.database}"), c.arn("glue", f"table/{c.database}/t"))]


def _logs(c: Crawler, action: str) -> list[Request]:
    group = c.arn("logs", f"log-group:{c.log_group}")
    return [Request(c.role_arn, action, f"{group}:log-stream:s" if action == "logs:PutLogEvents" else f"{group}:*")]


def _own_role(c: Crawler, action: str) -> list[Request]:
    return [Request(c.role_arn, action, c.role_arn)]


def _unscoped(c: Crawler, action: str) -> list[Request]:
    return [Request(c.role_arn, action, "*")]


@dataclass(frozen=True)
class Documented:
    actions: tuple[str, ...]
    where: str  # the page (and statement) that documents them
    requests: object = None  # (Crawler, action) -> the requests ours makes; None: not needed (see `why_not`)
    why_not: str = ""
    needed_if: object = None  # (Crawler) -> bool, when only some configurations need them


AWSGLUESERVICEROLE = "AWSGlueServiceRole"
DOCUMENTED = (
    Documented(("glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
                "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition", "glue:CreatePartition",
                "glue:BatchCreatePartition", "glue:UpdatePartition", "glue:BatchUpdatePartition"),
               f"{AWSGLUESERVICEROLE} glue:* (the catalog writes of a crawler that updates in the database)", _catalog),
    Documented(("glue:DeleteTable", "glue:DeletePartition", "glue:BatchDeletePartition", "glue:CreateDatabase"),
               f"{AWSGLUESERVICEROLE} glue:*", why_not="SchemaChangePolicy.DeleteBehavior LOG deletes nothing; the "
                                                    "database is the stack's"),
    Documented(("glue:GetSecurityConfiguration",), f"{AWSGLUESERVICEROLE} glue:*", _unscoped),
    Documented(("s3:GetBucketLocation", "s3:ListBucket", "s3:GetBucketAcl"), f"{AWSGLUESERVICEROLE} first statement",
               _s3_requests),
    Documented(("s3:ListAllMyBuckets",), f"{AWSGLUESERVICEROLE} first statement",
               why_not="the crawler's target names its bucket"),
    Documented(("s3:GetObject",), "Step 3: the data store", _s3_requests),
    Documented(("s3:PutObject",), "Step 3: the data store example",
               why_not="a crawler of S3 data only reads it; the reports are the SageMaker pipeline's"),
    Documented(("kms:Decrypt",), "Step 3: decrypt on the key of KMS-encrypted data", _key),
    Documented(("kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:DescribeKey"),
               "Setting up AWS Glue to use security configurations: the roles passed to crawlers", _key,
               needed_if=lambda c: c.encrypts_logs),
    Documented(("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"),
               f"{AWSGLUESERVICEROLE} /aws-glue/*", _logs),
    Documented(("logs:AssociateKmsKey",), "Setting up AWS Glue to use security configurations", _logs,
               needed_if=lambda c: c.encrypts_logs),
    Documented(("iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies"), f"{AWSGLUESERVICEROLE} first statement",
               _own_role),
    Documented(("ec2:DescribeVpcEndpoints", "ec2:DescribeRouteTables", "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets", "ec2:DescribeVpcAttribute", "ec2:CreateTags", "ec2:DeleteTags"),
               f"{AWSGLUESERVICEROLE}", why_not="the crawler has no connection, so it runs in no VPC of ours"),
    Documented(("s3:CreateBucket", "s3:DeleteObject"), f"{AWSGLUESERVICEROLE} aws-glue-* buckets",
               why_not="scripts and temporary files of jobs; a crawler writes none"),
)


def _database(stack, crawler_id: str) -> str:
    """The name of the Glue database the crawler writes to (a Ref to the stack's database, or its name)."""
    named = stack.template["Resources"][crawler_id]["Properties"]["DatabaseName"]
    if isinstance(named, dict) and set(named) == {"Ref"}:
        return stack.resources("AWS::Glue::Database")[named["Ref"]]["Properties"]["DatabaseInput"]["Name"]
    return stack.value(named)


def crawlers(stacks, values: dict) -> list[tuple[str, Crawler, list[dict]]]:
    """(crawler id, what it says, the Allow statements of its role) for every crawler of every stack; `values`: the
    env's config values (infra/cfn/parameters.py config_values), which its templates have written in."""
    roles = {}
    for stack in stacks.values():
        for role in stack.resources("AWS::IAM::Role").values():
            p = role["Properties"]
            roles[f"arn:aws:iam::{stack.pseudo['AWS::AccountId']}:role{p.get('Path', '/')}{p['RoleName']}"] = \
                [st for doc in p.get("Policies", []) for st in as_list(doc["PolicyDocument"]["Statement"])]
    out = []
    for key, stack in stacks.items():
        configurations = stack.resources("AWS::Glue::SecurityConfiguration")
        for logical_id, res in stack.resources("AWS::Glue::Crawler").items():
            p = res["Properties"]
            (target,) = p["Targets"]["S3Targets"]
            bucket, prefix = target["Path"].removeprefix("s3://").split("/", 1)
            config_ref = stack.template["Resources"][logical_id]["Properties"]["CrawlerSecurityConfiguration"]["Ref"]
            config = configurations[config_ref]["Properties"]
            role_name = p["Role"].rsplit("/", 1)[-1]
            crawler = Crawler(
                region=stack.pseudo["AWS::Region"], account=stack.pseudo["AWS::AccountId"], role_arn=p["Role"],
                bucket=bucket, prefix=prefix, database=_database(stack, logical_id),
                key_alias=values["ArtifactKeyAlias"],
                log_group=f"/aws-glue/crawlers-role/{role_name}-{config['Name']}",
                encrypts_logs=config["EncryptionConfiguration"]["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS")
            out.append((f"{key}.yaml {logical_id}", crawler, roles[p["Role"]]))
    return out


def _document(statements: list[dict]) -> dict:
    return {"Statement": [{**st, "Principal": "*"} for st in statements if st.get("Effect") == "Allow"]}


def crawler_problems(stacks, values: dict) -> list[str]:
    problems = []
    for where, crawler, statements in crawlers(stacks, values):
        document = _document(statements)
        for row in DOCUMENTED:
            needed = row.requests is not None and (row.needed_if is None or row.needed_if(crawler))
            for action in row.actions:
                if needed:
                    problems += [f"{where}: its role lacks {action} on {r.resource} ({row.where})"
                                 for r in row.requests(crawler, action) if not allowed(document, r)]
                elif any(action in as_list(st["Action"]) for st in statements):
                    problems.append(f"{where}: its role holds {action}, which it does not need: {row.why_not}")
    return problems


def test_the_crawler_role_holds_what_aws_documents_for_our_crawler_and_no_more_of_it(rendered, project):
    problems = []
    for env in env_renders(project, rendered):  # every env of config/ and of the variants
        stacks = resolve_all(env.rendered, env.project, env.env, list(BUILDERS))
        values = parameters.config_values(env.names)
        found = crawlers(stacks, values)
        assert found, f"{env.label}: no crawler"
        assert all(c.database == values["GlueDatabaseName"] for _, c, _ in found), env.label
        problems += [f"{env.label}: {p}" for p in crawler_problems(stacks, values)]
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_check_catches_a_role_without_key_use_for_encrypted_logs():
    c = Crawler("us-east-1", "111111111111", "arn:aws:iam::111111111111:role/r", "b", "p/", "db", "alias/k",
                "/aws-glue/crawlers-role/r-c", encrypts_logs=True)
    decrypt_only = _document([{"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": ["*"],
                               "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/k"]}}}])
    assert allowed(decrypt_only, _key(c, "kms:Decrypt")[0])
    assert not allowed(decrypt_only, _key(c, "kms:GenerateDataKey")[0])
    assert not allowed(decrypt_only, _key(Crawler(*[*vars(c).values()][:6], "alias/other", c.log_group, True),
                                          "kms:Decrypt")[0])
