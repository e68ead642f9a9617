"""Load config/ into a Project: project.yaml plus one <env>.yaml per environment, each read and checked against its
schema by read.py, then checked across keys, files and AWS's limits here.

Every problem becomes one ConfigError whose text is a single line naming the file, the key path
and what is wrong. Nothing here touches templates/ or AWS.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from infra.config import schema, serving
from infra.config.image_registries import BUILT_IN_IMAGE_REGISTRIES
from infra.config.model import CONFIG_DIR, ConfigError, Deployment, Environment, Project, Source, display_path
from infra.config.names import check_limits
from infra.config.read import read, with_defaults
from infra.config.regions import KNOWN_REGIONS, SUPPORTED_PARTITIONS

# CloudFormation takes at most 50 tags per stack (project tags and env tags together).
MAX_STACK_TAGS = 50
MAX_ADDRESS_ID_CHARS = 200


def subscription_logical_id(email: str) -> str:
    """The logical ID of the SNS subscription for one address: EmailSubscription<its letters and digits>.

    The address is the subscription's identity (SNS replaces a subscription whose endpoint changes),
    so the ID is derived from it and from nothing else: adding or removing one address leaves the others alone.
    """
    letters = re.sub(r"[^A-Za-z0-9]", "", email)
    if len(letters) > MAX_ADDRESS_ID_CHARS:  # logical IDs stop at 255 characters
        letters = letters[:MAX_ADDRESS_ID_CHARS - 12] + hashlib.sha256(email.encode()).hexdigest()[:12]
    return "EmailSubscription" + letters


def _check_subscription_ids(emails_by_place: list[tuple[str, str, str]]) -> None:
    """Two addresses differing only in punctuation would share one logical ID: refuse them.

    `emails_by_place` holds (file, key path, address) of one env: its templates hold its own addresses only.
    """
    seen: dict[str, str] = {}
    for shown, key, email in emails_by_place:
        same_mailbox = subscription_logical_id(email).lower()  # case too: one mailbox, two subscriptions
        if same_mailbox in seen and seen[same_mailbox] != email:
            raise ConfigError(shown, key, f"'{email}' and '{seen[same_mailbox]}' differ only in punctuation or case; "
                                          "they would share a mailbox or a subscription ID")
        seen[same_mailbox] = email


# Each names principals granted in this env's bucket, key and data-source policies. Config names no other account as
# trusted, so each must be of the env's account.
PRINCIPAL_LISTS = (("sagemaker", "data_uploaders"), ("sagemaker", "approvers"), ("kpi", "analyst_principals"),
                   ("kpi", "quicksight_principals"), ("operations", "dead_letter_readers"))


def _check_accounts(shown: str, data: dict) -> None:
    """The principals and the connection config names must be of this env: its partition, its account (account_id,
    which naming principals needs), and for the connection its region."""
    account, region = data.get("account_id"), data["region"]
    named = [(f"{section}.{key}[{i}]", arn) for section, key in PRINCIPAL_LISTS for i, arn in enumerate(data[section][key])]
    named += [("source.connection_arn", data["source"]["connection_arn"])] if "connection_arn" in data["source"] else []
    for key, arn in named:
        partition, _, arn_region, arn_account = arn.split(":")[1:5]
        if partition != KNOWN_REGIONS[region]:
            raise ConfigError(shown, key, f"'{arn}' is in partition {partition}, not this environment's {KNOWN_REGIONS[region]}")
        if key == "source.connection_arn" and arn_region != region:
            raise ConfigError(shown, key, f"'{arn}' is in region {arn_region}, not this environment's region {region}")
        if account is None and key != "source.connection_arn":
            raise ConfigError(shown, key, "principals are granted only in this environment's account: set account_id to it")
        if account is not None and arn_account != account:
            raise ConfigError(shown, key, f"'{arn}' is in account {arn_account}, not this environment's account_id {account}")


def _check_environment_names(shown: str, env_names: list[str]) -> None:
    """Names are built as <short>-<env>-…, and policies match <short>-<env>-*: with envs dev and dev-eu, the
    pattern churn-dev-* would cover churn-dev-eu-… too. Refuse names of which one, with a hyphen, starts another."""
    for a in env_names:
        for b in env_names:
            if a != b and b.startswith(f"{a}-"):
                raise ConfigError(shown, "environments", f"'{a}' and '{b}': '{a}-' starts '{b}', so name patterns "
                                                         f"of {a} (<short>-{a}-*) would cover {b}'s resources too")


def deployment_settings(shown: str, data: dict | None) -> Deployment | None:
    """The `deployment` block with its defaults filled in; None when there is none (an env without endpoints)."""
    if data is None:
        return None
    values = with_defaults(schema.DEPLOYMENT, data)
    if values["min_instances"] > values["max_instances"]:
        raise ConfigError(shown, "deployment.max_instances",
                          f"{values['max_instances']} is below min_instances ({values['min_instances']})")
    rollout = values["rollout"]
    deployment = _build(Deployment, {**values, "rollout_type": rollout["type"], "wait_seconds": rollout["wait_seconds"],
                                     "models_from": values.get("models_from"),
                                     "staging_instance_type": values.get("staging_instance_type", values["instance_type"]),
                                     "traffic_percent": rollout.get("traffic_percent")
                                     or serving.smallest_step_percent(rollout["type"], values["min_instances"])})
    _check_rollout(shown, deployment)
    return deployment


def _check_rollout(shown: str, d: Deployment) -> None:
    """What SageMaker's deployment guardrails refuse at deploy time, refused here (infra/config/serving.py)."""
    if d.rollout_type != "all_at_once" and d.min_instances < serving.MIN_INSTANCES_FOR_STEPS:
        raise ConfigError(shown, "deployment.min_instances",
                          f"a {d.rollout_type} rollout needs at least {serving.MIN_INSTANCES_FOR_STEPS} instances (a canary or "
                          f"linear step is at most half the fleet, in whole instances); got {d.min_instances}: raise it or "
                          "use rollout.type all_at_once")
    if d.rollout_type == "linear" and d.traffic_percent < serving.LINEAR_MIN_PERCENT:
        raise ConfigError(shown, "deployment.rollout.traffic_percent",
                          f"a linear step must be {serving.LINEAR_MIN_PERCENT} to 50 percent of the fleet; got {d.traffic_percent}")
    if d.rollout_type != "all_at_once" and serving.step_instances(d) < 1:
        raise ConfigError(shown, "deployment.rollout.traffic_percent",
                          f"{d.traffic_percent}% of min_instances {d.min_instances} is {serving.step_instances(d):g} of an "
                          f"instance; a {d.rollout_type} step must be at least one whole instance: use at least "
                          f"{serving.smallest_step_percent(d.rollout_type, d.min_instances)} (or raise min_instances)")
    timeout = serving.rollout_timeout_seconds(d)
    if timeout > serving.MAX_ROLLOUT_TIMEOUT_SECONDS:
        raise ConfigError(shown, "deployment.rollout.wait_seconds",
                          f"{serving.rollout_steps(d)} baking periods of {d.wait_seconds} s, with provisioning, take {timeout} s; "
                          f"SageMaker stops a rollout after {serving.MAX_ROLLOUT_TIMEOUT_SECONDS} s: wait less or take larger steps")


