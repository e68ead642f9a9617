"""The permissions boundary every runtime role of the project carries.

Every runtime role is made by the administrator-only IAM stack; the boundary is the second line: whatever
a role's policy says, the role can never act beyond the actions, resources and conditions the runtime
roles' own statements name. It lives in the administrator-only boundaries stack, and is computed from
the roles' statement functions (infra/iam/runtime/), so it cannot fall behind them.
"""
from __future__ import annotations

import fnmatch
import json
import re

from awacs.aws import Allow, Condition, Statement, StringEquals
from troposphere import Ref, Sub, iam

from infra.cfn.source import SOURCE_TYPES
from infra.iam.policies import KMS_USE_ACTIONS, VERSION, arn
from infra.iam.runtime import builds, delivery, functions, jobs


# One boundary per kind of runtime role, each computed from the statements of the roles that carry it: a
# role whose policy someone widens can reach only what roles of its own kind use (a build never the
# pipeline's CloudFormation powers), and each fits IAM's 6,144 characters per managed policy.
DELIVERY = "delivery"  # the pipeline and the source events that start it
BUILDS = "builds"  # the Synth and Upsert CodeBuild projects, which run the repository's code
JOBS = "jobs"  # the SageMaker pipeline's jobs and the endpoints' model role
FUNCTIONS = "functions"  # the registry's Lambdas and the crawler
# The deployment pipeline's Lambdas (resolve, smoke test, production's rollout): apart, so the registry's functions
# can never reach an endpoint, and each boundary stays within IAM's size.
SERVING_FUNCTIONS = "serving"
BOUNDARIES = {DELIVERY: ("DeliveryRolesBoundary", "DeliveryBoundaryName"),
              BUILDS: ("BuildRolesBoundary", "BuildsBoundaryName"),
              JOBS: ("JobRolesBoundary", "JobsBoundaryName"),
              FUNCTIONS: ("FunctionRolesBoundary", "FunctionsBoundaryName"),
              SERVING_FUNCTIONS: ("ServingFunctionRolesBoundary", "ServingFunctionsBoundaryName")}


def boundary_arn_sub(kind: str) -> str:
    return f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy${{RolePath}}${{{BOUNDARIES[kind][1]}}}"


# The kinds whose roles exist only where the env's config serves models (`deployment`): the serving-iam stack's.
SERVING_ONLY_KINDS = (SERVING_FUNCTIONS,)


def kinds(serves_models: bool) -> list[str]:
    """The boundaries an env has: not the serving functions' where it serves no models."""
    return [kind for kind in BOUNDARIES if serves_models or kind not in SERVING_ONLY_KINDS]


def runtime_statements(serves_models: bool, kind: str | None = None) -> list[Statement]:
    """Every statement of the roles a boundary caps (all of them when kind is None), whatever the source type."""
    chosen = [kind] if kind else kinds(serves_models)
    out = [st for k in chosen for st in common_statements(k, serves_models)]
    if DELIVERY in chosen:
        out += [st for source_type in SOURCE_TYPES for st in source_statements(source_type)]
    return out


def common_statements(kind: str, serves_models: bool) -> list[Statement]:
    """The statements of the roles `kind` caps, but the source-specific ones. Where the env serves no models, none of
    the serving roles' (serving-iam stack): no boundary there leaves room for a deployment pipeline, an endpoint stack
    or a model."""
    if kind == DELIVERY:
        serving = [*delivery.deployment_pipeline_statements(), *delivery.deployment_events_statements()]
        return [*delivery.codepipeline_statements(serves_models), *delivery.source_events_statements(),
                *(serving if serves_models else [])]
    if kind == BUILDS:
        return [*builds.synth_build_statements(), *builds.upsert_build_statements()]
    if kind == JOBS:
        return [*jobs.sagemaker_execution_statements(), *(jobs.model_serving_statements() if serves_models else [])]
    if kind == SERVING_FUNCTIONS:
        return [*functions.resolve_function_statements(), *functions.smoke_test_function_statements()] if serves_models else []
    return [
        *functions.notifier_statements(),
        *functions.metrics_function_statements(),
        *functions.crawler_statements(),
        *functions.partitions_function_statements(),
    ]


