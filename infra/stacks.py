"""The stacks this project renders, in deployment order."""
from __future__ import annotations

from typing import Callable

from troposphere import Template

from infra import iam, kpi, notifications, pipeline

# stack key -> build(project) -> Template. Order is deployment order: IAM first.
BUILDERS: dict[str, Callable[..., Template]] = {
    "iam": iam.build,
    "pipeline": pipeline.build,
    "notifications": notifications.build,
    "kpi": kpi.build,
}
