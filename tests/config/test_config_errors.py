"""Bad config gives one clear line naming file, key and problem; exit 2; templates/ untouched."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import generate
from infra import config
from tests.conftest import FIXTURE_CONFIG, ROOT, absent_env

# The tests' own config (envs dev and prod), not config/: the cases below edit its files by name.
CONFIG = FIXTURE_CONFIG
FIXTURE_ENVS = yaml.safe_load((CONFIG / "project.yaml").read_text())["environments"]
UNKNOWN_ENV = absent_env(FIXTURE_ENVS)


@pytest.fixture
def workspace(tmp_path):
    """A copy of the fixture config and an output folder holding a sentinel, to prove nothing is written."""
    cfg = tmp_path / "config"
    shutil.copytree(CONFIG, cfg)
    out = tmp_path / "out"
    out.mkdir()
    (out / "sentinel.txt").write_text("untouched\n")
    return cfg, out


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _run(cfg: Path, out: Path, capsys, *extra: str) -> tuple[int, str]:
    code = generate.main(["--config", str(cfg), "--out", str(out), *extra])
    err = capsys.readouterr().err
    return code, err


def _assert_rejected(cfg, out, capsys, file: str, *fragments: str, extra=()):
    code, err = _run(cfg, out, capsys, *extra)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    line = lines[0]
    assert line.startswith("error: ") and file in line, line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    assert sorted(p.name for p in out.iterdir()) == ["sentinel.txt"], "something was written"
    return line


def _set(key_path: str, value):
    def change(data):
        node = data
        *parents, last = key_path.split(".")
        for p in parents:
            node = node[p]
        node[last] = value

    return change


def _drop(key_path: str):
    def change(data):
        node = data
        *parents, last = key_path.split(".")
        for p in parents:
            node = node[p]
        del node[last]

    return change


# (case id, file to edit, change, fragments the one-line error must contain)
CASES = [
    ("unknown_top_level_key", "dev.yaml", _set("regoin", "eu-west-1"), ["regoin", "unknown key"]),
    ("unknown_nested_key", "dev.yaml", _set("notifications.email", "x@example.com"), ["notifications.email", "unknown key"]),
    ("missing_required_key", "dev.yaml", _drop("region"), ["region", "required key is missing"]),
    ("wrong_type_retention", "dev.yaml", _set("log_retention_days", "thirty"), ["log_retention_days", "'thirty'"]),
    ("retention_not_allowed_value", "dev.yaml", _set("log_retention_days", 31), ["log_retention_days", "31 is not one of"]),
    ("bad_region", "dev.yaml", _set("region", "europe-west"), ["region", "an AWS region"]),
    ("addresses_differing_in_punctuation", "dev.yaml", _set("notifications.emails", ["ml.team@example.com", "mlteam@example.com"]),
     ["notifications.emails[1]", "differ only in punctuation or case"]),
    ("addresses_differing_in_case", "dev.yaml", _set("notifications.emails", ["ML-Team@example.com", "ml-team@example.com"]),
     ["notifications.emails[1]", "differ only in punctuation or case"]),
    ("region_of_another_partition", "dev.yaml", _set("region", "cn-north-1"), ["region", "partition aws-cn"]),
    ("well_formed_region_that_does_not_exist", "dev.yaml", _set("region", "eu-west-9"), ["region", "'eu-west-9' is not an AWS region"]),
    ("bad_email", "dev.yaml", _set("notifications.emails", ["not-an-email"]), ["notifications.emails[0]", "an email address"]),
    ("no_emails", "dev.yaml", _set("notifications.emails", []), ["notifications.emails", "at least 1"]),
    ("bad_status", "dev.yaml", _set("notifications.statuses", ["Approve"]), ["notifications.statuses[0]", "'Approve' is not one of"]),
    ("threshold_above_one", "dev.yaml", _set("sagemaker.model_approval_threshold", 1.5), ["sagemaker.model_approval_threshold", "at most 1"]),
    ("bad_instance_type", "dev.yaml", _set("sagemaker.training_instance_type", "m5.large"), ["sagemaker.training_instance_type", "instance type"]),
    ("account_id_unquoted_number", "dev.yaml", _set("account_id", 123456789012), ["account_id", "expected a string"]),
    ("account_id_short", "dev.yaml", _set("account_id", "1234"), ["account_id", "12-digit"]),
    ("unknown_source_type", "dev.yaml", _set("source.type", "github"), ["source.type", "'github' is not one of"]),
    ("codecommit_with_connection_arn", "dev.yaml", _set("source.type", "codecommit"), ["source.connection_arn", "unknown key"]),
    ("bad_connection_arn", "dev.yaml", _set("source.connection_arn", "arn:aws:iam::1:role/x"), ["source.connection_arn", "CodeConnections"]),
    ("reserved_tag_key", "dev.yaml", _set("tags", {"aws:owner": "me"}), ["tags.aws:owner", "not starting with aws:"]),
    # CloudFormation's stack Tag: Value of 1 to 256 characters (API Reference, Tag).
    ("empty_tag_value", "dev.yaml", _set("tags", {"owner": ""}), ["tags.owner", "1 to 256"]),
    ("environment_tag_of_another_env", "dev.yaml", _set("tags", {"environment": "prod"}),
     ["tags.environment", "'prod'", "env 'dev'"]),
    ("environment_tag_project_wide", "project.yaml", _set("tags", {"environment": "dev"}), ["tags.environment", "own tag"]),
    ("bad_crawler_schedule", "dev.yaml", _set("kpi.crawler_schedule", "daily"), ["kpi.crawler_schedule", "cron("]),
    ("athena_cutoff_beyond_a_long", "dev.yaml", _set("kpi.athena_bytes_scanned_cutoff", 10**26), ["kpi.athena_bytes_scanned_cutoff", "at most"]),
    ("project_name_uppercase", "project.yaml", _set("project.name", "Churn"), ["project.name", "lower-case"]),
    ("short_name_too_long", "project.yaml", _set("project.short_name", "customerchurn1"), ["project.short_name", "at most 12"]),
    ("model_group_invalid_characters", "project.yaml", _set("sagemaker_pipeline.name", "churn_model"), ["sagemaker_pipeline.name", "lower-case"]),
    (
        "model_group_name_too_long",
        "project.yaml",
        _set("sagemaker_pipeline.name", "churn-" + "x" * 55),
        ["sagemaker_pipeline.name", "model package group name", "AWS allows 63"],
    ),
    ("duplicate_environments", "project.yaml", _set("environments", ["dev", "dev"]), ["environments", "duplicate"]),
    ("environment_without_file", "project.yaml", _set("environments", [*FIXTURE_ENVS, UNKNOWN_ENV]), [f"{UNKNOWN_ENV}.yaml", "file not found"]),
    ("top_level_list", "dev.yaml", lambda data: data.clear(), ["dev.yaml", "empty"]),
    # The ID formats of AWS::Chatbot::SlackChannelConfiguration / MicrosoftTeamsChannelConfiguration.
    ("slack_workspace_lower_case", "dev.yaml", _set("notifications.chat", {"slack": {"workspace_id": "t0abc", "channel_id": "C0ABC"}}),
     ["notifications.chat.slack.workspace_id", "a Slack workspace ID"]),
    ("slack_channel_by_name", "dev.yaml", _set("notifications.chat", {"slack": {"workspace_id": "T0ABC", "channel_id": "#ml-team"}}),
     ["notifications.chat.slack.channel_id", "a Slack channel ID"]),
    ("slack_without_channel", "dev.yaml", _set("notifications.chat", {"slack": {"workspace_id": "T0ABC"}}),
     ["notifications.chat.slack.channel_id", "required key is missing"]),
    ("teams_team_not_a_uuid", "dev.yaml", _set("notifications.chat", {"teams": {
        "team_id": "ml-team", "tenant_id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a", "channel_id": "19%3aabc%40thread.tacv2"}}),
     ["notifications.chat.teams.team_id", "a Microsoft Teams team ID"]),
    ("teams_channel_not_url_encoded", "dev.yaml", _set("notifications.chat", {"teams": {
        "team_id": "8a1e2c3d-4b5f-4a6b-9c7d-1e2f3a4b5c6d", "tenant_id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
        "channel_id": "19:abc.thread.tacv2"}}), ["notifications.chat.teams.channel_id", "URL-encoded"]),
    ("unknown_chat_kind", "dev.yaml", _set("notifications.chat", {"discord": {"channel_id": "1"}}),
     ["notifications.chat.discord", "unknown key"]),
]


@pytest.mark.parametrize("case,file,change,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_config_is_one_line_exit_2_nothing_written(workspace, capsys, case, file, change, fragments):
    cfg, out = workspace
    target = cfg / file
    if case == "top_level_list":
        target.write_text("")
    else:
        _edit(target, change)
    shown = f"{UNKNOWN_ENV}.yaml" if case == "environment_without_file" else file
    _assert_rejected(cfg, out, capsys, shown, *fragments)


def test_codecommit_source_rejects_connection_arn_and_names_it(workspace, capsys):
    cfg, out = workspace
    _edit(cfg / "dev.yaml", _set("source", {"type": "codecommit", "repository": "churn", "branch": "main", "connection_arn": "x"}))
    _assert_rejected(cfg, out, capsys, "dev.yaml", "source.connection_arn", "unknown key", "allowed: branch, repository, type")


def test_s3_source_needs_a_key(workspace, capsys):
    cfg, out = workspace
    _edit(cfg / "dev.yaml", _set("source", {"type": "s3", "bucket": "my-source-bucket"}))
    _assert_rejected(cfg, out, capsys, "dev.yaml", "source.key", "required key is missing")


def test_yaml_syntax_error_names_line_and_column(workspace, capsys):
    cfg, out = workspace
    (cfg / "dev.yaml").write_text("region: eu-west-1\nsource: [unclosed\n")
    _assert_rejected(cfg, out, capsys, "dev.yaml", "invalid YAML", "line ")


def test_duplicate_key_is_an_error_not_a_silent_override(workspace, capsys):
    cfg, out = workspace
    text = (cfg / "dev.yaml").read_text()
    (cfg / "dev.yaml").write_text(text + "\nregion: us-east-1\n")
    _assert_rejected(cfg, out, capsys, "dev.yaml", "duplicate key 'region'")


def test_top_level_must_be_a_mapping(workspace, capsys):
    cfg, out = workspace
    (cfg / "prod.yaml").write_text("- region\n- eu-west-1\n")
    _assert_rejected(cfg, out, capsys, "prod.yaml", "expected a mapping", "a list")


def test_missing_project_file(workspace, capsys):
    cfg, out = workspace
    (cfg / "project.yaml").unlink()
    _assert_rejected(cfg, out, capsys, "project.yaml", "file not found")


def test_unknown_env_option(workspace, capsys):
    cfg, out = workspace
    _assert_rejected(cfg, out, capsys, "project.yaml", f"unknown environment '{UNKNOWN_ENV}'", ", ".join(FIXTURE_ENVS),
                     extra=("--env", UNKNOWN_ENV))


def test_python_object_tags_are_refused(workspace, capsys):
    cfg, out = workspace
    (cfg / "dev.yaml").write_text((cfg / "dev.yaml").read_text() + "\nextra: !!python/object:os.system {}\n")
    _assert_rejected(cfg, out, capsys, "dev.yaml", "invalid YAML")


def test_cli_exit_status_and_stderr_in_a_real_process(workspace):
    cfg, out = workspace
    _edit(cfg / "dev.yaml", _set("region", "mars-1"))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "generate.py"), "--config", str(cfg), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "region" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["sentinel.txt"]


def test_existing_templates_survive_a_bad_config(workspace, capsys):
    """A good render, then a broken config: the files on disk stay byte for byte."""
    cfg, out = workspace
    assert generate.main(["--config", str(cfg), "--out", str(out)]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    _edit(cfg / "prod.yaml", _set("notifications.emails", ["nobody"]))
    assert generate.main(["--config", str(cfg), "--out", str(out)]) == 2
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_known_regions_are_the_regions_of_the_pinned_botocore():
    """infra/config/regions.py is botocore's partition data without the '-global' pseudo-regions; a new botocore adds regions."""
    import json

    import botocore

    from infra.config.regions import KNOWN_REGIONS

    data = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())
    shipped = {region: partition["id"] for partition in data["partitions"] for region in partition["regions"]
               if not region.endswith("-global")}
    assert KNOWN_REGIONS == shipped, "refresh infra/config/regions.py from botocore/data/partitions.json"


