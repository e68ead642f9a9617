"""Helpers shared by the notifier tests: sample events, the handler package, moto fixtures."""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "fixtures" / "events"
if str(ROOT / "lambda_src") not in sys.path:
    sys.path.insert(0, str(ROOT / "lambda_src"))


def sample_event(name: str) -> dict:
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8")))


def for_group(event: dict, group: str, version: int = 1, account: str = "123456789012") -> dict:
    """The same event, as SageMaker would send it for another group (and version)."""
    arn = f"arn:aws:sagemaker:{event['region']}:{account}:model-package/{group}/{version}"
    event["detail"].update(ModelPackageGroupName=group, ModelPackageArn=arn, ModelPackageVersion=version)
    event["resources"] = [arn]
    return event
