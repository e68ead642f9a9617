"""generate.py: the committed templates are a fresh render, byte for byte, on any machine."""
from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys

import generate
from infra import config, stacks
from infra.config import names as names_mod
from infra.stacks import BUILDERS
from tests.conftest import FIXTURE_CONFIG, ROOT

TEMPLATES = ROOT / "templates"


def test_committed_templates_equal_a_fresh_render(rendered):
    """Snapshot test: on mismatch, writes <file>.result beside it and shows the diff."""
    problems = []
    for rel, text in rendered.items():
        target = TEMPLATES / rel
        committed = target.read_text() if target.is_file() else ""
        if committed != text:
            result = target.with_name(target.name + ".result" + target.suffix)
            result.parent.mkdir(parents=True, exist_ok=True)
            result.write_text(text)
            diff = "".join(difflib.unified_diff(committed.splitlines(True), text.splitlines(True), f"templates/{rel}", "fresh render", n=2))
            problems.append(diff[:4000] or f"templates/{rel} is missing")
    assert not problems, "templates/ is stale; refresh with `make templates`:\n" + "\n".join(problems)


def test_every_stack_has_a_template_and_a_parameter_file_per_env(rendered, project):
    expected = {f"{e}/{s}.{ext}" for e, env in project.environments.items() for s in stacks.of_env(env) for ext in ("yaml", "json")}
    assert set(rendered) == expected


def test_no_stray_files_in_templates(rendered):
    on_disk = {p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*") if p.is_file() and ".result" not in p.name}
    assert on_disk == set(rendered), "files in templates/ that the generator does not make"


def _render_in_process(seed: str, out) -> dict[str, bytes]:
    subprocess.run([sys.executable, "generate.py", "--out", str(out)], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True)
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_output_is_byte_identical_across_hash_seeds(tmp_path):
    first = _render_in_process("1", tmp_path / "a")
    second = _render_in_process("4242", tmp_path / "b")
    assert first == second and first


def test_check_reports_stale_and_missing_files_and_exits_1(tmp_path, capsys):
    out = tmp_path / "out"
    fixture = ["--config", str(FIXTURE_CONFIG)]  # envs dev and prod
    assert generate.main([*fixture, "--out", str(out)]) == 0
    assert generate.main([*fixture, "--out", str(out), "--check"]) == 0
    (out / "prod" / "iam.yaml").write_text("stale\n")
    (out / "dev" / "iam.json").unlink()
    capsys.readouterr()
    assert generate.main([*fixture, "--out", str(out), "--check"]) == 1
    printed = capsys.readouterr()
    assert f"stale:   {out / 'prod' / 'iam.yaml'}" in printed.out
    assert f"missing: {out / 'dev' / 'iam.json'}" in printed.out
    assert "make templates" in printed.err


def test_check_writes_nothing(tmp_path):
    out = tmp_path / "out"
    assert generate.main(["--out", str(out), "--check"]) == 1
    assert not out.exists()


def test_env_option_renders_only_that_envs_files(tmp_path):
    out = tmp_path / "out"
    assert generate.main(["--config", str(FIXTURE_CONFIG), "--out", str(out), "--env", "prod"]) == 0  # envs dev and prod
    assert [p.name for p in out.iterdir()] == ["prod"]
    prod = config.load(FIXTURE_CONFIG).env("prod")
    assert {p.name for p in (out / "prod").iterdir()} == {f"{s}.{ext}" for s in stacks.of_env(prod) for ext in ("yaml", "json")}


def test_unchanged_files_are_not_rewritten(tmp_path):
    out = tmp_path / "out"
    generate.main(["--out", str(out)])
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    generate.main(["--out", str(out)])
    assert stamp == {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def test_parameter_files_are_template_configurations(rendered, project):
    for env in project.environments:
        for stack in stacks.of_env(project.env(env)):
            body = json.loads(rendered[f"{env}/{stack}.json"])
            assert set(body) <= {"Parameters", "Tags"} and {"Parameters", "Tags"} <= set(body)
            assert all(isinstance(v, str) for v in body["Parameters"].values())
            assert body["Tags"]["environment"] == env


def test_model_package_group_is_derived_from_the_sagemaker_pipeline_name(project):
    for env in project.environments:
        n = names_mod.for_env(project, env)
        assert n.model_package_group == f"{project.sagemaker_pipeline_name}-{env}-models"
        assert n.sagemaker_pipeline == f"{project.sagemaker_pipeline_name}-{env}"


def test_env_option_renders_that_envs_files_as_a_full_render_does(tmp_path):
    """Each env's files come from its own config alone: `--env X` (which loads only X's file) writes X's folder
    byte for byte as a full render does, and nothing else."""
    from infra import config

    full = tmp_path / "full"
    assert generate.main(["--out", str(full)]) == 0
    for env in config.load().environments:
        one = tmp_path / env
        assert generate.main(["--out", str(one), "--env", env]) == 0
        assert [p.name for p in one.iterdir()] == [env]
        made = {p.name: p.read_bytes() for p in (one / env).iterdir()}
        assert made == {p.name: p.read_bytes() for p in (full / env).iterdir()}, f"--env {env} renders differently"


def test_an_envs_files_do_not_change_when_another_env_is_added_or_removed(project, rendered):
    """Adding or removing an env leaves every other env's files as they were: no env's values reach another's."""
    import dataclasses

    from infra.output import render

    envs = list(project.environments)
    for env in envs:
        alone = render.render(dataclasses.replace(project, environments={env: project.environments[env]}))
        assert alone == {rel: text for rel, text in rendered.items() if rel.startswith(f"{env}/")}, env