def test_a_region_without_a_known_registry_of_the_built_in_images_is_refused(workspace, capsys, monkeypatch):
    """The roles may pull SageMaker's built-in images only from AWS's registry account of their region
    (infra/config/image_registries.py): a region with none known would render roles that can pull nothing."""
    from infra.config.image_registries import BUILT_IN_IMAGE_REGISTRIES

    cfg, out = workspace
    region = yaml.safe_load((cfg / "dev.yaml").read_text())["region"]
    monkeypatch.delitem(BUILT_IN_IMAGE_REGISTRIES, region)
    _assert_rejected(cfg, out, capsys, "dev.yaml", "region", f"{region!r} has no known registry account")


def test_a_real_region_the_sdk_has_no_built_in_images_in_is_refused(workspace, capsys):
    """As the pinned SDK stands: a region of the aws partition its image_uri_config does not list."""
    from infra.config.image_registries import BUILT_IN_IMAGE_REGISTRIES
    from infra.config.regions import KNOWN_REGIONS, SUPPORTED_PARTITIONS

    missing = sorted(r for r, partition in KNOWN_REGIONS.items()
                     if partition in SUPPORTED_PARTITIONS and r not in BUILT_IN_IMAGE_REGISTRIES)
    if not missing:
        pytest.skip("the SDK lists a registry in every region of the supported partitions")
    cfg, out = workspace
    _edit(cfg / "dev.yaml", _set("region", missing[0]))
    _assert_rejected(cfg, out, capsys, "dev.yaml", "region", f"{missing[0]!r} has no known registry account")