def source_statements(source_type: str) -> list[Statement]:
    return delivery.source_statements(source_type)


def boundary_actions(serves_models: bool, kind: str | None = None) -> list[str]:
    return sorted({action.JSONrepr() for st in runtime_statements(serves_models, kind) for action in st.Action})


# Condition operators whose values are alternatives (any one matches): two statements that differ only in
# such values are covered by one statement holding both sets of values. Anything else keeps its own statement.
ANY_OF_OPERATORS = frozenset({"StringEquals", "StringEqualsIfExists", "StringLike", "StringLikeIfExists", "ArnEquals",
                              "ArnLike", "ForAnyValue:StringEquals", "ForAnyValue:StringLike"})
# Operators merged only where every statement of the group gives the same value (kms:GrantIsForAWSResource true).
SAME_VALUE_OPERATORS = frozenset({"Bool"})


def _json(value) -> object:
    return json.loads(json.dumps(value, default=lambda o: o.to_dict() if hasattr(o, "to_dict") else o.JSONrepr()))


def _plain(resource) -> bool:
    """A string, or a Sub of one string with no variable map: text whose ${…} stand for whole names."""
    return isinstance(resource, str) or (isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str))


def _text(resource) -> str:
    """A plain resource as the text IAM will match (the Fn::Sub template: its ${…} stand for whole names)."""
    return resource if isinstance(resource, str) else resource["Fn::Sub"]


def _sub(text: str):
    return text if "${" not in text else {"Fn::Sub": text}


def _compact(resources: list) -> list:
    """Fewer ARNs reaching the same environment's resources: drop one another's wildcard already covers, and
    join a name's children into one pattern per separator (X:log-stream:* into X:*, X/execution/* into X/*), but a
    bucket's objects, which keep their prefixes.
    Never X* alone: a bucket named X-something, or a pipeline named X-prod, is another resource. Resources
    that are not plain text (a Sub with a variable map, whose variables a wildcard could not stand for; a Ref
    or If) are kept as they are, once each."""
    others = {json.dumps(r, sort_keys=True): r for r in resources if not _plain(r)}
    texts = sorted({_text(r) for r in resources if _plain(r)})
    joined = set(texts)
    for text in texts:
        if "*" in text:
            continue
        # Never a bucket's objects into bucket/*: each kind reaches only the prefixes its roles name (the builds never
        # the training data under sagemaker/<pipeline>/input/).
        separators = ":" if ":s3:::" in text and "/" not in text.split(":s3:::", 1)[1] else ":/"
        for separator in separators:
            children = {o for o in joined if o != text and o.startswith(text + separator)}
            if children:
                joined = (joined - children) | {f"{text}{separator}*"}
    kept = [t for t in sorted(joined) if not any(o != t and o.endswith("*") and fnmatch.fnmatchcase(t, o) for o in joined)]
    return [_sub(t) for t in kept] + [others[k] for k in sorted(others)]


