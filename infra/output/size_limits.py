"""Every rendered template fits the size CloudFormation accepts, or config is refused in one line naming the key.

One template per stack serves every env, so what any env lists is in it: each e-mail address is an SNS
subscription (infra/parts/email_subscriptions.py) in the shared messaging (`notifications.emails`) or pipeline
(`operations.emails`) template. The schema caps each env's list, not the envs together, so many envs with their
own addresses pass the schema and would fail only at deploy time (or as a test's size assertion).

The limit is CloudFormation's for a template sent inline (`TemplateBody`, "CloudFormation quotas"):
- the delivery pipeline's CloudFormation actions send the committed YAML from their input artifact (its user
  guide gave this limit for the action; a later report says it takes more: uncertain, so the stricter);
- `make deploy` sends the same template as compact JSON (infra/ops/deploy.py), which is smaller.
So the YAML as rendered is held to it, whichever way a stack is deployed.
"""
from __future__ import annotations

from pathlib import Path

from infra.config import ConfigError, Environment, Project

TEMPLATE_BODY_LIMIT = 51_200  # bytes: CloudFormation's TemplateBody quota


def _operations_key(env: Environment) -> str:
    # Unset, operations.emails is notifications.emails (infra/config/loader.py): name what the file says.
    return "operations.emails" if env.operations_emails != env.emails else "notifications.emails (operations.emails unset)"


# stack -> (the env's addresses it subscribes, the key that names them). Every other template is the same for any
# config the schema accepts, but for the env names in it.
SUBSCRIBED = {
    "messaging": (lambda env: env.emails, lambda env: "notifications.emails"),
    "pipeline": (lambda env: env.operations_emails, _operations_key),
}


def check(project: Project, stack: str, text: str) -> None:
    """ConfigError when the stack's template is over the limit, naming the config key that grew it."""
    size = len(text.encode())
    if size <= TEMPLATE_BODY_LIMIT:
        return
    envs = list(project.environments.values())
    over = f"make templates/{stack}.yaml {size:,} bytes, over CloudFormation's {TEMPLATE_BODY_LIMIT:,}-byte template limit"
    if stack not in SUBSCRIBED:
        project_file = str(Path(envs[0].file).parent / "project.yaml")
        raise ConfigError(project_file, "environments", f"{len(envs)} environments {over}: split them across projects")
    addresses, key = SUBSCRIBED[stack]
    distinct = {a for env in envs for a in addresses(env)}
    most = max(envs, key=lambda env: len(addresses(env)))  # the file to shorten first
    raise ConfigError(most.file, key(most), f"{len(distinct)} addresses in all envs (one subscription each in the shared "
                                            f"template) {over}: list fewer (a team's mailing list)")