def test_addresses_that_would_share_a_subscription_in_one_env_are_refused(workspace, capsys):
    cfg, out = workspace
    first = FIXTURE_ENVS[0]
    _edit(cfg / f"{first}.yaml", _set("notifications.emails", ["ml.team@example.com", "mlteam@example.com"]))
    _assert_rejected(cfg, out, capsys, f"{first}.yaml", "differ only in punctuation or case")


SLACK = {"slack": {"workspace_id": "T0ABC", "channel_id": "C0ABC"}}


def test_one_chat_channel_in_two_envs_that_may_share_an_account_is_refused(workspace, capsys):
    """Chatbot takes one configuration per channel and account: without pinned accounts, or with the same one, refused."""
    cfg, out = workspace
    first, second = FIXTURE_ENVS[:2]
    for env in (first, second):
        _edit(cfg / f"{env}.yaml", _set("notifications.chat", SLACK))
    _assert_rejected(cfg, out, capsys, f"{second}.yaml", "notifications.chat.slack.channel_id", f"{first}.yaml names the same channel")


def test_one_chat_channel_in_two_envs_of_different_accounts_is_two_configurations(workspace):
    cfg, _ = workspace
    first, second = FIXTURE_ENVS[:2]
    for env, account in ((first, "111111111111"), (second, "222222222222")):
        _edit(cfg / f"{env}.yaml", lambda data, account=account: data.update(
            account_id=account, notifications={**data["notifications"], "chat": SLACK},
            source={**data["source"], **({"connection_arn": data["source"]["connection_arn"].replace(
                data["source"]["connection_arn"].split(":")[4], account)} if "connection_arn" in data["source"] else {})}))
    assert config.load(cfg).env(second).chat["slack"]["channel_id"] == "C0ABC"


def test_look_alike_addresses_in_two_envs_are_two_envs_own(workspace):
    """Each env's templates hold its own addresses only: one env's address never blocks another's."""
    cfg, _ = workspace
    first, second = FIXTURE_ENVS[:2]
    _edit(cfg / f"{first}.yaml", _set("notifications.emails", ["ml.team@example.com"]))
    _edit(cfg / f"{second}.yaml", _set("notifications.emails", ["mlteam@example.com"]))
    assert config.load(cfg).env(second).emails == ("mlteam@example.com",)


def test_a_very_long_address_still_gets_a_valid_logical_id():
    from infra.config import subscription_logical_id

    address = "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".example.com"
    logical_id = subscription_logical_id(address)
    assert len(logical_id) <= 255 and logical_id.isalnum()
    assert logical_id != subscription_logical_id(address.replace("a@", "c@"))
