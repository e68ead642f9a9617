"""Load and validate config/: project.yaml plus one <env>.yaml per environment.

Every problem becomes one ConfigError whose text is a single line naming the file, the key path
and what is wrong. Nothing here touches templates/ or AWS.
"""
from __future__ import annotations

import copy
import hashlib
import math
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml

from infra.config import schema, serving
from infra.config.image_registries import BUILT_IN_IMAGE_REGISTRIES
from infra.config.model import CONFIG_DIR, ConfigError, Deployment, Environment, Project, Source, display_path
from infra.config.names import check_limits
from infra.config.regions import KNOWN_REGIONS, SUPPORTED_PARTITIONS

# Config files are a few KiB; reading stops here (an endless file such as /dev/zero ends in one line).
MAX_CONFIG_BYTES = 256 * 1024
# CloudFormation takes at most 50 tags per stack (project tags and env tags together).
MAX_STACK_TAGS = 50


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and aliases.

    Aliases (*name) share one node between many places: a few lines of them expand to billions of values
    once anything walks the document (the "billion laughs"). Config has no use for them.
    """

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in config", event.start_mark)
        return super().compose_node(parent, index)


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key; let the default constructor word the error
            break
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> dict:
    """Parse one config file into a mapping, or raise ConfigError."""
    shown = display_path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(shown, "", f"larger than {MAX_CONFIG_BYTES // 1024} KiB; a config file is a few KiB")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(shown, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(shown, "", f"cannot read: {exc}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(shown, where, f"invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(shown, "", "invalid YAML: nesting too deep") from None
    if data is None:
        raise ConfigError(shown, "", "file is empty")
    if not isinstance(data, dict):
        raise ConfigError(shown, "", f"expected a mapping of keys at the top level, got {_kind(data)}")
    _refuse_control_characters(shown, data, [])
    return data


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _refuse_control_characters(shown: str, node, path: list) -> None:
    """No key or value may hold a control character: a trailing newline passes `$`-anchored patterns (Python's
    `$` matches before one) and would end up in names, folders and templates."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and _CONTROL.search(key):
                raise ConfigError(shown, key_path(path), f"key {_short(key)} contains a control character")
            _refuse_control_characters(shown, value, path + [key])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _refuse_control_characters(shown, value, path + [i])
    elif isinstance(node, str) and _CONTROL.search(node):
        raise ConfigError(shown, key_path(path), f"{_short(node)} contains a control character")
    elif isinstance(node, float) and not math.isfinite(node):  # .nan, .inf: no comparison holds for NaN
        raise ConfigError(shown, key_path(path), f"{node} is not a finite number")


def key_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error: jsonschema.ValidationError) -> tuple[list, str]:
    """Turn one jsonschema error into (key path parts, one-line problem)."""
    path = list(error.absolute_path)
    v, sch, inst = error.validator, error.schema, error.instance
    if v == "additionalProperties":
        allowed = sorted(sch.get("properties", {}))
        extra = sorted(str(k) for k in inst if k not in sch.get("properties", {}))
        return path + [extra[0]], "unknown key" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
    if v == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        return path + [missing.group(1) if missing else "?"], "required key is missing"
    if v == "type":
        return path, f"expected {_kind_name(error.validator_value)}, got {_kind(inst)} {_short(inst)}"
    if v in ("enum", "const"):
        options = error.validator_value if v == "enum" else [error.validator_value]
        return path, f"{_short(inst)} is not one of: {', '.join(map(str, options))}"
    if v == "pattern":
        expect = sch.get("x-expect", f"a value matching {error.validator_value}")
        return path, f"{_short(inst)} is not {expect}"
    if v in ("minLength", "maxLength"):
        word = "at least" if v == "minLength" else "at most"
        return path, f"{_short(inst)} is {len(inst)} characters; must be {word} {error.validator_value}"
    if v in ("minItems", "maxItems"):
        word = "at least" if v == "minItems" else "at most"
        return path, f"has {len(inst)} items; must have {word} {error.validator_value}"
    if v == "uniqueItems":
        return path, "has duplicate items"
    if v in ("minimum", "maximum"):
        word = "at least" if v == "minimum" else "at most"
        return path, f"{_short(inst)} must be {word} {error.validator_value}"
    return path, error.message


def _kind_name(json_type) -> str:
    names = {"string": "a string", "integer": "an integer", "number": "a number", "object": "a mapping", "array": "a list", "boolean": "a boolean"}
    if isinstance(json_type, list):
        return " or ".join(names.get(t, t) for t in json_type)
    return names.get(json_type, json_type)


