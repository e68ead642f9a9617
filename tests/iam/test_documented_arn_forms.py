"""Every statement names its resources in the form IAM authorises its actions against, where AWS documents a quirk.

CloudWatch Logs authorises every log-group action except TagResource, UntagResource and ListTagsForResource against
the group's ARN with a trailing ":*" (CloudWatch Logs API reference, LogGroup.arn). The notifications deploy role
once held PutMetricFilter on ".../log-group:/aws/lambda/<notifier>" alone: CloudFormation was denied, the stack rolled
back, and the delivery pipeline stopped before KPI, Upsert and Deployment. IAM's ARN patterns and policy linters
accept the wrong form, so the quirks are kept in FORMS below, one row each, and applied to every Allow statement of
every policy of every template, for every env, both branches of every conditional statement.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import cfnlint

from infra.stacks import BUILDERS
from tests.support.cfn import as_list, policies, statements
from tests.support.policy_eval import _glob
from tests.support.resolve import resolve_all

# IAM's Service Authorization Reference as cfn-lint ships it: the resource types each action is authorised on.
_SAR = json.loads((Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json").read_text())
LOG_GROUP_TAGGING = frozenset({"TagResource", "UntagResource", "ListTagsForResource"})


@dataclass(frozen=True)
class Form:
    """Actions of `service` on resource type `resource_type` (SAR), bar `except_actions`, or only `only_actions`, are
    authorised against `form`, where {base} is the resource's ARN as `named` (a regex, group "base") finds it in a
    statement and {leaf} an example sub-resource."""

    service: str
    resource_type: str
    named: str
    form: str
    evidence: str
    except_actions: frozenset = frozenset()
    only_actions: frozenset | None = None

    def applies(self, action: str) -> bool:
        service, name = action.split(":", 1)
        if service != self.service or self.resource_type not in (_resource_types(action) or []):
            return False
        if self.only_actions is not None:
            return name in self.only_actions
        return name not in self.except_actions


_LOG_GROUP = r"^(?P<base>arn:[^:]+:logs:[^:]*:[^:]*:log-group:.+?)(?::log-stream:.*|:\*)?$"
_LOGS_API = "CloudWatch Logs API reference, LogGroup.arn"
FORMS = (
    Form("logs", "log-group", _LOG_GROUP, "{base}:*", _LOGS_API, except_actions=LOG_GROUP_TAGGING),
    Form("logs", "log-group", _LOG_GROUP, "{base}", _LOGS_API, only_actions=LOG_GROUP_TAGGING),
    Form("logs", "log-stream", _LOG_GROUP, "{base}:log-stream:{leaf}",
         "Service Authorization Reference, CloudWatch Logs, resource type log-stream"),
)


def _resource_types(action: str) -> list[str] | None:
    service, name = action.split(":", 1)
    found = {k.lower(): v for k, v in _SAR.get(service, {}).get("Actions", {}).items()}.get(name.lower())
    return None if found is None else found.get("Resources") or []


def _example(pattern: str) -> str:
    """One concrete name a wildcard pattern stands for: what a request would name."""
    return pattern.replace("*", "x").replace("?", "x")


def form_problems(label: str, statement: dict) -> list[str]:
    if statement.get("Effect") != "Allow" or "Action" not in statement:
        return []
    resources = [r for r in as_list(statement.get("Resource", [])) if isinstance(r, str)]
    problems = []
    for action in as_list(statement["Action"]):
        for form in (f for f in FORMS if f.applies(action)):
            for base in sorted({m["base"] for r in resources if (m := re.match(form.named, r))}):
                wanted = form.form.format(base=_example(base), leaf="x")
                if not any(_glob(pattern, wanted) for pattern in resources):
                    problems.append(f"{label} {statement.get('Sid')}: {action} is authorised against {wanted} "
                                    f"({form.evidence}); the statement names {sorted(resources)}")
    return problems


def problems_in(stacks) -> list[str]:
    out = []
    for key, stack in stacks.items():
        for logical_id, _rtype, prop, document in policies(stack.template):
            for st in statements(document):  # both branches of a statement some configs have
                out += form_problems(f"{key}.yaml {logical_id} {prop}", stack.value(st))
    return out


def test_every_statement_names_resources_in_their_documented_form(rendered, project):
    problems = sorted({p for env in project.environments
                       for p in problems_in(resolve_all(rendered, project, env, list(BUILDERS)))})
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_metric_filter_granted_on_the_bare_log_group():
    group = "arn:aws:logs:us-east-1:111111111111:log-group:/aws/lambda/f"
    assert form_problems("t", {"Effect": "Allow", "Action": ["logs:PutMetricFilter"], "Resource": [group]})
    assert not form_problems("t", {"Effect": "Allow", "Action": ["logs:PutMetricFilter"], "Resource": [f"{group}:*"]})


def test_the_check_catches_tagging_granted_only_with_the_trailing_star():
    group = "arn:aws:logs:us-east-1:111111111111:log-group:/aws/lambda/f"
    assert form_problems("t", {"Effect": "Allow", "Action": ["logs:TagResource"], "Resource": [f"{group}:*"]})
    assert not form_problems("t", {"Effect": "Allow", "Action": ["logs:TagResource", "logs:PutRetentionPolicy"],
                                   "Resource": [group, f"{group}:*"]})


def test_a_wildcard_group_name_covers_its_trailing_star_and_streams():
    family = "arn:aws:logs:us-east-1:111111111111:log-group:/aws/codebuild/p-*"
    assert not form_problems("t", {"Effect": "Allow", "Action": ["logs:DeleteLogGroup", "logs:PutLogEvents"],
                                   "Resource": [family]})
    stream = "arn:aws:logs:us-east-1:111111111111:log-group:/aws/lambda/f:log-stream:*"
    assert form_problems("t", {"Effect": "Allow", "Action": ["logs:CreateLogGroup"], "Resource": [stream]})
