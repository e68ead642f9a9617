"""What a loaded configuration is: the project, its environments and their sources, as frozen values,
and ConfigError, the one-line error every config problem becomes. loader.py reads and validates config/
into these; names.py derives every AWS name from them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


class ConfigError(Exception):
    """A config problem, worded as one line: '<file>: <key path>: <what is wrong>'."""

    def __init__(self, file: str, key: str, problem: str):
        self.file, self.key, self.problem = file, key, problem
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {problem}".replace("\n", " "))


@dataclass(frozen=True)
class Source:
    type: str
    branch: str = ""
    repository: str = ""
    connection_arn: str = ""
    bucket: str = ""
    key: str = ""


@dataclass(frozen=True)
class Deployment:
    """How an env serves approved models: a staging endpoint, a smoke test, a person's approval, a guarded rollout."""

    instance_type: str
    staging_instance_type: str
    min_instances: int
    max_instances: int
    invocations_per_instance: int
    rollout_type: str  # canary | linear | all_at_once
    traffic_percent: int
    wait_seconds: int
    latency_threshold_ms: int
    data_capture_percent: int
    smoke_test_latency_ms: int
    approval: bool
    keep_staging: bool  # false: the Staging stage deletes the staging endpoint once the smoke test has run
    models_from: str | None = None  # the env whose registry (and account) this env serves approved versions of


@dataclass(frozen=True)
class Environment:
    name: str
    file: str
    region: str
    account_id: str | None
    source: Source
    emails: tuple[str, ...]
    statuses: tuple[str, ...]
    processing_instance_type: str
    training_instance_type: str
    model_approval_threshold: float
    crawler_schedule: str
    athena_bytes_scanned_cutoff: int
    quicksight_principals: tuple[str, ...]
    analyst_principals: tuple[str, ...]
    log_retention_days: int
    tags: Mapping[str, str]
    # Config's defaults are in schema.py; these only let infra/ops/destroy.py name an env config no longer lists.
    start_on_upsert: bool = False
    sample_data: bool = False
    data_uploaders: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()  # who may approve a version of the group (its policy denies everyone else)
    operations_emails: tuple[str, ...] = ()  # alarms and releases waiting for approval
    release_approval: bool = False  # a person approves each release before any stack of the env changes
    dead_letter_readers: tuple[str, ...] = ()  # who may decrypt the notifications key's dead letters, through SQS
    deployment: Deployment | None = None  # serving approved models; None: this env has no endpoints
    chat: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))  # kind (slack, teams) -> its channel's IDs


@dataclass(frozen=True)
class Project:
    name: str
    short_name: str
    description: str
    sagemaker_pipeline_name: str
    tags: Mapping[str, str]
    environments: Mapping[str, Environment] = field(default_factory=dict)

    def env(self, name: str) -> Environment:
        if name not in self.environments:
            known = ", ".join(self.environments)
            raise ConfigError(display_path(CONFIG_DIR / "project.yaml"), "environments", f"unknown environment '{name}' (configured: {known})")
        return self.environments[name]


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop
        return str(path)
