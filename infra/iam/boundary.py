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
from infra.config.names import Names
from infra.iam.policies import KMS_USE_ACTIONS, VERSION, arn
from infra.iam.runtime import builds, delivery, functions, jobs


# One boundary per kind of runtime role, each computed from the statements of the roles that carry it: a
# role whose policy someone widens can reach only what roles of its own kind use (a build never the
# pipeline's CloudFormation powers), and each fits IAM's 6,144 characters per managed policy.
DELIVERY = "delivery"  # the pipeline and the source events that start it
BUILDS = "builds"  # the Synth and Upsert CodeBuild projects, which run the repository's code
JOBS = "jobs"  # the SageMaker pipeline's jobs and the endpoints' model role
FUNCTIONS = "functions"  # the registry's Lambdas, the subscriber check and the crawler
# The deployment pipeline's Resolve Lambda (and production's rollout): apart, so the registry's functions
# can never reach an endpoint, and each boundary stays within IAM's size.
SERVING_FUNCTIONS = "serving"
# The smoke test's Lambda: apart from Resolve's, so each serving boundary keeps every condition its role's statements
# carry and still fits IAM's size.
SMOKE_TEST = "smoke"
BOUNDARIES = {DELIVERY: ("DeliveryRolesBoundary", "DeliveryBoundaryName"),
              BUILDS: ("BuildRolesBoundary", "BuildsBoundaryName"),
              JOBS: ("JobRolesBoundary", "JobsBoundaryName"),
              FUNCTIONS: ("FunctionRolesBoundary", "FunctionsBoundaryName"),
              SERVING_FUNCTIONS: ("ServingFunctionRolesBoundary", "ServingFunctionsBoundaryName"),
              SMOKE_TEST: ("SmokeTestRoleBoundary", "SmokeTestBoundaryName")}


def boundary_arn_sub(kind: str) -> str:
    return f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy${{RolePath}}${{{BOUNDARIES[kind][1]}}}"


# The kinds whose roles exist only where the env's config serves models (`deployment`): the serving-iam stack's.
SERVING_ONLY_KINDS = (SERVING_FUNCTIONS, SMOKE_TEST)


def kinds(serves_models: bool) -> list[str]:
    """The boundaries an env has: not the serving functions' where it serves no models."""
    return [kind for kind in BOUNDARIES if serves_models or kind not in SERVING_ONLY_KINDS]


def runtime_statements(serves_models: bool, kind: str | None = None, taker: Names | None = None) -> list[Statement]:
    """Every statement of the roles a boundary caps (all of them when kind is None), whatever the source type and
    wherever the env's models come from."""
    chosen = [kind] if kind else kinds(serves_models)
    out = [st for k in chosen for takes in (False, True)
           for st in common_statements(k, serves_models, takes_models=takes, taker=taker)]
    if DELIVERY in chosen:
        out += [st for source_type in SOURCE_TYPES for st in source_statements(source_type)]
    return out


def common_statements(kind: str, serves_models: bool, seeds_sample: bool = True, chat: bool = True,
                      takes_models: bool = False, taker: Names | None = None) -> list[Statement]:
    """The statements of the roles `kind` caps, but the source-specific ones. Where the env serves no models, none of
    the serving roles' (serving-iam stack): no boundary there leaves room for a deployment pipeline, an endpoint stack
    or a model. The archive pin's and the promotion role's only where `taker` serves this env's versions."""
    if kind == DELIVERY:
        serving = [*delivery.deployment_pipeline_statements(), *delivery.deployment_events_statements()]
        return [*delivery.codepipeline_statements(serves_models), *delivery.source_events_statements(),
                *(serving if serves_models else [])]
    if kind == BUILDS:
        return [*builds.synth_build_statements(), *builds.upsert_build_statements(seeds_sample)]
    if kind == JOBS:
        return [*jobs.sagemaker_execution_statements(), *(jobs.model_serving_statements(takes_models) if serves_models else [])]
    if kind == SERVING_FUNCTIONS:
        return functions.resolve_function_statements(takes_models) if serves_models else []
    if kind == SMOKE_TEST:
        return functions.smoke_test_function_statements(takes_models) if serves_models else []
    return [
        *functions.notifier_statements(),
        *functions.metrics_function_statements(),
        *functions.crawler_statements(),
        *functions.partitions_function_statements(),
        *functions.subscriber_check_statements(),
        *functions.subscriber_schedule_statements(),
        *(functions.chat_channel_statements() if chat else []),  # only an env that names chat channels has their role
        *([*functions.archive_pin_statements(), *functions.promotion_statements(taker)] if taker else []),
    ]


def source_statements(source_type: str) -> list[Statement]:
    return delivery.source_statements(source_type)


def boundary_actions(serves_models: bool, kind: str | None = None) -> list[str]:
    return sorted({action.JSONrepr() for st in runtime_statements(serves_models, kind) for action in st.Action})


