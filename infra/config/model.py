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

DEFAULT_STATUSES = ("Approved",)
DEFAULT_SAGEMAKER = MappingProxyType(
    {"processing_instance_type": "ml.m5.large", "training_instance_type": "ml.m5.large", "model_approval_threshold": 0.7,
     "start_on_upsert": False, "sample_data": True, "data_uploaders": ()}
)
DEFAULT_KPI = MappingProxyType(
    {"crawler_schedule": "cron(0 6 * * ? *)", "athena_bytes_scanned_cutoff": 1073741824, "quicksight_principals": (),
     "analyst_principals": ()}
)
DEFAULT_LOG_RETENTION_DAYS = 30
DEFAULT_DEPLOYMENT = MappingProxyType(
    {"instance_type": "ml.m5.large", "min_instances": 2, "max_instances": 4, "invocations_per_instance": 100,
     "latency_threshold_ms": 1000, "data_capture_percent": 10, "smoke_test_latency_ms": 2000, "approval": True,
     "keep_staging": False}
)
# rollout.traffic_percent defaults to the smallest step of one whole instance (infra/config/serving.py).
DEFAULT_ROLLOUT = MappingProxyType({"type": "canary", "wait_seconds": 300})


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
    start_on_upsert: bool = False
    sample_data: bool = True
    data_uploaders: tuple[str, ...] = ()
    # Alarms and releases waiting for approval go to these (config default: the notification addresses).
    operations_emails: tuple[str, ...] = ()
    # A person approves each release before any stack of the env changes.
    release_approval: bool = False
    # Serving approved models; None: this env has no endpoints.
    deployment: Deployment | None = None


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
