"""The CodeConnections source reaches only this env's repository and branch, through this env's connection.

A push deploys the pipeline stack, so it can point the Source action at another repository, branch or connection.
What stops it is IAM: the pipeline role may use the env's connection only for the env's repository (StringEquals
{prefix}:FullRepositoryId) and branch ({prefix}:BranchName, present when a call names a branch), and the pipeline
stack's deploy role may pass only the env's connection (Service Authorization Reference: AWS CodeConnections and
AWS CodeStar Connections, UseConnection and PassConnection). Checked in every template, boundaries included, for
every env and variant: an env of another source type holds neither action.
"""
from __future__ import annotations

import copy
from fnmatch import fnmatchcase


from tests.support.cfn import as_list, policies, statements

PREFIXES = ("codeconnections", "codestar-connections")


def _holds(statement: dict, action: str) -> list[str]:
    """The prefixes whose `action` the statement grants."""
    granted = [a.lower() for a in as_list(statement["Action"])]
    return [p for p in PREFIXES if any(fnmatchcase(f"{p}:{action}".lower(), g) for g in granted)]


def misuses(statement: dict, source) -> list[str]:
    if statement.get("Effect") != "Allow":
        return []
    out = []
    passed, used = _holds(statement, "PassConnection"), _holds(statement, "UseConnection")
    if (passed or used) and source.type != "codeconnections":
        return [f"holds {passed + used} connection actions though the env's source is {source.type}"]
    if (passed or used) and as_list(statement["Resource"]) != [source.connection_arn]:
        out.append(f"names {as_list(statement['Resource'])}, not only the env's connection {source.connection_arn}")
    condition = statement.get("Condition", {})
    for prefix in used:
        if as_list(condition.get("StringEquals", {}).get(f"{prefix}:FullRepositoryId")) != [source.repository]:
            out.append(f"{prefix}:UseConnection not held to the repository {source.repository} (StringEquals)")
        branch = [as_list(condition.get(op, {}).get(f"{prefix}:BranchName")) for op in ("StringEquals", "StringEqualsIfExists")]
        if [source.branch] not in branch:
            out.append(f"{prefix}:UseConnection not held to the branch {source.branch}")
    return out


def problems(env) -> list[str]:
    source = env.project.env(env.env).source
    return [f"{env.label}: {stack} {lid} {st.get('Sid')}: {m}"
            for stack in env.stacks for lid, _, _, document in policies(env.template(stack))
            for st in statements(document) for m in misuses(st, source)]


def test_connections_are_used_and_passed_only_for_the_envs_repository_and_branch(envs):
    assert any(e.project.env(e.env).source.type == "codeconnections" for e in envs), "no env follows a connection"
    found = [p for env in envs for p in problems(env)]
    assert not found, "\n".join(found)


def test_the_check_catches_the_grants_as_they_were(envs):
    """PassConnection on every connection of the account, UseConnection with no repository or branch."""
    env = next(e for e in envs if e.project.env(e.env).source.type == "codeconnections")
    source = env.project.env(env.env).source
    passing = {"Effect": "Allow", "Action": ["codeconnections:PassConnection", "codestar-connections:PassConnection"],
               "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:codeconnections:${AWS::Region}:${AWS::AccountId}:connection/*"}]}
    using = {"Effect": "Allow", "Action": ["codeconnections:UseConnection", "codestar-connections:UseConnection"],
             "Resource": [source.connection_arn]}
    assert misuses(passing, source) and len(misuses(using, source)) == 4
    held = copy.deepcopy(using) | {"Action": "codeconnections:UseConnection", "Condition": {
        "StringEquals": {"codeconnections:FullRepositoryId": source.repository},
        "StringEqualsIfExists": {"codeconnections:BranchName": source.branch}}}
    assert misuses(held, source) == []
