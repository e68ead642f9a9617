"""Every rendered template fits the size CloudFormation accepts, or config is refused in one line naming the key.

What an env lists grows its templates: each e-mail address is an SNS subscription
(infra/parts/email_subscriptions.py) in its messaging (`notifications.emails`) or pipeline (`operations.emails`)
template, and names grow with the project's and the env's names.

The limit is CloudFormation's for a template sent inline (`TemplateBody`, "CloudFormation quotas"):
- the delivery pipeline's CloudFormation actions send the committed YAML from their input artifact (its user
  guide gave this limit for the action; a later report says it takes more: uncertain, so the stricter);
- `make deploy` sends the same template as compact JSON (infra/ops/deploy.py), which is smaller.
So a stack a pipeline deploys is held to it as rendered YAML, and an administrator-only stack, which only
`make deploy` sends, as the compact JSON it sends.
"""
from __future__ import annotations

import json

import yaml

from infra.config import ConfigError, Environment
from infra.config.names import BOOTSTRAP_ONLY_STACKS

TEMPLATE_BODY_LIMIT = 51_200  # bytes: CloudFormation's TemplateBody quota

# libyaml's safe loader where PyYAML's wheel has it: the same documents as PyYAML's pure-Python parser, which
# took 70 % of a render's time when render read its templates back here.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _operations_key(env: Environment) -> str:
    # Unset, operations.emails is notifications.emails (infra/config/loader.py): name what the file says.
    return "operations.emails" if env.operations_emails != env.emails else "notifications.emails (operations.emails unset)"


# stack -> the config key whose list of addresses grows it (one subscription each).
SUBSCRIBED = {"messaging": lambda env: "notifications.emails", "pipeline": _operations_key}


def compact_json(template: dict) -> str:
    """The template as `make deploy` sends it: the same document as compact JSON."""
    return json.dumps(template, separators=(",", ":"), sort_keys=True)


def sent_size(stack: str, text: str, template: dict | None = None) -> int:
    """Bytes CloudFormation receives for the rendered YAML `text` of `stack`, the way its deployer sends it.
    `template`: the document `text` holds, where the caller has it (render), so it is not read back."""
    if stack in BOOTSTRAP_ONLY_STACKS:
        document = template if template is not None else yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
        return len(compact_json(document).encode())
    return len(text.encode())


def check(env: Environment, stack: str, text: str, template: dict | None = None) -> None:
    """ConfigError when the env's template of `stack` is over the limit, naming the config key that grew it."""
    size = sent_size(stack, text, template)
    if size <= TEMPLATE_BODY_LIMIT:
        return
    sent = " as compact JSON" if stack in BOOTSTRAP_ONLY_STACKS else ""
    over = (f"make templates/{env.name}/{stack}.yaml {size:,} bytes{sent}, over CloudFormation's "
            f"{TEMPLATE_BODY_LIMIT:,}-byte template limit")
    if stack in SUBSCRIBED:
        raise ConfigError(env.file, SUBSCRIBED[stack](env), f"these addresses {over}: list fewer (a team's mailing list)")
    raise ConfigError(env.file, "name", f"the project's and env's names {over}: shorten them")