def _first_error(schema_: dict, data: dict):
    errors = list(jsonschema.Draft202012Validator(schema_).iter_errors(data))
    if not errors:
        return None
    # Deepest, then document order: the most specific complaint about the first bad key.
    best = jsonschema.exceptions.best_match(errors)
    # A bad key (propertyNames) is reported at the mapping's path; name the key itself.
    if "propertyNames" in best.absolute_schema_path:
        expect = best.schema.get("x-expect", "a valid key")
        return list(best.absolute_path) + [best.instance], f"key {_short(best.instance)} is not {expect}"
    return _describe(best)


def _validate(schema_: dict, data: dict, shown: str) -> None:
    """Raise the one-line ConfigError for the first problem jsonschema finds in `data`, if any."""
    try:
        found = _first_error(schema_, data)
    except RecursionError:
        raise ConfigError(shown, "", "nesting too deep") from None
    if found:
        parts, problem = found
        raise ConfigError(shown, key_path(parts), problem)


def with_defaults(schema_: dict, data: dict) -> dict:
    """A copy of `data` (valid against `schema_`) with every absent key that has a schema `default` filled in."""
    out = dict(data)
    for key, sub in schema_.get("properties", {}).items():
        if key not in out and "default" in sub:
            out[key] = copy.deepcopy(sub["default"])
        if isinstance(out.get(key), dict):
            out[key] = with_defaults(sub, out[key])
    return out


MAX_ADDRESS_ID_CHARS = 200


def subscription_logical_id(email: str) -> str:
    """The logical ID of the SNS subscription for one address: EmailSubscription<its letters and digits>.

    The address is the subscription's identity (SNS replaces a subscription whose endpoint changes),
    so the ID is derived from it and from nothing else: adding or removing one address leaves the others alone.
    """
    letters = re.sub(r"[^A-Za-z0-9]", "", email)
    if len(letters) > MAX_ADDRESS_ID_CHARS:  # logical IDs stop at 255 characters, "InEnv" conditions included
        letters = letters[:MAX_ADDRESS_ID_CHARS - 12] + hashlib.sha256(email.encode()).hexdigest()[:12]
    return "EmailSubscription" + letters


def _check_subscription_ids(emails_by_place: list[tuple[str, str, str]]) -> None:
    """Two addresses differing only in punctuation would share one logical ID: refuse them.

    `emails_by_place` holds (file, key path, address); the notifications template holds every env's
    addresses, so the check runs across environments too.
    """
    seen: dict[str, str] = {}
    for shown, key, email in emails_by_place:
        same_mailbox = subscription_logical_id(email).lower()  # case too: one mailbox, two subscriptions
        if same_mailbox in seen and seen[same_mailbox] != email:
            raise ConfigError(shown, key, f"'{email}' and '{seen[same_mailbox]}' differ only in punctuation or case; "
                                          "they would share a mailbox or a subscription ID")
        seen[same_mailbox] = email


def _check_analysts_account(shown: str, account_id: str | None, principals) -> None:
    """The key and bucket grant analysts only in the environment's own account: say so before deploying."""
    for i, arn in enumerate(principals):
        account = arn.split(":")[4]
        if account_id and account != account_id:
            raise ConfigError(shown, f"kpi.analyst_principals[{i}]",
                              f"'{arn}' is in account {account}, not this environment's account {account_id}")


def _check_environment_names(shown: str, env_names: list[str]) -> None:
    """Names are built as <short>-<env>-…, and policies match <short>-<env>-*: with envs dev and dev-eu, the
    pattern churn-dev-* would cover churn-dev-eu-… too. Refuse names of which one, with a hyphen, starts another."""
    for a in env_names:
        for b in env_names:
            if a != b and b.startswith(f"{a}-"):
                raise ConfigError(shown, "environments", f"'{a}' and '{b}': '{a}-' starts '{b}', so name patterns "
                                                         f"of {a} (<short>-{a}-*) would cover {b}'s resources too")


def _check_uploader_accounts(shown: str, data: dict) -> None:
    """Uploaders are granted in this env's bucket and key policies: with account_id known, they must be in it."""
    account = data.get("account_id")
    for i, principal in enumerate(data["sagemaker"]["data_uploaders"]):
        if account and principal.split(":")[4] != account:
            raise ConfigError(shown, f"sagemaker.data_uploaders[{i}]", f"'{principal}' is not in account_id {account}")


def deployment_settings(shown: str, data: dict | None) -> Deployment | None:
    """The `deployment` block with its defaults filled in; None when there is none (an env without endpoints)."""
    if data is None:
        return None
    values = with_defaults(schema.DEPLOYMENT, data)
    rollout = values["rollout"]
    if values["min_instances"] > values["max_instances"]:
        raise ConfigError(shown, "deployment.max_instances",
                          f"{values['max_instances']} is below min_instances ({values['min_instances']})")
    deployment = Deployment(
        instance_type=values["instance_type"],
        staging_instance_type=values.get("staging_instance_type", values["instance_type"]),
        min_instances=int(values["min_instances"]),
        max_instances=int(values["max_instances"]),
        invocations_per_instance=int(values["invocations_per_instance"]),
        rollout_type=rollout["type"],
        traffic_percent=int(rollout.get("traffic_percent") or serving.smallest_step_percent(rollout["type"], values["min_instances"])),
        wait_seconds=int(rollout["wait_seconds"]),
        latency_threshold_ms=int(values["latency_threshold_ms"]),
        data_capture_percent=int(values["data_capture_percent"]),
        smoke_test_latency_ms=int(values["smoke_test_latency_ms"]),
        approval=values["approval"],
        keep_staging=values["keep_staging"],
    )
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


