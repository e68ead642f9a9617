"""Every env's concrete templates (templates/<env>/<stack>.yaml), and config variants that turn on or off what
Python decides per env.

A template no longer holds every config's statements under conditions: each env's holds its own. So a check that
once read one template "under every branch" now reads every env's templates, of config/ and of variants of it:
one per source type with every optional feature on (data uploaders, approvers, analysts, QuickSight principals, a deployment
block, release approval, operations e-mails, Slack and Teams channels), one with every optional feature off, and one where
the last env serves the first's models from another account (promotion). The variants derive from the
loaded config (its envs, regions and accounts), never from the sample's values.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from types import MappingProxyType

from infra.cfn import parameters
from infra.cfn.source import SOURCE_TYPES
from infra.config import loader
from infra.config import names as names_mod
from infra.config.model import Project, Source
from infra.config.names import OFFLINE_ACCOUNT
from infra.output import render
from infra.stacks import BUILDERS
from tests.support.cfn import load, policies, statements

ALL_OFF = "every option off"


def all_on(source_type: str) -> str:
    return f"{source_type} source, every option on"


@dataclass(frozen=True)
class EnvRender:
    """One env of one rendered project: `label` says which (the env, or the variant and the env)."""

    label: str
    project: Project
    env: str
    rendered: dict[str, str]

    def text(self, stack: str) -> str:
        return self.rendered[f"{self.env}/{stack}.yaml"]

    def template(self, stack: str) -> dict:
        return load(self.text(stack))

    @property
    def stacks(self) -> list[str]:
        """The stacks this env renders (an env that serves no models has no deployment or endpoint stacks)."""
        return [stack for stack in BUILDERS if self.renders(stack)]

    def renders(self, stack: str) -> bool:
        return f"{self.env}/{stack}.yaml" in self.rendered

    def resources(self, *stacks: str) -> dict[str, dict]:
        """logical id -> resource, over those of `stacks` the env renders (serving-iam only where it serves models)."""
        return {rid: r for stack in stacks if self.renders(stack) for rid, r in self.template(stack)["Resources"].items()}

    def texts(self) -> dict[str, str]:
        """stack -> this env's template text, for every stack it renders."""
        return {stack: self.text(stack) for stack in self.stacks}

    @property
    def names(self) -> names_mod.Names:
        return names_mod.Names(self.project, self.project.env(self.env))

    def concrete(self, text: str) -> str:
        """`text` with its ${ConfigName}s (infra/cfn/parameters.py VALUES) written in as this env's template has them."""
        return concrete(self.names, text)

    def policy_statements(self):
        """(where: "label: stack logical-id", property, statement) for every statement of every policy document of
        every template the env renders (tests.support.cfn.policies: roles, policies, boundaries, resource policies)."""
        for stack in self.stacks:
            for logical_id, _, prop, document in policies(self.template(stack)):
                for st in statements(document):
                    yield f"{self.label}: {stack} {logical_id}", prop, st

    def replaced(self, stack: str, text: str) -> "EnvRender":
        """A copy whose `stack` template is `text` (to show a check catches a broken template)."""
        return dataclasses.replace(self, rendered={**self.rendered, f"{self.env}/{stack}.yaml": text})


def concrete(names: names_mod.Names, text: str) -> str:
    values = parameters.config_values(names)

    def one(match: re.Match) -> str:
        value = values.get(match.group(1))
        if value is None or not isinstance(value, (str, int)):
            return match.group(0)
        return str(value)

    return re.sub(r"\$\{([A-Za-z0-9]+)\}", one, text)


def _account(env) -> str:
    return env.account_id or OFFLINE_ACCOUNT


def _source(env, source_type: str) -> Source:
    if env.source.type == source_type:
        return env.source
    account, branch = _account(env), env.source.branch or "main"
    if source_type == "codeconnections":
        return Source(type=source_type, branch=branch, repository="variant-owner/variant-repository",
                      connection_arn=f"arn:aws:codeconnections:{env.region}:{account}:connection/"
                                     "00000000-0000-0000-0000-000000000000")
    if source_type == "codecommit":
        return Source(type=source_type, branch=branch, repository="variant-repository")
    return Source(type=source_type, bucket=f"variant-source-{account}", key="variant/source.zip")