# The tag every stack of an env carries, from the env's name: an env file copied from another keeps its own.
ENVIRONMENT_TAG = "environment"


def _check_tag_case(project_file: str, env: Environment, tags: dict) -> None:
    """IAM treats tag keys that differ only in case as one key and refuses both on one role (IAM User Guide, "Tags for
    IAM resources", Case sensitivity); every stack's tags reach its roles. Refuse them in the merged tags."""
    seen: dict[str, str] = {}
    for key in tags:
        other = seen.setdefault(key.lower(), key)
        if other != key:
            raise ConfigError(env.file if key in env.tags else project_file, f"tags.{key}",
                              f"'{key}' and '{other}' differ only in case; AWS treats tag keys without case in places")


def _environment_tags(name: str, shown: str, tags: dict) -> dict:
    given = tags.get(ENVIRONMENT_TAG, name)
    if given != name:
        raise ConfigError(shown, f"tags.{ENVIRONMENT_TAG}", f"is {given!r} but this file is env {name!r}: the tag comes "
                                                            "from the env's name; remove the key (or set it to the name)")
    return {ENVIRONMENT_TAG: name, **tags}


def _environment(name: str, path: Path) -> Environment:
    shown = display_path(path)
    data = read(path, schema.ENVIRONMENT)
    if data["region"] not in KNOWN_REGIONS:
        raise ConfigError(shown, "region", f"{data['region']!r} is not an AWS region (known regions: infra/config/regions.py)")
    if KNOWN_REGIONS[data["region"]] not in SUPPORTED_PARTITIONS:
        raise ConfigError(shown, "region", f"{data['region']!r} is in partition {KNOWN_REGIONS[data['region']]}; "
                                           f"the templates are checked for {', '.join(SUPPORTED_PARTITIONS)} only")
    if data["region"] not in BUILT_IN_IMAGE_REGISTRIES:
        # The roles may pull SageMaker's built-in images only from AWS's registry account of the region.
        raise ConfigError(shown, "region", f"{data['region']!r} has no known registry account for SageMaker's built-in "
                                           "scikit-learn and XGBoost images (infra/config/image_registries.py)")
    notif, ops, sm, kpi = data["notifications"], data["operations"], data["sagemaker"], data["kpi"]
    _check_subscription_ids([(shown, f"notifications.emails[{i}]", e) for i, e in enumerate(notif["emails"])])
    _check_subscription_ids([(shown, f"operations.emails[{i}]", e) for i, e in enumerate(ops.get("emails", []))])
    _check_accounts(shown, data)
    if kpi["quicksight_principals"] and not kpi["analyst_principals"]:
        # QuickSight queries the data source as its service role, which reads the reports and the key only when
        # named among the analysts (infra/parts/analysts.py): without it every query is denied.
        raise ConfigError(shown, "kpi.quicksight_principals", "QuickSight queries with its service role, which must be "
                                                              "in kpi.analyst_principals (docs/analysts.md), and that list is empty")
    if "deployment" in data and not ops["release_approval"]:
        # Every stack the delivery pipeline deploys comes from the push, the model-deployment pipeline and the
        # endpoint templates included: without a person approving each release, one push could change what
        # production serves without anyone approving it.
        raise ConfigError(shown, "deployment", "an env that serves models needs operations.release_approval: true "
                                               "(a person approves each release before it changes the deployment path)")
    if "deployment" in data and not sm["approvers"]:
        # Approving a version starts its way to production: only named people may (the group's policy denies the rest).
        raise ConfigError(shown, "sagemaker.approvers", "an env that serves models names who may approve its model versions: "
                                                        "list their IAM role or user ARNs (docs/security.md)")
    return _build(Environment, {**data, **sm, **kpi, **notif, "name": name, "file": shown, "account_id": data.get("account_id"),
                                "source": Source(**data["source"]), "operations_emails": ops.get("emails", notif["emails"]),
                                "release_approval": ops["release_approval"],
                                "dead_letter_readers": ops["dead_letter_readers"], "tags": _environment_tags(name, shown, data["tags"]),
                                "deployment": deployment_settings(shown, data.get("deployment"))})


