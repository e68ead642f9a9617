"""Helpers shared by the notifier tests: sample events, the handler package, moto fixtures."""
from __future__ import annotations

import copy
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "fixtures" / "events"  # lambda_src/ is on sys.path: tests/__init__.py


def sample_event(name: str) -> dict:
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8")))


def for_group(event: dict, group: str, version: int = 1, account: str = "123456789012") -> dict:
    """The same event, as SageMaker would send it for another group (and version)."""
    arn = f"arn:aws:sagemaker:{event['region']}:{account}:model-package/{group}/{version}"
    event["detail"].update(ModelPackageGroupName=group, ModelPackageArn=arn, ModelPackageVersion=version)
    event["resources"] = [arn]
    return event
