"""The permissions boundaries reach the environment's own resources, cover every runtime role, and fit IAM.

The boundary was once one statement on Resource "*": a role whose policy was rewritten could then pass
any role, start any build and read any bucket in the account. Now each boundary is its roles' own
statements merged per service; these tests evaluate it per environment as IAM would see it.
"""
from __future__ import annotations

import copy
import dataclasses
import fnmatch
import json
import re
from types import MappingProxyType

import pytest

from infra.cfn.source import SOURCE_TYPES
from infra.config.model import Source
from infra.output import render
from infra.iam.boundary import ANY_OF_OPERATORS, BOUNDARIES, DELIVERY, JOBS, _sid_word, merged, source_statements
from infra.iam.policies import NO_RESOURCE_LEVEL_ACTIONS
from infra.stacks import BUILDERS
from tests.support.cfn import as_list, statements
from tests.support.iam_actions import may_name
from tests.support.longest_names import longest_project
from tests.support.resolve import resolve_all

MANAGED_POLICY_LIMIT = 6144  # characters, white space not counted (IAM quotas)
BOUNDARY_IDS = [logical_id for logical_id, _ in BOUNDARIES.values()]


def _boundaries(stacks) -> dict[str, dict]:
    """logical id -> the boundary's policy document as IAM receives it for this env (an env that serves no models has
    no serving functions' boundary)."""
    policies = stacks["boundaries"].resources("AWS::IAM::ManagedPolicy")
    return {logical_id: policies[logical_id]["Properties"]["PolicyDocument"] for logical_id in BOUNDARY_IDS
            if logical_id in policies}


def _bounded_role_statements(stacks) -> list[tuple[str, str, dict]]:
    """(role, its boundary's logical id, statement) for every Allow statement a bounded role holds."""
    # The boundaries' names, written into the env's templates from its config.
    names = stacks["boundaries"].config_values
    # Every role with a boundary, in whichever stack holds it (iam, serving-iam…).
    role_stacks = [s for s in stacks.values() if any("PermissionsBoundary" in r["Properties"]
                                                     for r in s.resources("AWS::IAM::Role").values())]
    roles = {lid: r for s in role_stacks for lid, r in s.resources("AWS::IAM::Role").items()
             if "PermissionsBoundary" in r["Properties"]}
    boundary_of = {}
    for logical_id, role in roles.items():
        arn = role["Properties"].get("PermissionsBoundary", "")
        boundary_of[logical_id] = next(b for b, (lid, param) in zip(BOUNDARY_IDS, BOUNDARIES.values())
                                       if arn.endswith(f"/{names[param]}"))
    out = []
    for logical_id, role in roles.items():
        for policy in role["Properties"].get("Policies", []):
            out += [(logical_id, boundary_of[logical_id], st) for st in statements(policy["PolicyDocument"])]
    for attached in (p for s in role_stacks for p in s.resources("AWS::IAM::Policy").values()):  # per source type
        for role_ref in attached["Properties"]["Roles"]:
            logical_id = next(k for k, r in roles.items() if r["Properties"]["RoleName"] == role_ref)
            out += [(logical_id, boundary_of[logical_id], st) for st in statements(attached["Properties"]["PolicyDocument"])]
    return [(role, boundary, st) for role, boundary, st in out if st["Effect"] == "Allow"]


def _statements_by_boundary(stacks) -> dict[str, list[dict]]:
    """boundary logical id -> the Allow statements of the roles it caps."""
    by_boundary: dict[str, list[dict]] = {}
    for _, boundary, st in _bounded_role_statements(stacks):
        by_boundary.setdefault(boundary, []).append(st)
    return by_boundary


def _boundary_statements_and_roles(stacks):
    """(boundary logical id, a statement of it, the Allow statements of the roles it caps), but the boundary-only ones."""
    by_boundary = _statements_by_boundary(stacks)
    for logical_id, document in _boundaries(stacks).items():
        for b in statements(document):
            if b.get("Sid") not in BOUNDARY_ONLY_SIDS:
                yield logical_id, b, by_boundary.get(logical_id, [])


