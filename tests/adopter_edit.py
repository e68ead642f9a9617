"""The edits an adopting team makes to config/ first: rename the project, add an env, change who is notified, drop an env.

Used two ways: `tests/adopter_check.sh` applies them to a copy of the repository and runs the whole suite
there (`python tests/adopter_edit.py SCENARIO` in the copy's root); `tests/test_adopter_config.py` applies
them to a temporary config folder and checks the render in-process. Each edit changes every value the sample
ships with, so a test that hard-codes one of the sample's names, addresses or env names fails on it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

# Values no sample file uses, each valid for its field (infra/schema.py).
RENAMED = {"name": "acme-fraud-detect", "short_name": "fraud", "pipeline": "fraud-train", "repository": "acme/fraud-detect-mlops"}
ADDED_ENV = "staging"
CHANGED_EMAILS = ["risk-team@adopter.example.org", "risk-lead@adopter.example.org"]
CHANGED_STATUSES = ["Rejected", "PendingManualApproval"]

SCENARIOS = ("rename", "staging", "notify", "drop-last", "drop-first", "all")


def _read(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _write(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def rename(config_dir: Path) -> None:
    path = config_dir / "project.yaml"
    data = _read(path)
    data["project"]["name"] = RENAMED["name"]
    data["project"]["short_name"] = RENAMED["short_name"]
    data["project"]["description"] = "Fraud detection model build, registry and approval notifications"
    data["sagemaker_pipeline"]["name"] = RENAMED["pipeline"]
    if "project" in data.get("tags", {}):
        data["tags"]["project"] = RENAMED["name"]
    _write(path, data)
    for env in data["environments"]:  # and their own repository
        env_path = config_dir / f"{env}.yaml"
        env_data = _read(env_path)
        if "repository" in env_data.get("source", {}):
            env_data["source"]["repository"] = RENAMED["repository"] if "/" in env_data["source"]["repository"] else RENAMED["name"]
            _write(env_path, env_data)


def add_env(config_dir: Path, name: str = ADDED_ENV) -> None:
    """A copy of the first env on its own branch, listed second (not last: order must not matter)."""
    path = config_dir / "project.yaml"
    data = _read(path)
    first = data["environments"][0]
    env = _read(config_dir / f"{first}.yaml")
    env["source"]["branch"] = name
    if "environment" in env.get("tags", {}):
        env["tags"]["environment"] = name
    _write(config_dir / f"{name}.yaml", env)
    data["environments"].insert(1, name)
    _write(path, data)


def change_notifications(config_dir: Path) -> None:
    """The first env notifies other people, on other statuses."""
    first = _read(config_dir / "project.yaml")["environments"][0]
    path = config_dir / f"{first}.yaml"
    env = _read(path)
    env["notifications"] = {"emails": list(CHANGED_EMAILS), "statuses": list(CHANGED_STATUSES)}
    _write(path, env)


def drop_env(config_dir: Path, index: int) -> None:
    path = config_dir / "project.yaml"
    data = _read(path)
    if len(data["environments"]) < 2:
        raise SystemExit("adopter_edit: only one env left; nothing to drop")
    gone = data["environments"].pop(index)
    (config_dir / f"{gone}.yaml").unlink()
    _write(path, data)


def apply(config_dir: Path | str, scenario: str) -> None:
    config_dir = Path(config_dir)
    if scenario == "rename":
        rename(config_dir)
    elif scenario == "staging":
        add_env(config_dir)
    elif scenario == "notify":
        change_notifications(config_dir)
    elif scenario == "drop-last":
        drop_env(config_dir, -1)
    elif scenario == "drop-first":
        drop_env(config_dir, 0)
    elif scenario == "all":
        drop_env(config_dir, -1)
        rename(config_dir)
        add_env(config_dir)
        change_notifications(config_dir)
    else:
        raise SystemExit(f"adopter_edit: unknown scenario '{scenario}' (known: {', '.join(SCENARIOS)})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: python tests/adopter_edit.py SCENARIO  ({', '.join(SCENARIOS)})")
    apply(Path("config"), sys.argv[1])