_CONVERT = {int: int, float: float, tuple: tuple, Mapping: lambda mapping: MappingProxyType(dict(mapping))}


def _build(cls, values: dict):
    """A `cls` of the `values` named like its fields, each made the field's type (YAML's 2.0 in an int field is 2,
    a list a tuple, a mapping read-only)."""
    hints = typing.get_type_hints(cls)
    kinds = {name: typing.get_origin(hint) or hint for name, hint in hints.items()}
    return cls(**{f.name: _CONVERT.get(kinds[f.name], lambda v: v)(values[f.name]) for f in dataclasses.fields(cls)})


def load(config_dir: Path | str = CONFIG_DIR, only_env: str | None = None) -> Project:
    """Read and validate the project and its environments (all, or just `only_env`)."""
    config_dir = Path(config_dir)
    project_path = config_dir / "project.yaml"
    shown = display_path(project_path)
    data = read(project_path, schema.PROJECT)
    if ENVIRONMENT_TAG in data["tags"]:
        raise ConfigError(shown, f"tags.{ENVIRONMENT_TAG}", "is each env's own tag, from its name: remove it here")
    env_names = list(data["environments"])
    if only_env is not None and only_env not in env_names:
        raise ConfigError(shown, "environments", f"unknown environment '{only_env}' (configured: {', '.join(env_names)})")
    environments = {env: _environment(env, config_dir / f"{env}.yaml") for env in ([only_env] if only_env else env_names)}
    if only_env and (source := _models_source(environments[only_env], env_names)):
        environments[source] = _environment(source, config_dir / f"{source}.yaml")  # whose registry it serves from
    project = _build(Project, {**data["project"], "sagemaker_pipeline_name": data["sagemaker_pipeline"]["name"], "tags": data["tags"],
                               "environments": environments})
    _check_environment_names(shown, env_names)
    _check_promotions(project)
    for env in project.environments.values():
        check_limits(project, env, project_file=shown)
        tags = {**project.tags, **env.tags}
        _check_tag_case(shown, env, tags)
        if len(tags) > MAX_STACK_TAGS:
            raise ConfigError(env.file, "tags", f"project and environment tags together are {len(tags)}; "
                                                f"CloudFormation takes at most {MAX_STACK_TAGS} per stack")
    for key, emails_of in (("notifications.emails", lambda e: e.emails), ("operations.emails", lambda e: e.operations_emails)):
        for env in project.environments.values():
            _check_subscription_ids([(env.file, f"{key}[{i}]", email) for i, email in enumerate(emails_of(env))])
    _check_chat_channels(project)
    return project