def _covers(boundary_st: dict, action: str, resource: str, condition: dict) -> bool:
    if action not in as_list(boundary_st["Action"]):
        return False
    if not any(fnmatch.fnmatchcase(resource, pattern) for pattern in as_list(boundary_st["Resource"])):
        return False
    for op, keys in boundary_st.get("Condition", {}).items():
        for key, allowed in keys.items():
            wanted = as_list(condition.get(op, {}).get(key, []))
            if not wanted or not set(wanted) <= set(as_list(allowed)):
                return False
    return True


def coverage_problems(stacks) -> list[str]:
    boundaries = _boundaries(stacks)
    problems = []
    for role, boundary, st in _bounded_role_statements(stacks):
        if boundary not in boundaries:
            problems.append(f"{role}: its boundary {boundary} is not in the boundaries stack")
            continue
        for action in as_list(st["Action"]):
            for resource in as_list(st["Resource"]):
                if not any(_covers(b, action, resource, st.get("Condition", {})) for b in statements(boundaries[boundary])):
                    problems.append(f"{role} {st.get('Sid')}: {action} on {resource} is outside {boundary}")
    return problems


# The one statement a boundary holds that no role's own does, by design: key use through S3 and SNS for the first
# run's roles (infra/iam/boundary.py first_run_key_use), a ceiling on what the key policy grants them.
BOUNDARY_ONLY_SIDS = ("FirstRunKeyUseThroughServices",)


def _narrower(boundary_condition: dict, role_condition: dict) -> bool:
    """Whether the boundary's condition asks at least what the role statement's does: each of the role's operator and
    key, with no value the role's does not allow."""
    for op, keys in role_condition.items():
        for key, values in keys.items():
            held = boundary_condition.get(op, {}).get(key)
            if held is None or not set(map(str, as_list(held))) <= set(map(str, as_list(values))):
                return False
    return True


def _joined_values_narrower(boundary_condition: dict, pool: list[dict]) -> bool:
    """A condition of one any-of key (infra/iam/boundary.py ANY_OF_OPERATORS) whose values are each allowed by a role
    statement of the pool conditioned on that key alone: the join of statements that differ only in those values."""
    if len(boundary_condition) != 1 or len(next(iter(boundary_condition.values()))) != 1:
        return False
    (op, keys), = boundary_condition.items()
    (key, values), = keys.items()
    if op not in ANY_OF_OPERATORS:
        return False
    allowed = {str(v) for r in pool if set(r.get("Condition", {})) == {op} and set(r["Condition"][op]) == {key}
               for v in as_list(r["Condition"][op][key])}
    return set(map(str, as_list(values))) <= allowed