def with_everything(project: Project, source_type: str) -> Project:
    """The project with every env following a `source_type` source and every optional feature on."""
    envs = {}
    for name, env in project.environments.items():
        account = _account(env)
        envs[name] = dataclasses.replace(
            env, source=_source(env, source_type),
            data_uploaders=(f"arn:aws:iam::{account}:role/variant-uploader",),
            approvers=(f"arn:aws:iam::{account}:role/variant-approver",
                       f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_ModelApprover_*"),
            analyst_principals=(f"arn:aws:iam::{account}:role/variant-analyst",),
            quicksight_principals=(f"arn:aws:quicksight:{env.region}:{account}:group/default/variant-analysts",),
            deployment=env.deployment or loader.deployment_settings("", {}),
            release_approval=True,
            dead_letter_readers=(f"arn:aws:iam::{account}:role/variant-operator",),
            operations_emails=env.operations_emails or env.emails,
            sample_data=True,
            # Each env its own channels (one Chatbot configuration per channel and account).
            chat=MappingProxyType({
                "slack": {"workspace_id": "T0VARIANT", "channel_id": f"C0{name.upper().replace('-', '')}"},
                "teams": {"team_id": "8a1e2c3d-4b5f-4a6b-9c7d-1e2f3a4b5c6d", "tenant_id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
                          "channel_id": f"19%3a{name.replace('-', '')}%40thread.tacv2"}}),
        )
    return dataclasses.replace(project, environments=MappingProxyType(envs))


def with_nothing(project: Project) -> Project:
    """The project with every optional feature off (its sources as configured)."""
    envs = {name: dataclasses.replace(env, data_uploaders=(), approvers=(), analyst_principals=(), quicksight_principals=(),
                                      deployment=None, release_approval=False, operations_emails=(), dead_letter_readers=(), chat=MappingProxyType({}),
                                      sample_data=False)
            for name, env in project.environments.items()}
    return dataclasses.replace(project, environments=MappingProxyType(envs))


PROMOTION = "promotion across accounts"
# The variant's two accounts where config pins none (or the same one for both).
PROMOTION_ACCOUNTS = ("999999999999", "123456789012")


def with_promotion(project: Project) -> Project:
    """Every option on, and the last env serving the first env's approved versions from another account in the same
    region (deployment.models_from, docs/promotion.md). A project of one env gets a source env of another name."""
    envs = dict(project.environments)
    source_name, taker_name = next(iter(envs)), list(envs)[-1]
    if source_name == taker_name:
        source_name = "".join(c for c in f"{taker_name}src" if c.isalnum())[:10]
        envs[source_name] = dataclasses.replace(envs[taker_name], name=source_name,
                                                file=envs[taker_name].file.replace(taker_name, source_name))
    source, taker = envs[source_name], envs[taker_name]
    source_account = source.account_id or PROMOTION_ACCOUNTS[0]
    taker_account = taker.account_id if taker.account_id and taker.account_id != source_account else next(
        a for a in PROMOTION_ACCOUNTS if a != source_account)
    for name, account, region in ((source_name, source_account, taker.region), (taker_name, taker_account, taker.region)):
        env = dataclasses.replace(envs[name], account_id=account, region=region)
        # Each env's connection in its own account (a copied env's would name the other's).
        envs[name] = dataclasses.replace(env, source=Source(
            type="codeconnections", branch=env.source.branch or "main", repository="variant-owner/variant-repository",
            connection_arn=f"arn:aws:codeconnections:{region}:{account}:connection/00000000-0000-0000-0000-000000000000"))
    promoted = with_everything(dataclasses.replace(project, environments=MappingProxyType(envs)), "codeconnections")
    taker = promoted.environments[taker_name]
    deployment = dataclasses.replace(taker.deployment, models_from=source_name)
    return dataclasses.replace(promoted, environments=MappingProxyType(
        {**promoted.environments, taker_name: dataclasses.replace(taker, deployment=deployment)}))


def variants(project: Project) -> dict[str, Project]:
    """label -> a variant of the project (see the module's docstring)."""
    return {**{all_on(t): with_everything(project, t) for t in SOURCE_TYPES}, ALL_OFF: with_nothing(project),
            PROMOTION: with_promotion(project)}


_RENDERS: dict[int, tuple[Project, dict[str, dict[str, str]]]] = {}


def variant_renders(project: Project) -> dict[str, tuple[Project, dict[str, str]]]:
    """label -> (variant project, its render), rendered once per session and project."""
    cached = _RENDERS.get(id(project))
    if cached is None or cached[0] is not project:
        cached = (project, {label: (p, render.render(p)) for label, p in variants(project).items()})
        _RENDERS[id(project)] = cached
    return cached[1]


def env_renders(project: Project, rendered: dict[str, str], with_variants: bool = True) -> list[EnvRender]:
    """Every env of the project as rendered, and (with_variants) every env of every variant."""
    out = [EnvRender(env, project, env, rendered) for env in project.environments]
    if with_variants:
        out += [EnvRender(f"{label}: {env}", variant, env, text)
                for label, (variant, text) in variant_renders(project).items() for env in variant.environments]
    return out


def ids(renders: list[EnvRender]) -> list[str]:
    return [r.label for r in renders]


def template(project: Project, env: str, stack: str, **changes) -> dict:
    """templates/<env>/<stack>.yaml as plain data, for `env` with `changes` (fields of infra.config.model.Environment)
    applied: an env with a feature and one without, without writing config files."""
    changed = dataclasses.replace(project.env(env), **changes)
    return load(render.render(dataclasses.replace(project, environments={env: changed}))[f"{env}/{stack}.yaml"])