def _json(value) -> object:
    return json.loads(json.dumps(value, default=lambda o: o.to_dict() if hasattr(o, "to_dict") else o.JSONrepr()))


def _plain(resource) -> bool:
    """A string, or a Sub of one string with no variable map: text whose ${…} stand for whole names."""
    return isinstance(resource, str) or (isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str))


def _text(resource) -> str:
    """A plain resource as the text IAM will match (the Fn::Sub template: its ${…} stand for whole names)."""
    return resource if isinstance(resource, str) else resource["Fn::Sub"]


def _by_type(resource, foreign: bool = False) -> bool:
    """A resource pattern that names no resource of this env: its only ${…} are AWS's own (partition, region, account),
    and it is not "*" (actions IAM cannot scope); `foreign`: or the Models* values, when they name another env's
    (deployment.models_from), whose resources are not this env's either."""
    others = r"\$\{(?!AWS::|Models)[^}]*\}" if foreign else r"\$\{(?!AWS::)[^}]*\}"
    return _plain(resource) and _text(resource) != "*" and not re.findall(others, _text(resource))


def _sub(text: str):
    return text if "${" not in text else {"Fn::Sub": text}


def _compact(resources: list) -> list:
    """The resources once each, but those another's wildcard already covers. Never a wider pattern than a role names:
    a boundary is no wider than its roles (X/* for X/execution/* would be). Resources that are not plain text (a Sub
    with a variable map, whose variables a wildcard could not stand for; a Ref or If) are kept as they are, once each."""
    others = {json.dumps(r, sort_keys=True): r for r in resources if not _plain(r)}
    texts = sorted({_text(r) for r in resources if _plain(r)})
    kept = [t for t in texts if not any(o != t and o.endswith("*") and fnmatch.fnmatchcase(t, o) for o in texts)]
    return [_sub(t) for t in kept] + [others[k] for k in sorted(others)]


def merged(statements: list[Statement], sid_prefix: str = "", foreign: bool = False) -> list[dict]:
    """The statements merged per service into as few as cover every one of them (Sids `sid_prefix` + service:
    IAM refuses a policy whose Sids repeat, so statements merged apart into one policy need their own prefix).

    An action the roles hold only without a condition is merged with the service's others: one statement, all on "*"
    (one for every service) or all on named resources, with the union of their actions and resources. So the boundary reaches the env's
    resources the roles' policies name (such an action may meet a resource of its service its own role never names,
    never one outside the env). An action the roles hold under a condition anywhere in the service (sagemaker:AddTags
    on a job's execution tag, iam:PassRole to a named service, CreateProcessingJob on the config's instance types…)
    is never merged that way: its statements keep their conditions, values and resources as the roles wrote them,
    joined only where that adds no pair of action and resource (same condition and resources, then same condition
    and actions). tests/iam/test_boundary.py holds each boundary to its roles' conditions."""
    parts: list[tuple[str, list, list, dict]] = []
    for statement in statements:
        st = _json(statement)
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for service in sorted({a.split(":", 1)[0] for a in actions}):
            parts.append((service, [a for a in actions if a.startswith(f"{service}:")], resources,
                          _canonical(st.get("Condition", {}))))
    conditioned = {a for _, actions, _, condition in parts if condition for a in actions}
    loose: dict[tuple, dict] = {}
    exact: dict[tuple, set] = {}
    for service, actions, all_resources, condition in parts:
        free = [] if condition else [a for a in actions if a not in conditioned]
        # A resource named by type (model/*, endpoint/* of the account) is kept with exactly the actions its roles
        # hold on it: merged with the service's others, CreateEndpoint would meet every endpoint of the account.
        by_type = [r for r in all_resources if _by_type(r, foreign)] if free else []
        for resource in by_type:
            exact.setdefault((service, "{}", (json.dumps(resource, sort_keys=True),)), set()).update(free)
        resources = [r for r in all_resources if r not in by_type]
        if free and resources:
            # Actions with no resource-level permission and no condition: one statement for every service (IAM's size).
            star = resources == ["*"]
            group = loose.setdefault(("" if star else service, star), {"actions": set(), "resources": []})
            group["actions"] |= set(free)
            group["resources"] += resources
        held = [a for a in actions if a not in free]
        if held:
            where = tuple(sorted({json.dumps(r, sort_keys=True) for r in all_resources}))
            exact.setdefault((service, json.dumps(condition, sort_keys=True), where), set()).update(held)
    # A by-type resource on which its roles hold every action of its service's merged statement joins that statement
    # (which adds no pair of action and resource); the other actions held on it stay apart, on it alone.
    for (service, condition, where), actions in list(exact.items()):
        group = loose.get((service, False))
        if condition == "{}" and len(where) == 1 and group and actions >= group["actions"]:
            group["resources"].append(json.loads(where[0]))
            if actions - group["actions"]:
                exact[(service, condition, where)] = actions - group["actions"]
            else:
                del exact[(service, condition, where)]
    by_actions: dict[tuple, set] = {}
    for (service, condition, where), actions in exact.items():
        by_actions.setdefault((service, condition, tuple(sorted(actions))), set()).update(where)
    groups = [(service, star, sorted(g["actions"]), g["resources"], "{}") for (service, star), g in loose.items()]
    for (service, condition, actions), where in _join_values(by_actions).items():
        resources = [json.loads(r) for r in sorted(where)]
        groups.append((service, resources == ["*"], list(actions), resources, condition))
    out = []
    sids: set[str] = set()
    for service, star, actions, resources, condition in sorted(groups, key=lambda g: json.dumps(g, sort_keys=True)):
        base = sid_prefix + "".join(part.title() for part in re.split(r"[^a-z0-9]+", service))
        suffix = "NoResourceLevelPermission" if star else ""  # last, whatever number tells two groups apart
        sid = next(f"{base}{n or ''}{suffix}" for n in range(len(groups) + 1) if f"{base}{n or ''}{suffix}" not in sids)
        sids.add(sid)
        st = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": ["*"] if star else _compact(resources)}
        if json.loads(condition):
            st["Condition"] = json.loads(condition)
        out.append(st)
    return out


