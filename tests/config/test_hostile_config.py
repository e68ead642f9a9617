"""Hostile config and output folders: one line naming the file and key, bounded time and memory, nothing
written outside --out.

Found by a security review: a YAML alias bomb hung generate.py (>60 s, >2 GB), a trailing newline passed
`$`-anchored patterns and made templates/dev\\n/, 51 stack tags were accepted (CloudFormation allows 50),
/dev/zero and symlink loops gave tracebacks, a symlinked sub-folder of --out made it write elsewhere, and
environment names that prefix each other (dev, dev-eu) shared every churn-dev-* name pattern.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml

import generate
from tests.conftest import ROOT

ALIAS_BOMB = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]" for i in range(8)]
    + ["project: *i"]
) + "\n"


@pytest.fixture
def workspace(tmp_path):
    cfg = tmp_path / "config"
    shutil.copytree(ROOT / "config", cfg)
    out = tmp_path / "out"
    out.mkdir()
    return cfg, out


def _first_env(cfg: Path) -> str:
    return yaml.safe_load((cfg / "project.yaml").read_text())["environments"][0]


def _run(cfg: Path, out: Path) -> subprocess.CompletedProcess:
    """generate.py's main in this process (a value refused must be one line on stderr and exit 2; an exception
    escaping main fails the test): a new interpreter per case cost 0.4 s of CPU each."""
    args = ["--config", str(cfg), "--out", str(out)]
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = generate.main(args)
    return subprocess.CompletedProcess(args, code, stdout.getvalue(), stderr.getvalue())


def _run_apart(cfg: Path, out: Path, timeout: int = 30) -> subprocess.CompletedProcess:
    """generate.py in its own process, with a memory cap and a timeout: a bomb or an endless file must fail fast,
    not take the machine."""
    import resource

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run([sys.executable, str(ROOT / "generate.py"), "--config", str(cfg), "--out", str(out)],
                          capture_output=True, text=True, timeout=timeout, preexec_fn=cap, cwd=ROOT)


def _assert_one_line(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


def test_a_yaml_alias_bomb_is_refused_at_once(workspace):
    cfg, out = workspace
    (cfg / "project.yaml").write_text(ALIAS_BOMB)
    _assert_one_line(_run_apart(cfg, out), "project.yaml", "aliases")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("where", ["env name", "tag value", "email"])
def test_control_characters_in_any_value_are_refused(workspace, where):
    cfg, out = workspace
    env = _first_env(cfg)
    if where == "env name":
        data = yaml.safe_load((cfg / "project.yaml").read_text())
        data["environments"][0] = env + "\n"
        (cfg / "project.yaml").write_text(yaml.safe_dump(data))
        shutil.copy(cfg / f"{env}.yaml", cfg / f"{env}\n.yaml")
        file = "project.yaml"
    else:
        data = yaml.safe_load((cfg / f"{env}.yaml").read_text())
        if where == "tag value":
            data.setdefault("tags", {})["team"] = "ml\n"
        else:
            data["notifications"]["emails"] = ["ml-team@example.com\n"]
        (cfg / f"{env}.yaml").write_text(yaml.safe_dump(data))
        file = f"{env}.yaml"
    _assert_one_line(_run(cfg, out), file, "control character")
    assert list(out.iterdir()) == []


def test_more_stack_tags_than_cloudformation_takes_are_refused(workspace):
    cfg, out = workspace
    env = _first_env(cfg)
    data = yaml.safe_load((cfg / f"{env}.yaml").read_text())
    data["tags"] = {f"tag{i}": "x" for i in range(51)}
    (cfg / f"{env}.yaml").write_text(yaml.safe_dump(data))
    _assert_one_line(_run(cfg, out), f"{env}.yaml", "tags", "50")


@pytest.mark.parametrize("kind", ["endless", "loop", "fifo"])
def test_unreadable_config_files_are_one_line(workspace, kind):
    cfg, out = workspace
    env = _first_env(cfg)
    target = cfg / f"{env}.yaml"
    target.unlink()
    if kind == "endless":
        target.symlink_to("/dev/zero")
    elif kind == "fifo":  # opening it for reading would wait for a writer
        os.mkfifo(target)
    else:
        target.symlink_to(cfg / "loop.yaml")
        (cfg / "loop.yaml").symlink_to(target)
    _assert_one_line(_run_apart(cfg, out), f"{env}.yaml")
    assert list(out.iterdir()) == []


def test_a_symlinked_sub_folder_of_out_is_never_written_through(workspace, tmp_path):
    cfg, out = workspace
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / _first_env(cfg)).symlink_to(elsewhere, target_is_directory=True)
    proc = _run(cfg, out)
    assert proc.returncode == 2 and "outside" in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert list(elsewhere.iterdir()) == []


def test_environment_names_that_prefix_each_other_are_refused(workspace):
    cfg, out = workspace
    env = _first_env(cfg)
    data = yaml.safe_load((cfg / "project.yaml").read_text())
    data["environments"].append(f"{env}-eu")
    (cfg / "project.yaml").write_text(yaml.safe_dump(data))
    shutil.copy(cfg / f"{env}.yaml", cfg / f"{env}-eu.yaml")
    _assert_one_line(_run(cfg, out), "project.yaml", "environments", f"'{env}' and '{env}-eu'")


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_numbers_that_are_not_finite_are_refused(workspace, value):
    """NaN passes every minimum/maximum check (no comparison holds) and would render invalid JSON."""
    cfg, out = workspace
    env = _first_env(cfg)
    path = cfg / f"{env}.yaml"
    path.write_text(path.read_text() + f"\nlog_retention_days: 30\n".replace("log_retention_days: 30", f"x_threshold: {value}"))
    text = path.read_text().replace(f"\nx_threshold: {value}\n", "\n")
    data = yaml.safe_load(text)
    data.setdefault("sagemaker", {})
    path.write_text(yaml.safe_dump(data).replace("sagemaker: {}", "sagemaker:\n  model_approval_threshold: PLACEHOLDER")
                    .replace("sagemaker:\n", "sagemaker:\n  model_approval_threshold: PLACEHOLDER\n", 1)
                    if "model_approval_threshold" not in yaml.safe_dump(data) else
                    re.sub(r"model_approval_threshold: .*", "model_approval_threshold: PLACEHOLDER", yaml.safe_dump(data)))
    path.write_text(path.read_text().replace("PLACEHOLDER", value))
    _assert_one_line(_run(cfg, out), f"{env}.yaml", "sagemaker.model_approval_threshold", "not a finite number")


@pytest.mark.parametrize("kind", ["symlink", "directory", "device"])
def test_sample_data_never_writes_through_a_link_or_into_a_special_file(tmp_path, kind):
    target = tmp_path / "victim.txt"
    target.write_text("precious\n")
    out = tmp_path / "out.csv"
    if kind == "symlink":
        out.symlink_to(target)
    elif kind == "directory":
        out.mkdir()
    else:
        out = Path("/dev/null")
    proc = subprocess.run([sys.executable, "-m", "pipeline_def", "sample-data", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not a regular file" in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert target.read_text() == "precious\n"


def test_sample_data_is_written_with_the_users_umask_and_leaves_no_temp_file(tmp_path):
    """mkstemp makes 0600 files; the sample data is as readable as any file the user makes."""
    out = tmp_path / "data.csv"
    proc = subprocess.run(["sh", "-c", f"umask 022 && {sys.executable} -m pipeline_def sample-data --rows 5 --out {out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["data.csv"]


OWN_ACCOUNT, OTHER_ACCOUNT = "123456789012", "999999999999"
RAW = "RAW-TEXT"  # a value that yaml.safe_dump cannot write: replaced after dumping


def _account(env: dict) -> str:
    """The env's account: its connection's, if it names one (a config's may be placeholders), or a made-up one."""
    arn = env["source"].get("connection_arn")
    return arn.split(":")[4] if arn else OWN_ACCOUNT


PRINCIPAL_LISTS = (("kpi", "analyst_principals"), ("kpi", "quicksight_principals"), ("sagemaker", "data_uploaders"),
                   ("sagemaker", "approvers"))


def _principal(section: str, key: str, arn: str, pinned: bool = True):
    def edit(env: dict, project: dict) -> None:
        env.pop("account_id", None)
        if pinned:
            env["account_id"] = _account(env)
        else:
            # Only the principal under test needs the account: the env's own lists go, and so does serving, which
            # needs approvers (an adopter's env may have both).
            for other_section, other_key in PRINCIPAL_LISTS:
                env.get(other_section, {}).pop(other_key, None)
            env.pop("deployment", None)
        env.setdefault(section, {})[key] = [arn.format(own=_account(env), region=env["region"])]
    return edit


def _connection(arn):
    def edit(env: dict, project: dict) -> None:
        env["account_id"] = _account(env)
        env["source"] = {"type": "codeconnections", "repository": "o/r", "branch": "main",
                         "connection_arn": arn(env["account_id"], env["region"])}
    return edit


def _branch(branch: str):
    def edit(env: dict, project: dict) -> None:
        if env["source"]["type"] == "s3":
            env["source"] = {"type": "codecommit", "repository": "r"}
        env["source"]["branch"] = branch
    return edit


def _tags(project_tags: dict, env_tags: dict):
    def edit(env: dict, project: dict) -> None:
        project["tags"], env["tags"] = project_tags, env_tags
    return edit


def _description(escape: str):
    """A YAML escape: the file stays valid UTF-8, the value holds the character."""
    def edit(env: dict, project: dict) -> str:
        project["project"]["description"] = RAW
        return f'"a{escape}b"'
    return edit


def _number(env: dict, project: dict) -> str:
    env["log_retention_days"] = RAW
    return "1" * 5000


def _serving_without_approvers(env: dict, project: dict) -> None:
    env["deployment"] = {}
    env.setdefault("operations", {})["release_approval"] = True
    env.setdefault("sagemaker", {})["approvers"] = []


def _quicksight_without_analysts(env: dict, project: dict) -> None:
    env["account_id"] = _account(env)
    kpi = env.setdefault("kpi", {})
    kpi["analyst_principals"] = []
    kpi["quicksight_principals"] = [f"arn:aws:quicksight:{env['region']}:{env['account_id']}:group/default/q"]


def _other_region(region: str) -> str:
    return "us-east-1" if region != "us-east-1" else "eu-west-1"


def _connection_arn(account: str, region: str) -> str:
    return f"arn:aws:codeconnections:{region}:{account}:connection/00000000-0000-0000-0000-000000000000"


# case: (an edit of the env's and the project's data, the file the one line names, fragments it holds)
HOSTILE = {
    "a 5000-digit integer": (_number, "env", ["line", "a number of 5000 characters"]),
    **{f"{what} of an env without account_id": (_principal(section, key, arn, pinned=False), "env", [f"{section}.{key}[0]", "set account_id"])
       for what, section, key, arn in [
           ("analyst", "kpi", "analyst_principals", f"arn:aws:iam::{OTHER_ACCOUNT}:role/a"),
           ("uploader", "sagemaker", "data_uploaders", f"arn:aws:iam::{OTHER_ACCOUNT}:role/u"),
           ("approver", "sagemaker", "approvers", f"arn:aws:iam::{OTHER_ACCOUNT}:role/p"),
           ("QuickSight principal", "kpi", "quicksight_principals", f"arn:aws:quicksight:{{region}}:{OTHER_ACCOUNT}:user/default/q")]},
    **{f"{what} in another account": (_principal(section, key, arn), "env", [f"{section}.{key}[0]", f"in account {OTHER_ACCOUNT}"])
       for what, section, key, arn in [
           ("analyst", "kpi", "analyst_principals", f"arn:aws:iam::{OTHER_ACCOUNT}:role/a"),
           ("uploader", "sagemaker", "data_uploaders", f"arn:aws:iam::{OTHER_ACCOUNT}:role/u"),
           ("approver", "sagemaker", "approvers", f"arn:aws:iam::{OTHER_ACCOUNT}:role/p"),
           ("QuickSight principal", "kpi", "quicksight_principals", f"arn:aws:quicksight:{{region}}:{OTHER_ACCOUNT}:group/default/q")]},
    **{f"wildcard {arn}": (_principal(section, key, arn), "env", [f"{section}.{key}[0]", "no wildcards"])
       for section, key, arn in [("kpi", "quicksight_principals", "arn:aws:quicksight:{region}:{own}:user/*"),
                                 ("kpi", "quicksight_principals", "arn:aws:quicksight:{region}:{own}:user/default/*"),
                                 ("sagemaker", "data_uploaders", "arn:aws:iam::{own}:user/*"),
                                 ("sagemaker", "approvers", "arn:aws:iam::{own}:user/*"),
                                 ("sagemaker", "approvers", "arn:aws:iam::{own}:role/*")]},
    "an env that serves models naming no approvers": (_serving_without_approvers, "env", ["sagemaker.approvers", "serves models"]),
    # The data source would exist, and QuickSight's service role could read neither the reports nor the key.
    "QuickSight principals without analysts": (_quicksight_without_analysts, "env",
                                               ["kpi.quicksight_principals", "kpi.analyst_principals"]),
    "a principal of another partition": (_principal("kpi", "analyst_principals", "arn:aws-cn:iam::{own}:role/a"),
                                         "env", ["kpi.analyst_principals[0]", "partition aws-cn"]),
    "a connection in another account": (_connection(lambda account, region: _connection_arn(OTHER_ACCOUNT, region)),
                                        "env", ["source.connection_arn", f"in account {OTHER_ACCOUNT}"]),
    "a connection in another region": (_connection(lambda account, region: _connection_arn(account, _other_region(region))),
                                       "env", ["source.connection_arn", "in region"]),
    # git check-ref-format --branch refuses each
    **{f"branch {b}": (_branch(b), "env", ["source.branch", "git branch name"])
       for b in ["../../refs/tags/v1", "refs/tags/v1", "a/../b", "a..b", ".hidden", "a/.b", "x.lock", "a//b", "/a", "a/", "a.", "-x"]},
    "a lone surrogate in the description": (_description("\\uD800"), "project", ["project.description", "U+D800, a lone surrogate"]),
    "a right-to-left override in the description": (_description("\\u202E"), "project", ["project.description", "U+202E, a control"]),
    "env tags differing only by case": (_tags({}, {"Team": "a", "team": "b"}), "env", ["tags.team", "differ only in case"]),
    "project and env tags differing only by case": (_tags({"Team": "a"}, {"team": "b"}), "env", ["tags.team", "differ only in case"]),
    "project tags differing only by case": (_tags({"Team": "a", "team": "b"}, {}), "project", ["tags.team", "differ only in case"]),
    "a tag Environment beside the env's own": (_tags({}, {"Environment": "x"}), "env", ["tags.Environment", "differ only in case"]),
}


def _write(cfg: Path, env_name: str, edit) -> None:
    env_path, project_path = cfg / f"{env_name}.yaml", cfg / "project.yaml"
    env, project = yaml.safe_load(env_path.read_text()), yaml.safe_load(project_path.read_text())
    raw = edit(env, project) or ""
    env_path.write_text(yaml.safe_dump(env).replace(RAW, raw))
    project_path.write_text(yaml.safe_dump(project).replace(RAW, raw))


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_values_are_one_line_errors_naming_file_and_key(workspace, case):
    """Found by the review of issue 25: each was accepted or a traceback."""
    cfg, out = workspace
    env = _first_env(cfg)
    edit, where, fragments = HOSTILE[case]
    _write(cfg, env, edit)
    _assert_one_line(_run(cfg, out), f"{env}.yaml" if where == "env" else "project.yaml", *fragments)
    assert list(out.iterdir()) == []