def _models_source(env: Environment, env_names: list[str]) -> str | None:
    """The env whose registry `env` serves from (deployment.models_from), checked to be another listed env."""
    source = env.deployment.models_from if env.deployment else None
    if source is not None and (source == env.name or source not in env_names):
        raise ConfigError(env.file, "deployment.models_from", f"'{source}' is not another env of this project "
                                                              f"(configured: {', '.join(env_names)})")
    return source


def _check_promotions(project: Project) -> None:
    """An env that serves another's models (docs/promotion.md): the two are in different, pinned accounts of one
    region (a model package is created into a model in its own region); the source names its approvers, since its
    approvals now start production's deployments, and serves no other's models itself; an env gives its models to
    one env at most."""
    takers: dict[str, str] = {}
    for env in project.environments.values():
        source_name = _models_source(env, list(project.environments)) if env.deployment else None
        if source_name is None or source_name not in project.environments:
            continue
        source, key = project.environments[source_name], "deployment.models_from"
        if not env.account_id or not source.account_id:
            unpinned = env if not env.account_id else source
            raise ConfigError(unpinned.file, "account_id", f"{env.name} serves the models of {source.name}: both envs pin "
                                                           "their account_id (each account grants the other by it)")
        if env.account_id == source.account_id:
            raise ConfigError(env.file, key, f"{source.name} is in this env's account {env.account_id}: models_from is for "
                                             "another account (serve in the same account by giving that env a deployment block)")
        if env.region != source.region:
            raise ConfigError(env.file, key, f"{source.name} is in region {source.region}, this env in {env.region}: "
                                             "a model is made from a model package of its own region")
        if source.deployment and source.deployment.models_from:
            raise ConfigError(env.file, key, f"{source.name} serves {source.deployment.models_from}'s models itself: "
                                             "name the env that builds them")
        if not source.release_approval:
            # The source's archive-pin function tags what the serving env's endpoints may load, and a push deploys
            # its code: without a person approving each of the source's releases, one push could tag a rewritten
            # archive that production loads on its next scale-out.
            raise ConfigError(source.file, "operations.release_approval", f"{env.name} serves this env's approved "
                                                                          "versions: a person approves each release here too (set it true)")
        if not source.approvers:
            raise ConfigError(source.file, "sagemaker.approvers", f"{env.name} serves this env's approved versions: name who "
                                                                  "may approve them (docs/security.md)")
        if source_name in takers:
            raise ConfigError(env.file, key, f"{takers[source_name]} already serves {source.name}'s models: an env gives its "
                                             "models to one env")
        takers[source_name] = env.name


def _check_chat_channels(project: Project) -> None:
    """AWS Chatbot takes one configuration per chat channel and account ("has already been configured for AWS account"):
    two envs that may share an account (the same account_id, or one not pinned) cannot name the same channel."""
    seen: dict[tuple, list[tuple[str, str | None]]] = {}
    for env in project.environments.values():
        for kind, ids in sorted(env.chat.items()):
            channel = (kind, ids.get("workspace_id") or ids.get("team_id"), ids["channel_id"])
            for other, account in seen.get(channel, []):
                if not (account and env.account_id and account != env.account_id):
                    raise ConfigError(env.file, f"notifications.chat.{kind}.channel_id",
                                      f"{other} names the same channel, and the two envs may share an account: AWS Chatbot "
                                      "takes one configuration per channel and account (use another channel, or pin "
                                      "different account_id values)")
            seen.setdefault(channel, []).append((env.file, env.account_id))