# Operators whose values are alternatives (any one matches): two statements on the same actions and resources whose
# condition is one such key, differing only in its values, allow together what one with both values allows.
ANY_OF_OPERATORS = frozenset({"StringEquals", "StringLike", "ArnEquals", "ArnLike", "ForAnyValue:StringEquals",
                              "ForAnyValue:StringLike"})


def _join_values(by_actions: dict[tuple, set]) -> dict[tuple, set]:
    """(service, condition, actions) -> resources, with statements that differ only in the values of their one any-of
    condition key joined into one holding both values (exact: no request is allowed that one of them did not)."""
    joined: dict[tuple, dict] = {}
    out: dict[tuple, set] = {}
    for (service, condition, actions), where in by_actions.items():
        cond = json.loads(condition)
        (op, keys), = cond.items() if len(cond) == 1 else ((None, {}),)
        if op not in ANY_OF_OPERATORS or len(keys) != 1:
            out[(service, condition, actions)] = where
            continue
        (key, value), = keys.items()
        values = joined.setdefault((service, actions, tuple(sorted(where)), op, key), {})
        for v in value if isinstance(value, list) else [value]:
            values[json.dumps(v, sort_keys=True)] = v
    for (service, actions, where, op, key), values in joined.items():
        value = [values[k] for k in sorted(values)]
        out[(service, json.dumps({op: {key: value if len(value) > 1 else value[0]}}, sort_keys=True), actions)] = set(where)
    return out


def _canonical(condition: dict) -> dict:
    """A condition with every value a sorted list, so two statements giving the same values compare equal."""
    return {op: {key: sorted(value, key=lambda v: json.dumps(v, sort_keys=True)) if isinstance(value, list) else value
                 for key, value in sorted(keys.items())} for op, keys in sorted(condition.items())}


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


def boundary_statements(kind: str, source_type: str, serves_models: bool, seeds_sample: bool = True,
                        chat: bool = True, takes_models: bool = False, taker: Names | None = None) -> list:
    """The roles' common statements, merged; for the delivery roles, those of the env's source type, merged."""
    statements = [*merged(common_statements(kind, serves_models, seeds_sample, chat, takes_models, taker),
                          foreign=takes_models)]
    if kind in FIRST_RUN_KINDS:
        statements.append(first_run_key_use().JSONrepr())
    if kind == DELIVERY:
        statements += merged(source_statements(source_type), sid_prefix=_sid_word(source_type) + "Source")
    return statements


def managed_policies(source_type: str, serves_models: bool, seeds_sample: bool = True,
                     chat: bool = True, takes_models: bool = False, taker: Names | None = None) -> list[iam.ManagedPolicy]:
    """The boundaries (boundary_statements) of an env whose pipeline follows a `source_type` source (and, takes_models,
    serves another env's models; taker: another env serves its models)."""
    return [
        iam.ManagedPolicy(
            logical_id,
            ManagedPolicyName=Ref(name_param),
            Path=Ref("RolePath"),
            Description=Sub(f"Caps the ${{ResourcePrefix}} {kind} roles at the actions and resources they use"),
            PolicyDocument={"Version": VERSION, "Statement": boundary_statements(kind, source_type, serves_models, seeds_sample, chat,
                                                                                      takes_models, taker)},
        )
        for kind in kinds(serves_models) for logical_id, name_param in [BOUNDARIES[kind]]
    ]
