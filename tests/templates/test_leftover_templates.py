"""An environment taken out of config leaves no templates/<env>/ behind.

Found: removing an env from config/project.yaml left its parameter files in templates/, and
`generate.py --check` (the Synth stage, `make check`) still said all was up to date. `--check` now
reports every file generate.py made that a render no longer makes, and a render removes them; it
touches nothing else (hand-written files, other YAML or JSON, symlinks, a test's `.result` copies).

generate.py owns templates/<env>/*.yaml and *.json, and the top-level templates/*.yaml that versions before the
per-env templates wrote (a render removes those too).
"""
from __future__ import annotations

import shutil

import pytest
import yaml

import generate
from infra import config, stacks
from infra.stacks import BUILDERS
from tests.conftest import ROOT


@pytest.fixture
def two_configs(tmp_path):
    """A copy of config/ as it is, and one with its last environment taken out (named by the config, not here)."""
    full = tmp_path / "config-full"
    shutil.copytree(ROOT / "config", full)
    project = yaml.safe_load((full / "project.yaml").read_text())
    envs = list(project["environments"])
    if len(envs) < 2:
        pytest.skip("needs a config with two environments to take one out")
    fewer = tmp_path / "config-fewer"
    shutil.copytree(full, fewer)
    project["environments"] = envs[:-1]
    (fewer / "project.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return full, fewer, envs[-1]


def _render(cfg, out, *extra):
    return generate.main(["--config", str(cfg), "--out", str(out), *extra])


def _files(out):
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def test_check_reports_the_folder_of_a_removed_env_and_exits_1(two_configs, tmp_path, capsys):
    full, fewer, removed_env = two_configs
    out = tmp_path / "templates"
    assert _render(full, out) == 0
    assert _render(fewer, out, "--check") == 1
    printed = capsys.readouterr()
    removed_stacks = [p.stem for p in (out / removed_env).glob("*.yaml")]
    assert "iam" in removed_stacks
    for stack in removed_stacks:
        assert f"extra:   {out / removed_env / f'{stack}.yaml'}" in printed.out
        assert f"extra:   {out / removed_env / f'{stack}.json'}" in printed.out
    assert "make templates" in printed.err


def test_a_render_removes_the_removed_envs_files_and_then_check_passes(two_configs, tmp_path, capsys):
    full, fewer, removed_env = two_configs
    out = tmp_path / "templates"
    assert _render(full, out) == 0
    removed_files = len(list((out / removed_env).iterdir()))
    assert _render(fewer, out) == 0
    printed = capsys.readouterr().out
    assert f"{removed_files} removed" in printed
    assert f"removed: {out / removed_env / 'iam.yaml'}" in printed and f"removed: {out / removed_env / 'iam.json'}" in printed
    assert not (out / removed_env).exists(), "the emptied env folder stays behind"
    assert _render(fewer, out, "--check") == 0
    fresh = tmp_path / "fresh"
    assert _render(fewer, fresh) == 0
    assert _files(out) == _files(fresh)


def test_only_generated_files_are_ever_removed(two_configs, tmp_path):
    """Everything that generate.py did not write, or that is not shaped like its output, stays byte for byte."""
    full, fewer, removed_env = two_configs
    out = tmp_path / "templates"
    assert _render(full, out) == 0
    template = (out / removed_env / "iam.yaml").read_text()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "iam.json").write_text((out / removed_env / "iam.json").read_text())
    (elsewhere / "iam.yaml").write_text(template)
    keep = {
        "README.md": "notes\n",
        "buildspec.yaml": "version: 0.2\n",  # a YAML that is not a template
        "iam.yaml.result.yaml": template,  # the snapshot test's copy, git-ignored
        f"{removed_env}/iam.yaml.result.yaml": template,
        f"{removed_env}/notes.txt": "mine\n",
        f"{removed_env}/hand-written.json": '{"Parameters": []}\n',
        f"{removed_env}/hand-written.yaml": "Resources: {}\n",  # a YAML that does not begin as a template does
        f"{removed_env}/.hidden.yaml": template,
        "other/stack.txt": "x\n",
        ".hidden.yaml": template,
    }
    for rel, text in keep.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
    (out / "linked").symlink_to(elsewhere, target_is_directory=True)
    (out / "linked.yaml").symlink_to(out / removed_env / "iam.yaml")
    (out / removed_env / "linked.yaml").symlink_to(elsewhere / "iam.yaml")

    assert _render(fewer, out) == 0
    for rel, text in keep.items():
        assert (out / rel).read_text() == text, rel
    assert (elsewhere / "iam.json").is_file() and (elsewhere / "iam.yaml").is_file(), "removed a file through a symlink"
    assert (out / "linked.yaml").is_symlink() and (out / removed_env / "linked.yaml").is_symlink()
    assert not (out / removed_env / "iam.json").exists() and not (out / removed_env / "iam.yaml").exists()
    assert (out / removed_env).is_dir(), "an env folder still holding someone's files must stay"


