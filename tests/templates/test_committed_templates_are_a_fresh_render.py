"""generate.py: the committed templates are a fresh render, byte for byte, on any machine."""
from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys

import generate
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
    expected = {f"{s}.yaml" for s in BUILDERS} | {f"{e}/{s}.json" for s in BUILDERS for e in project.environments}
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
    (out / "iam.yaml").write_text("stale\n")
    (out / "dev" / "iam.json").unlink()
    capsys.readouterr()
    assert generate.main([*fixture, "--out", str(out), "--check"]) == 1
    printed = capsys.readouterr()
    assert f"stale:   {out / 'iam.yaml'}" in printed.out
    assert f"missing: {out / 'dev' / 'iam.json'}" in printed.out
    assert "make templates" in printed.err


def test_check_writes_nothing(tmp_path):
    out = tmp_path / "out"
    assert generate.main(["--out", str(out), "--check"]) == 1
    assert not out.exists()


def test_env_option_renders_only_that_envs_parameter_files(tmp_path):
    out = tmp_path / "out"
    assert generate.main(["--config", str(FIXTURE_CONFIG), "--out", str(out), "--env", "prod"]) == 0  # envs dev and prod
    assert not (out / "dev").exists()
    assert {p.name for p in (out / "prod").iterdir()} == {f"{s}.json" for s in BUILDERS}


def test_unchanged_files_are_not_rewritten(tmp_path):
    out = tmp_path / "out"
    generate.main(["--out", str(out)])
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    generate.main(["--out", str(out)])
    assert stamp == {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def test_parameter_files_are_template_configurations(rendered, project):
    for env in project.environments:
        for stack in BUILDERS:
            body = json.loads(rendered[f"{env}/{stack}.json"])
            assert set(body) <= {"Parameters", "Tags", "StackPolicy"} and {"Parameters", "Tags"} <= set(body)
            assert all(isinstance(v, str) for v in body["Parameters"].values())
            assert body["Tags"]["environment"] == env


def test_model_package_group_is_derived_from_the_sagemaker_pipeline_name(project):
    for env in project.environments:
        n = names_mod.for_env(project, env)
        assert n.model_package_group == f"{project.sagemaker_pipeline_name}-{env}-models"
        assert n.sagemaker_pipeline == f"{project.sagemaker_pipeline_name}-{env}"


def test_env_option_renders_the_same_shared_templates_as_a_full_render(tmp_path):
    """The templates hold every env's values (conditions, mappings): rendering them from one env's config
    would drop the others' subscriptions and settings from a template every env deploys."""
    from infra import config

    full = tmp_path / "full"
    assert generate.main(["--out", str(full)]) == 0
    shared = sorted(p.name for p in full.glob("*.yaml"))
    for env in config.load().environments:
        one = tmp_path / env
        assert generate.main(["--out", str(one), "--env", env]) == 0
        assert sorted(p.name for p in one.glob("*.yaml")) == shared
        for name in shared:
            assert (one / name).read_bytes() == (full / name).read_bytes(), f"--env {env} renders {name} differently"
        assert (one / env).is_dir() and [p.name for p in one.iterdir() if p.is_dir()] == [env]
