"""Turn templates and env values into the bytes of templates/, and write them atomically.

Everything is rendered in memory first; files are written only when every stack and environment
rendered, each through a temporary file and os.replace, so a failure leaves templates/ as it was.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from troposphere import Template

from infra.output import concrete, lambda_package, size_limits
from infra.config import names as names_mod
from infra.cfn import parameters
from infra.config import Project
from infra import stacks
from infra.cfn.templates_common import RETAINED


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # libyaml's emitter where PyYAML's wheel has it
    """Writes a value a template holds twice (a config list written in at two places) out twice: CloudFormation's
    YAML parser rejects anchors and aliases ("Template formats", CloudFormation User Guide)."""

    def ignore_aliases(self, data) -> bool:
        return True


def template_text(template: Template | dict) -> str:
    """The template as YAML: PyYAML's block style, keys sorted, intrinsics in long form (`Fn::Sub:`).

    Long form is what every CloudFormation tool reads, with no YAML tags to teach a parser.
    """
    data = template.to_dict() if isinstance(template, Template) else template
    return yaml.dump(data, Dumper=_Dumper, sort_keys=True, allow_unicode=True, width=120)


def stack_policy(template: Template | dict) -> dict | None:
    """Deny replacing or deleting what the template retains (data, keys, the model registry).

    Retain alone keeps the data when a resource leaves the stack; this stops an update (the
    pipeline's self-update included) from replacing or dropping it in the first place. Only `make deploy` sets it
    (infra/ops/deploy.py): the TemplateConfiguration files the pipelines read hold none, so a push cannot loosen it
    (UpdateStack without a policy keeps the stack's current one, CloudFormation API reference).
    """
    retained = sorted(
        logical_id for logical_id, res in _as_dict(template).get("Resources", {}).items()
        if isinstance(res, dict) and res.get("DeletionPolicy") in RETAINED
    )
    if not retained:
        return None
    return {
        "Statement": [
            {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["Update:Replace", "Update:Delete"],
                "Principal": "*",
                "Resource": [f"LogicalResourceId/{logical_id}" for logical_id in retained],
            },
        ]
    }


def _as_dict(template: Template | dict) -> dict:
    return template.to_dict() if isinstance(template, Template) else template


def template_configuration(template: dict, names: names_mod.Names) -> str:
    """CodePipeline TemplateConfiguration JSON: placeholders for the run-time parameters, and stack tags. No stack
    policy: the pipelines pass this file on every update, and a policy in it would be the push's (see stack_policy)."""
    tags = {**names.project.tags, **names.env.tags}
    body = {"Parameters": parameters.run_time_placeholders(template), "Tags": dict(sorted(tags.items()))}
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"


def render(project: Project, extra_parameters: dict[str, str] | None = None) -> dict[str, str]:
    """All files for the project's (loaded) environments: relative path -> text.

    Each env's files come from that env alone (templates/<env>/<stack>.yaml and .json), so adding or removing
    an env leaves every other env's files as they were. `extra_parameters` override the Lambda code keys hashed
    from lambda_src/. ConfigError when a template would be too large for CloudFormation
    (infra/output/size_limits.py).
    """
    code_keys = {**lambda_package.parameters(LAMBDA_SRC), **(extra_parameters or {})}
    files: dict[str, str] = {}
    for env in project.environments.values():
        names = names_mod.Names(project, env)
        values = {**parameters.config_values(names), **code_keys}
        for stack, build in stacks.of_env(env).items():
            template = concrete.write_in(build(names).to_dict(), values)
            path = f"{env.name}/{stack}"
            files[f"{path}.yaml"] = template_text(template)
            size_limits.check(env, stack, files[f"{path}.yaml"], template)
            files[f"{path}.json"] = template_configuration(template, names)
    return dict(sorted(files.items()))


class OutsideOutput(Exception):
    """A path under the output folder leads out of it (a symlinked sub-folder or file): nothing is written."""


def _inside(out_dir: Path, target: Path) -> bool:
    try:
        target.resolve().relative_to(out_dir.resolve())
    except (ValueError, OSError, RuntimeError):  # elsewhere, or a symlink loop
        return False
    return True


def write_atomically(out_dir: Path, files: dict[str, str]) -> list[str]:
    """Write files whose content changed; return the relative paths written.

    Every target is checked first: if a symlink under out_dir would carry any write elsewhere, nothing is written.
    """
    import tempfile  # here, not at the top: `--check` and unchanged renders write nothing

    escaping = sorted(rel for rel in files if not _inside(out_dir, out_dir / rel))
    if escaping:
        raise OutsideOutput(f"{out_dir / escaping[0]} leads outside {out_dir} (a symlink?); nothing was written")
    pending: list[tuple[Path, Path]] = []
    try:
        for rel, text in files.items():
            target = out_dir / rel
            if target.is_file() and target.read_text(encoding="utf-8") == text:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            pending.append((Path(tmp), target))
    except BaseException:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, target in pending:
        os.replace(tmp, target)
    return [str(target.relative_to(out_dir)) for _, target in pending]


# How the first bytes of each kind of file generate.py writes begin (keys are sorted, so these come first).
_TEMPLATE_START = b"AWSTemplateFormatVersion:"
_CONFIGURATION_START = b'{\n  "Parameters": {'


def _generated(path: Path, start: bytes) -> bool:
    """A regular file (not a symlink, not hidden, not a test's `.result` copy) that begins as ours does."""
    if path.name.startswith(".") or ".result." in path.name or path.is_symlink() or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(len(start)) == start
    except OSError:
        return False


def leftovers(out_dir: Path, files: dict[str, str], only_env: str | None = None) -> list[str]:
    """Files generate.py made in out_dir that a render no longer makes (relative paths, sorted).

    generate.py owns only the templates and TemplateConfiguration files one folder down (`<env>/*.yaml`,
    `<env>/*.json`), and the templates at the top of out_dir that earlier versions wrote (`*.yaml`), and of those
    only the ones that begin as it writes them: anything else (a README, a symlink, a hand-written YAML when --out
    is some other folder) is never reported or removed. With `only_env`, other environments' folders are out of
    scope: their config was not loaded.
    """
    if not out_dir.is_dir() or out_dir.is_symlink():
        return []
    found = [p for p in out_dir.glob("*.yaml") if only_env is None and _generated(p, _TEMPLATE_START)]
    for folder in sorted(out_dir.iterdir()):
        if folder.is_dir() and not folder.is_symlink() and only_env in (None, folder.name):
            found += [p for p in folder.glob("*.yaml") if _generated(p, _TEMPLATE_START)]
            found += [p for p in folder.glob("*.json") if _generated(p, _CONFIGURATION_START)]
    return sorted(rel for rel in (p.relative_to(out_dir).as_posix() for p in found) if rel not in files)


def remove_leftovers(out_dir: Path, files: dict[str, str], only_env: str | None = None) -> list[str]:
    """Delete the leftovers (see `leftovers`), then any env folder they leave empty; return what was removed."""
    removed = leftovers(out_dir, files, only_env)
    for rel in removed:
        (out_dir / rel).unlink()
    for folder in sorted({(out_dir / rel).parent for rel in removed} - {out_dir}):
        if not any(folder.iterdir()):
            folder.rmdir()
    return removed


def stale(out_dir: Path, files: dict[str, str], only_env: str | None = None) -> list[str]:
    """Human-readable lines for every file on disk that differs from, lacks, or outlived a fresh render."""
    problems = []
    for rel, text in files.items():
        target = out_dir / rel
        if not target.is_file():
            problems.append(f"missing: {target}")
        elif target.read_text(encoding="utf-8") != text:
            problems.append(f"stale:   {target}")
    problems += [f"extra:   {out_dir / rel} (config no longer renders it)" for rel in leftovers(out_dir, files, only_env)]
    return problems