def _environment_tags(name: str, shown: str, tags: dict) -> dict:
    given = tags.get(ENVIRONMENT_TAG, name)
    if given != name:
        raise ConfigError(shown, f"tags.{ENVIRONMENT_TAG}", f"is {given!r} but this file is env {name!r}: the tag comes "
                                                            "from the env's name; remove the key (or set it to the name)")
    return {ENVIRONMENT_TAG: name, **tags}


def _environment(name: str, path: Path) -> Environment:
    shown = display_path(path)
    data = read_yaml(path)
    _validate(schema.ENVIRONMENT, data, shown)
    data = with_defaults(schema.ENVIRONMENT, data)
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
    _check_uploader_accounts(shown, data)
    _check_analysts_account(shown, data.get("account_id"), kpi["analyst_principals"])
    if "deployment" in data and not ops["release_approval"]:
        # Every stack the delivery pipeline deploys comes from the push, the model-deployment pipeline and the
        # endpoint templates included: without a person approving each release, one push could change what
        # production serves without anyone approving it.
        raise ConfigError(shown, "deployment", "an env that serves models needs operations.release_approval: true "
                                               "(a person approves each release before it changes the deployment path)")
    return Environment(
        name=name,
        file=shown,
        region=data["region"],
        account_id=data.get("account_id"),
        source=Source(**data["source"]),
        emails=tuple(notif["emails"]),
        statuses=tuple(notif["statuses"]),
        operations_emails=tuple(ops.get("emails", notif["emails"])),
        release_approval=ops["release_approval"],
        processing_instance_type=sm["processing_instance_type"],
        training_instance_type=sm["training_instance_type"],
        model_approval_threshold=float(sm["model_approval_threshold"]),
        crawler_schedule=kpi["crawler_schedule"],
        athena_bytes_scanned_cutoff=int(kpi["athena_bytes_scanned_cutoff"]),
        quicksight_principals=tuple(kpi["quicksight_principals"]),
        analyst_principals=tuple(kpi["analyst_principals"]),
        log_retention_days=int(data["log_retention_days"]),
        tags=MappingProxyType(_environment_tags(name, shown, data["tags"])),
        start_on_upsert=sm["start_on_upsert"],
        sample_data=sm["sample_data"],
        data_uploaders=tuple(sm["data_uploaders"]),
        deployment=deployment_settings(shown, data.get("deployment")),
    )


def load(config_dir: Path | str = CONFIG_DIR, only_env: str | None = None) -> Project:
    """Read and validate the project and its environments (all, or just `only_env`)."""
    config_dir = Path(config_dir)
    project_path = config_dir / "project.yaml"
    shown = display_path(project_path)
    data = read_yaml(project_path)
    _validate(schema.PROJECT, data, shown)
    data = with_defaults(schema.PROJECT, data)
    if ENVIRONMENT_TAG in data["tags"]:
        raise ConfigError(shown, f"tags.{ENVIRONMENT_TAG}", "is each env's own tag, from its name: remove it here")
    env_names = list(data["environments"])
    if only_env is not None and only_env not in env_names:
        raise ConfigError(shown, "environments", f"unknown environment '{only_env}' (configured: {', '.join(env_names)})")
    selected = [only_env] if only_env else env_names
    project = Project(
        name=data["project"]["name"],
        short_name=data["project"]["short_name"],
        description=data["project"]["description"],
        sagemaker_pipeline_name=data["sagemaker_pipeline"]["name"],
        tags=MappingProxyType(data["tags"]),
        environments=MappingProxyType({env: _environment(env, config_dir / f"{env}.yaml") for env in selected}),
    )
    _check_environment_names(shown, env_names)
    for env in project.environments.values():
        check_limits(project, env, project_file=shown)
        tags = {**project.tags, **env.tags}
        if len(tags) > MAX_STACK_TAGS:
            raise ConfigError(env.file, "tags", f"project and environment tags together are {len(tags)}; "
                                                f"CloudFormation takes at most {MAX_STACK_TAGS} per stack")
    for key, emails_of in (("notifications.emails", lambda e: e.emails), ("operations.emails", lambda e: e.operations_emails)):
        _check_subscription_ids([(env.file, f"{key}[{i}]", email)
                                 for env in project.environments.values() for i, email in enumerate(emails_of(env))])
    return project