def _overlap(resource: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(resource, pattern) or fnmatch.fnmatchcase(pattern, resource)


def widening_problems(stacks) -> list[str]:
    """A boundary is no wider than its roles' statements, conditions included: every action it allows on a resource
    (one the action can be authorised on) is allowed by a role it caps, under a condition at least as narrow as that
    of a role statement granting the action on an overlapping resource (or, where none does, of any granting it).

    So merging may let an action meet another resource of its service in the env (scope_problems holds the env), but
    never drop or widen a condition the roles put on that action: the AddTags a job's execution tag holds, once also
    granted without it on the jobs, is caught here."""
    problems = []
    for logical_id, b, roles in _boundary_statements_and_roles(stacks):
        for action in as_list(b["Action"]):
            grants = [r for r in roles if any(fnmatch.fnmatchcase(action, a) for a in as_list(r["Action"]))]
            for resource in as_list(b["Resource"]):
                if not may_name(action, resource):
                    continue  # an action never authorised on that resource type: the merge adds nothing there
                pool = [r for r in grants if any(_overlap(resource, p) for p in as_list(r["Resource"]))] or grants
                if not (any(_narrower(b.get("Condition", {}), r.get("Condition", {})) for r in pool)
                        or _joined_values_narrower(b.get("Condition", {}), pool)):
                    problems.append(f"{logical_id} {b['Sid']}: {action} on {resource} under {b.get('Condition', {})} "
                                    "is wider than every statement of its roles")
    return problems


def _env_values(stacks) -> list[str]:
    """The env's own names as its templates hold them: those naming the env (prefixes, pipeline and stack names…) and
    its source (the bucket, repository, connection config names for it). A resource naming none of them is named by
    type, or by the project's name only (`stack/<project>-*`), which every env of the project shares."""
    values = stacks["boundaries"].config_values
    env = re.compile(rf"(^|[^a-z0-9]){re.escape(values['Environment'])}([^a-z0-9]|$)")
    return [v for k, v in values.items() if isinstance(v, str) and v and (env.search(v) or k.startswith("Source"))]


def by_type_problems(stacks) -> list[str]:
    """A boundary pairs an action with a resource named by type (endpoint/*, model/*: every env's and team's) only
    where a role it caps holds that action on it: merged with the env's own grants, CreateEndpoint once met every
    endpoint of the account (widening_problems and scope_problems let that pass: it is in the account, conditionless
    and not "*")."""
    own = _env_values(stacks)
    problems = []
    for logical_id, b, roles in _boundary_statements_and_roles(stacks):
        for resource in as_list(b["Resource"]):
            if resource == "*" or any(v in resource for v in own):
                continue
            for action in as_list(b["Action"]):
                if may_name(action, resource) and not any(
                        any(fnmatch.fnmatchcase(action, a) for a in as_list(r["Action"]))
                        and any(fnmatch.fnmatchcase(resource, p) for p in as_list(r["Resource"])) for r in roles):
                    problems.append(f"{logical_id} {b['Sid']}: {action} on {resource}, named by type, which no role "
                                    "it caps holds there")
    return problems


def scope_problems(stacks) -> list[str]:
    problems = []
    for logical_id, document in _boundaries(stacks).items():
        for st in statements(document):
            if "*" in as_list(st["Resource"]):
                # The reviewed list of actions IAM cannot scope (infra/iam/policies.py), nothing else.
                scoped = [a for a in as_list(st["Action"]) if a not in NO_RESOURCE_LEVEL_ACTIONS]
                problems += [f"{logical_id} {st['Sid']}: {a} on every resource" for a in scoped]
            if "iam:PassRole" in as_list(st["Action"]):
                if any("*" in r for r in as_list(st["Resource"])):
                    problems.append(f"{logical_id} {st['Sid']}: iam:PassRole on a wildcard")
                if "iam:PassedToService" not in st.get("Condition", {}).get("StringEquals", {}):
                    problems.append(f"{logical_id} {st['Sid']}: iam:PassRole without iam:PassedToService")
    return problems


def _sizes(stacks) -> dict[str, int]:
    return {logical_id: len(json.dumps(doc, separators=(",", ":"))) for logical_id, doc in _boundaries(stacks).items()}


def test_each_boundary_covers_every_statement_of_the_roles_it_caps(stacks_by_env):
    problems = [f"env {env}: {p}" for env, stacks in stacks_by_env.items() for p in coverage_problems(stacks)]
    assert not problems, "\n".join(problems)


def test_each_boundary_is_no_wider_than_its_roles_statements_conditions_included(stacks_by_env):
    problems = [f"env {env}: {p}" for env, stacks in stacks_by_env.items() for p in widening_problems(stacks)]
    assert not problems, "\n".join(problems)


def test_the_widening_check_catches_a_condition_dropped_by_the_merge(stacks_by_env):
    """The merge as it was: the jobs' AddTags, conditioned on the job's execution tag, also granted unconditioned."""
    stacks = copy.deepcopy(next(iter(stacks_by_env.values())))
    jobs = BOUNDARIES[JOBS][0]
    document = stacks["boundaries"].template["Resources"][jobs]["Properties"]["PolicyDocument"]
    tagged = next(st for st in document["Statement"] if "sagemaker:AddTags" in as_list(st["Action"]) and "Condition" in st)
    document["Statement"].append({"Sid": "Dropped", "Effect": "Allow", "Action": ["sagemaker:AddTags"], "Resource": tagged["Resource"]})
    problems = widening_problems(stacks)
    assert problems and all(p.startswith(f"{jobs} Dropped: sagemaker:AddTags") for p in problems), problems


def test_a_boundary_holds_a_resource_named_by_type_only_to_its_roles_actions_there(stacks_by_env):
    problems = [f"env {env}: {p}" for env, stacks in stacks_by_env.items() for p in by_type_problems(stacks)]
    assert not problems, "\n".join(problems)


def test_the_by_type_check_catches_an_action_merged_onto_every_endpoint(stacks_by_env):
    """The merge as it was: the rollout's UpdateEndpoint joined with the endpoint/* its roles only describe."""
    every_endpoint = {"Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint/*"}
    stacks = copy.deepcopy(next(iter(stacks_by_env.values())))
    document = stacks["boundaries"].template["Resources"][BOUNDARY_IDS[0]]["Properties"]["PolicyDocument"]
    document["Statement"].append({"Sid": "Merged", "Effect": "Allow", "Action": ["sagemaker:UpdateEndpoint"],
                                  "Resource": [every_endpoint]})
    assert any(p.startswith(f"{BOUNDARY_IDS[0]} Merged: sagemaker:UpdateEndpoint on") for p in by_type_problems(stacks))


def test_merging_keeps_an_action_off_a_resource_named_by_type_its_roles_do_not_hold_it_on():
    """merged() itself, on the shape that once gave every endpoint of the account: one role describes endpoints by
    type, another updates this env's one endpoint."""
    from awacs.aws import Allow, Statement
    from infra.iam.policies import arn
    every = arn("sagemaker", "endpoint/*")
    ours = arn("sagemaker", "endpoint/${ProductionEndpointName}")
    out = merged([Statement(Effect=Allow, Action=[awacs_action("DescribeEndpoint")], Resource=[every]),
                  Statement(Effect=Allow, Action=[awacs_action("UpdateEndpoint"), awacs_action("DescribeEndpoint")],
                            Resource=[ours])])
    on_every = [st for st in out if every.to_dict() in as_list(st["Resource"])]
    assert on_every and all(as_list(st["Action"]) == ["sagemaker:DescribeEndpoint"] for st in on_every), out
    assert any("sagemaker:UpdateEndpoint" in st["Action"] and ours.to_dict() in st["Resource"] for st in out), out


def awacs_action(name: str):
    from awacs.sagemaker import Action
    return Action(name)


def test_boundaries_reach_only_named_resources_and_pass_only_named_roles_to_named_services(stacks_by_env):
    problems = [f"env {env}: {p}" for env, stacks in stacks_by_env.items() for p in scope_problems(stacks)]
    assert not problems, "\n".join(problems)


def test_the_scope_check_catches_a_boundary_on_every_resource(stacks_by_env):
    """The boundary as it was: every action the roles use, on Resource "*"."""
    stacks = copy.deepcopy(next(iter(stacks_by_env.values())))
    policy = stacks["boundaries"].template["Resources"][BOUNDARY_IDS[0]]["Properties"]
    actions = sorted({a for st in statements(_boundaries(stacks)[BOUNDARY_IDS[0]]) for a in as_list(st["Action"])})
    policy["PolicyDocument"] = {"Version": "2012-10-17", "Statement": [
        {"Sid": "BoundaryCapsActionsNotResources", "Effect": "Allow", "Action": actions, "Resource": ["*"]}]}
    problems = scope_problems(stacks)
    assert any("iam:PassRole on every resource" in p for p in problems)
    assert any("s3:GetObject on every resource" in p for p in problems)


def test_the_coverage_check_catches_a_boundary_that_misses_a_resource(stacks_by_env):
    stacks = copy.deepcopy(next(iter(stacks_by_env.values())))
    document = stacks["boundaries"].template["Resources"][BOUNDARY_IDS[0]]["Properties"]["PolicyDocument"]
    (sqs,) = [st for st in document["Statement"] if isinstance(st, dict) and st.get("Sid") == "Codepipeline"]
    sqs["Resource"] = ["arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:someone-elses-pipeline"]
    problems = coverage_problems(stacks)
    assert problems and all("codepipeline:StartPipelineExecution" in p for p in problems)


def test_boundaries_fit_the_managed_policy_limit_in_every_env(stacks_by_env):
    for env, stacks in stacks_by_env.items():
        for logical_id, size in _sizes(stacks).items():
            assert size <= MANAGED_POLICY_LIMIT, f"env {env}: {logical_id} is {size} characters; IAM allows {MANAGED_POLICY_LIMIT}"


# The longest source of each type config accepts (infra/config/schema.py): the delivery boundary holds the env's own.
LONGEST_SOURCES = {
    "codeconnections": lambda env: dataclasses.replace(env.source, type="codeconnections", branch="b" * 250,
                                                       repository="o" * 39 + "/" + "r" * 100,
                                                       connection_arn=f"arn:aws:codeconnections:{env.region}:111111111111:"
                                                                      "connection/00000000-0000-0000-0000-000000000000"),
    "codecommit": lambda env: Source(type="codecommit", branch="b" * 250, repository="r" * 100),
    "s3": lambda env: Source(type="s3", bucket="b" * 63, key="k" * 1020 + ".zip"),
}


@pytest.mark.parametrize("source_type", SOURCE_TYPES)
def test_boundaries_fit_even_with_the_longest_names_config_accepts(project, source_type):
    """Names are config: the longest project, short, env and pipeline names and source (of each type) still fit."""
    longest = longest_project(project)
    (env,) = longest.environments.values()
    env = dataclasses.replace(env, source=LONGEST_SOURCES[source_type](env))
    longest = dataclasses.replace(longest, environments=MappingProxyType({env.name: env}))
    stacks = resolve_all(render.render(longest), longest, env.name, list(BUILDERS))
    for logical_id, size in _sizes(stacks).items():
        assert size <= MANAGED_POLICY_LIMIT, (f"{logical_id} is {size} characters with the longest names and a {source_type} "
                                              f"source; IAM allows {MANAGED_POLICY_LIMIT}")


def test_the_delivery_boundary_holds_its_envs_source_statements_and_no_other_types(envs):
    """boundary_statements(kind, source_type): the delivery boundary holds the env's source type's statements, merged
    under their own Sid prefix, and none of another type's (each env's template is its own)."""
    seen = set()
    for env in envs:
        source_type = env.project.env(env.env).source.type
        seen.add(source_type)
        document = env.template("boundaries")["Resources"][BOUNDARIES[DELIVERY][0]]["Properties"]["PolicyDocument"]
        sids = {st["Sid"] for st in statements(document)}
        for kind in SOURCE_TYPES:
            prefix = _sid_word(kind) + "Source"
            wanted = {st["Sid"] for st in merged(source_statements(kind), sid_prefix=prefix)} if kind == source_type else set()
            assert {sid for sid in sids if sid.startswith(prefix)} == wanted, f"{env.label}: {kind} source statements"
    assert seen == set(SOURCE_TYPES), seen


def test_merging_keeps_a_sub_with_a_variable_map_whole_and_once():
    """A Sub with a variable map (the image registry's account, looked up per region) is not text a wildcard may
    stand for: the boundary keeps it as the roles wrote it, once however many roles hold it."""
    from infra.iam.boundary import merged
    from infra.iam.policies import pull_images

    jobs, serving = pull_images("Jobs", ["sagemaker-scikit-learn", "sagemaker-xgboost"]), pull_images("Serving", ["sagemaker-xgboost"])
    (scoped,) = [st for st in merged([*jobs, *serving]) if st["Resource"] != ["*"]]
    wanted = [json.loads(json.dumps(r.to_dict())) for r in jobs[1].Resource]
    assert sorted(json.dumps(r, sort_keys=True) for r in scoped["Resource"]) == sorted(json.dumps(r, sort_keys=True) for r in wanted)
    assert all(isinstance(r["Fn::Sub"], list) for r in scoped["Resource"])