def test_a_removed_stack_template_is_a_leftover_too(tmp_path, capsys):
    env = next(iter(config.load().environments))
    out = tmp_path / "templates"
    assert generate.main(["--out", str(out)]) == 0
    retired = [out / env / "retired-stack.yaml", out / env / "retired-stack.json"]
    for stale, made in zip(retired, (out / env / "iam.yaml", out / env / "iam.json")):
        stale.write_text(made.read_text())
    assert generate.main(["--out", str(out), "--check"]) == 1
    printed = capsys.readouterr().out
    assert all(f"extra:   {stale}" in printed for stale in retired)
    assert generate.main(["--out", str(out)]) == 0
    assert not any(stale.exists() for stale in retired)


def test_the_shared_templates_earlier_versions_wrote_are_leftovers(tmp_path, capsys):
    """Before per-env templates, templates/<stack>.yaml served every env: a render removes them."""
    env = next(iter(config.load().environments))
    out = tmp_path / "templates"
    assert generate.main(["--out", str(out)]) == 0
    shared = [out / f"{stack}.yaml" for stack in stacks.of_env(config.load().env(env))]
    for stale in shared:
        stale.write_text((out / env / stale.name).read_text())
    assert generate.main(["--out", str(out), "--check"]) == 1
    printed = capsys.readouterr().out
    assert all(f"extra:   {stale}" in printed for stale in shared)
    assert generate.main(["--out", str(out), "--env", env]) == 0
    assert all(stale.exists() for stale in shared), "--env judges only its env's folder"
    assert generate.main(["--out", str(out)]) == 0
    assert not any(stale.exists() for stale in shared)
    assert generate.main(["--out", str(out), "--check"]) == 0


def test_env_option_leaves_other_envs_alone(tmp_path):
    """`--env X` loads only X's config, so it cannot judge other envs' folders: it neither reports nor removes them."""
    envs = list(config.load().environments)
    if len(envs) < 2:
        pytest.skip("needs two environments")
    out = tmp_path / "templates"
    assert generate.main(["--out", str(out)]) == 0
    assert generate.main(["--out", str(out), "--env", envs[0]]) == 0
    project = config.load()
    assert all((out / env / f"{stack}.{ext}").is_file()
               for env in envs for stack in stacks.of_env(project.env(env)) for ext in ("yaml", "json"))
    strays = {env: [out / env / "retired-stack.json", out / env / "retired-stack.yaml"] for env in envs[:2]}
    for env, files in strays.items():
        for stray in files:
            stray.write_text((out / env / f"iam{stray.suffix}").read_text())
    assert generate.main(["--out", str(out), "--env", envs[0]]) == 0
    assert not any(stray.exists() for stray in strays[envs[0]])
    assert all(stray.exists() for stray in strays[envs[1]]), "--env removed another env's files"


def test_check_of_a_missing_folder_reports_missing_files_only(tmp_path, capsys):
    assert generate.main(["--out", str(tmp_path / "nowhere"), "--check"]) == 1
    assert "extra:" not in capsys.readouterr().out
