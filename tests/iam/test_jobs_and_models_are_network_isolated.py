"""No role or boundary lets anyone start a SageMaker job or create a model that can reach the network.

Issue 25, P4 (training data leaves AWS): the SageMaker jobs run code a push wrote, as the execution role, which reads
the training data; a container with a network could send it anywhere. So every statement of every rendered policy, in
every env and variant (tests/support/concrete_envs.py), the boundaries included, that allows an action creating a
SageMaker job, job definition, monitoring schedule or model holds `Bool` `sagemaker:NetworkIsolation` `true`, and the
action takes that key (the table in tests/iam/test_condition_keys_fit_their_actions.py, from the Service Authorization
Reference, "Actions, resources, and condition keys for Amazon SageMaker"). An action of the class that does not take
the key (CreateTransformJob, CreateAutoMLJob, CreateNotebookInstance…) cannot be held to isolation, so no statement may
allow it at all. Wildcards count: `sagemaker:Create*` allows every one of them.
"""
from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import cfnlint

from tests.iam.test_condition_keys_fit_their_actions import SERVICE_KEYS
from tests.support.cfn import as_list, policies, statements

KEY = "sagemaker:NetworkIsolation"
_SAGEMAKER_ACTIONS = sorted(json.loads((Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json")
                                       .read_text())["sagemaker"]["Actions"])
# What starts a container or defines one to be started: jobs, job definitions, monitoring schedules, models (an
# endpoint or transform job runs a model), notebook instances, Studio apps and HyperPod clusters.
_CLASS = re.compile(r"create(\w*job(v2)?|\w*jobdefinition|model|monitoringschedule|notebookinstance|app|cluster)")
CREATES_COMPUTE = frozenset(f"sagemaker:{a}" for a in _SAGEMAKER_ACTIONS if _CLASS.fullmatch(a))
TAKES_KEY = frozenset(a.lower() for a, keys in SERVICE_KEYS.items() if KEY in keys)


def _allowed(pattern: str) -> set[str]:
    """The actions of the class an Action entry allows (IAM matches action names case-insensitively)."""
    return {a for a in CREATES_COMPUTE if fnmatch.fnmatchcase(a, pattern.lower())}


def _isolated(statement: dict) -> bool:
    values = statement.get("Condition", {}).get("Bool", {}).get(KEY)
    return values is not None and {str(v).lower() for v in as_list(values)} == {"true"}


def problems(statement: dict) -> list[str]:
    if statement.get("Effect") != "Allow":
        return []
    if "NotAction" in statement:
        return [f"NotAction {as_list(statement['NotAction'])} allows what it does not name: list the actions"]
    out = []
    for action in sorted({a for pattern in as_list(statement.get("Action", [])) for a in _allowed(pattern)}):
        if action not in TAKES_KEY:
            out.append(f"{action} is allowed, and it takes no {KEY} key: it cannot be held to isolation")
        elif not _isolated(statement):
            out.append(f"{action} is allowed without Bool {KEY} true")
    return out


def test_every_grant_to_create_a_job_or_model_requires_network_isolation(envs):
    found = [f"{where} {prop} {st.get('Sid')}: {p}" for env in envs
             for where, prop, st in env.policy_statements() for p in problems(st)]
    assert not found, "\n".join(found)


def test_the_jobs_role_and_boundary_do_start_jobs(envs):
    """The check above passes vacuously if nothing grants jobs: the execution role and the jobs' boundary do, isolated."""
    for env in envs:
        held = {logical_id for stack in ("iam", "boundaries") for logical_id, _, _, document in policies(env.template(stack))
                for st in statements(document)
                if _isolated(st) and {"sagemaker:createprocessingjob", "sagemaker:createtrainingjob"}
                <= {a for p in as_list(st.get("Action", [])) for a in _allowed(p)}}
        assert {"SageMakerExecutionRole", "JobRolesBoundary"} <= held, (env.label, held)


def test_the_check_catches_each_way_a_job_could_run_with_a_network():
    create = {"Effect": "Allow", "Action": ["sagemaker:CreateTrainingJob"], "Resource": "*"}
    assert problems(create) == ["sagemaker:createtrainingjob is allowed without Bool sagemaker:NetworkIsolation true"]
    assert problems({**create, "Condition": {"Bool": {KEY: "false"}}})
    assert problems({**create, "Condition": {"BoolIfExists": {KEY: "true"}}})  # a request without the key would pass
    assert problems({**create, "Condition": {"Bool": {KEY: ["true", "false"]}}})
    assert not problems({**create, "Condition": {"Bool": {KEY: "true"}}})
    assert not problems({**create, "Effect": "Deny"})
    wildcard = problems({**create, "Action": "sagemaker:Create*", "Condition": {"Bool": {KEY: "true"}}})
    assert "sagemaker:createtransformjob is allowed, and it takes no sagemaker:NetworkIsolation key: it cannot be held " \
           "to isolation" in wildcard
    assert any("createmodel is allowed" in p for p in problems({**create, "Action": "SageMaker:createModel"}))
    assert problems({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"})
    assert problems({"Effect": "Allow", "Action": "*", "Resource": "*"})
    assert {"sagemaker:createprocessingjob", "sagemaker:createtrainingjob", "sagemaker:createhyperparametertuningjob",
            "sagemaker:createmodel"} <= TAKES_KEY