def merged(statements: list[Statement], sid_prefix: str = "") -> list[dict]:
    """The statements merged per service into as few as cover every one of them (Sids `sid_prefix` + service:
    IAM refuses a policy whose Sids repeat, so statements merged apart into one policy need their own prefix).

    Statements of one service, all on "*" or all on named resources, with conditions on the same keys,
    become one statement (those on "*" with no condition, one for all services): the union of their actions, of their resources and of their condition values.
    So the boundary reaches the environment's resources the roles' policies name (an action may meet a
    resource of its service that its own role never names, never one outside the environment), and keeps
    every condition (kms:ResourceAliases, iam:PassedToService, sagemaker:ModelApprovalStatus…).
    """
    groups: dict[tuple, dict] = {}
    for statement in statements:
        st = _json(statement)
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        condition = st.get("Condition", {})
        if any(op not in ANY_OF_OPERATORS | SAME_VALUE_OPERATORS for op in condition):
            raise ValueError(f"statement {st.get('Sid')}: a {sorted(condition)} condition cannot be merged into the boundary")
        keys = tuple(sorted((op, key) for op, values in condition.items() for key in values))
        star = resources == ["*"]
        for service in sorted({a.split(":", 1)[0] for a in actions}):
            # Actions with no resource-level permission and no condition: one statement for every service (IAM's size).
            key = ("", star, keys) if star and not keys else (service, star, keys)
            group = groups.setdefault(key, {"actions": set(), "resources": [], "condition": {}})
            group["actions"] |= {a for a in actions if a.startswith(f"{service}:")}
            group["resources"] += resources
            for op, values in condition.items():
                for key, value in values.items():
                    seen = group["condition"].setdefault(op, {}).setdefault(key, {})
                    if op in SAME_VALUE_OPERATORS and seen and json.dumps(value, sort_keys=True) not in seen:
                        raise ValueError(f"statement {st.get('Sid')}: {op} {key} differs from another statement's")
                    for v in value if isinstance(value, list) else [value]:
                        seen[json.dumps(v, sort_keys=True)] = v
    out = []
    sids: set[str] = set()
    for (service, star, keys), group in sorted(groups.items(), key=lambda kv: json.dumps(kv[0])):
        base = sid_prefix + "".join(part.title() for part in re.split(r"[^a-z0-9]+", service))
        suffix = "NoResourceLevelPermission" if star else ""  # last, whatever number tells two groups apart
        sid = next(f"{base}{n or ''}{suffix}" for n in range(len(groups) + 1) if f"{base}{n or ''}{suffix}" not in sids)
        sids.add(sid)
        st = {"Sid": sid, "Effect": "Allow", "Action": sorted(group["actions"]),
              "Resource": ["*"] if star else _compact(group["resources"])}
        if group["condition"]:
            st["Condition"] = {op: {key: [values[k] for k in sorted(values)] for key, values in sorted(by_key.items())}
                               for op, by_key in sorted(group["condition"].items())}
        out.append(st)
    return out


def _sid_word(text: str) -> str:
    return "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", text))


# The kinds whose roles run the delivery pipeline's first run, which starts as soon as the pipeline stack creates it.
FIRST_RUN_KINDS = (DELIVERY, BUILDS)


def first_run_key_use() -> Statement:
    """The artifact key's policy names the first run's roles (infra/parts/artifact_store.py), but a boundary caps what
    a resource policy grants to a role ARN ("Permissions boundaries for IAM entities", IAM user guide), and the roles'
    own statements hold the key by alias, which takes up to five minutes to count. So their boundaries also allow key
    use through S3 (artifacts) and SNS (the operations topic) without the alias: a ceiling only, since what a role may
    use is still its own policy or a key policy naming it."""
    return Statement(
        Sid="FirstRunKeyUseThroughServices",
        Effect=Allow,
        Action=KMS_USE_ACTIONS,
        Resource=[arn("kms", "key/*")],
        Condition=Condition(StringEquals({"kms:ViaService": [Sub("s3.${AWS::Region}.amazonaws.com"),
                                                              Sub("sns.${AWS::Region}.amazonaws.com")]})),
    )


def boundary_statements(kind: str, source_type: str, serves_models: bool) -> list:
    """The roles' common statements, merged; for the delivery roles, those of the env's source type, merged."""
    statements = [*merged(common_statements(kind, serves_models))]
    if kind in FIRST_RUN_KINDS:
        statements.append(first_run_key_use().JSONrepr())
    if kind == DELIVERY:
        statements += merged(source_statements(source_type), sid_prefix=_sid_word(source_type) + "Source")
    return statements


def managed_policies(source_type: str, serves_models: bool) -> list[iam.ManagedPolicy]:
    """The boundaries (boundary_statements) of an env whose pipeline follows a `source_type` source."""
    return [
        iam.ManagedPolicy(
            logical_id,
            ManagedPolicyName=Ref(name_param),
            Path=Ref("RolePath"),
            Description=Sub(f"Caps the ${{ResourcePrefix}} {kind} roles at the actions and resources they use"),
            PolicyDocument={"Version": VERSION, "Statement": boundary_statements(kind, source_type, serves_models)},
        )
        for kind in kinds(serves_models) for logical_id, name_param in [BOUNDARIES[kind]]
    ]
