"""The edits an adopting team makes to config/ first: rename the project, add an env, change who is notified, drop an
env, move envs to other regions.

Used two ways: `tests/adopter_check.sh` applies them to a copy of the repository and runs the whole suite
there (`python tests/support/adopter_edit.py SCENARIO` in the copy's root);
`tests/config/test_an_adopted_config_keeps_no_trace_of_the_sample.py` applies them to a temporary copy of config/ and
checks the render keeps none of the sample's names. Each edit changes every
value it touches to one the config did not hold (whatever config/ holds, the sample or an adopter's own), so a
test that hard-codes a name, address, status or env name of config/ fails on it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

# Candidates, each valid for its field (infra/config/schema.py); the first that differs from the config is used.
RENAMES = (
    {"name": "acme-fraud-detect", "short_name": "fraud", "pipeline": "fraud-train", "repository": "acme/fraud-detect-mlops"},
    {"name": "globex-risk-score", "short_name": "risk", "pipeline": "risk-train", "repository": "globex/risk-score-mlops"},
)
ADDED_ENVS = ("staging", "qa", "uat", "preprod")  # "staging" first: the env the README's readers add first
EMAILS = (["ml-team@adopter.example.org", "ml-lead@adopter.example.org"], ["model-desk@adopter.example.org"])  # no RENAMES name in them
STATUSES = (["Rejected", "PendingManualApproval"], ["Approved"])
# S3 takes no LocationConstraint in us-east-1 (CreateBucket refuses it there): the region test code gets wrong first.
US_EAST_1 = "us-east-1"
# One region per env, in order; the first ones config/ does not hold are used (each in infra/config/regions.py,
# with a registry account for SageMaker's built-in images).
OTHER_REGIONS = ("ap-southeast-2", "ca-central-1", "sa-east-1", "eu-north-1", "us-west-2", "ap-northeast-1", "eu-west-2")

SCENARIOS = ("rename", "staging", "notify", "drop-last", "drop-first", "us-east-1", "regions", "all")
NOT_APPLICABLE = 3  # exit status: the scenario does not apply to this config (dropping the only env)


class NotApplicable(Exception):
    pass


def _read(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _write(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def _first_unlike(candidates, *current):
    return next(c for c in candidates if not any(v in current for v in (c.values() if isinstance(c, dict) else [c])))


def rename(config_dir: Path) -> None:
    """New project, short and SageMaker pipeline names, project tag, and each env's own repository."""
    path = config_dir / "project.yaml"
    data = _read(path)
    new = _first_unlike(RENAMES, data["project"]["name"], data["project"]["short_name"], data["sagemaker_pipeline"]["name"])
    data["project"]["name"] = new["name"]
    data["project"]["short_name"] = new["short_name"]
    data["project"]["description"] = f"{new['name']}: model build, registry and approval notifications"
    data["sagemaker_pipeline"]["name"] = new["pipeline"]
    if "project" in data.get("tags", {}):
        data["tags"]["project"] = new["name"]
    _write(path, data)
    for env in data["environments"]:
        env_path = config_dir / f"{env}.yaml"
        env_data = _read(env_path)
        if "repository" in env_data.get("source", {}):
            env_data["source"]["repository"] = new["repository"] if "/" in env_data["source"]["repository"] else new["name"]
            _write(env_path, env_data)


def _clashes(a: str, b: str) -> bool:
    """config refuses env names of which one, with a hyphen, starts another (infra/config/loader.py)."""
    return a == b or b.startswith(f"{a}-") or a.startswith(f"{b}-")


def add_env(config_dir: Path) -> str:
    """A copy of the first env on its own branch, listed second (not last: order must not matter). Returns its name."""
    path = config_dir / "project.yaml"
    data = _read(path)
    envs = data["environments"]
    name = next(n for n in ADDED_ENVS if not any(_clashes(n, e) for e in envs))
    env = _read(config_dir / f"{envs[0]}.yaml")
    if "branch" in env["source"]:
        env["source"]["branch"] = name
    else:  # an S3 source: its own object
        env["source"]["key"] = f"{name}/source.zip"
    _write(config_dir / f"{name}.yaml", env)
    envs.insert(1, name)
    _write(path, data)
    return name


def change_notifications(config_dir: Path) -> None:
    """The first env notifies other people, on other statuses."""
    first = _read(config_dir / "project.yaml")["environments"][0]
    path = config_dir / f"{first}.yaml"
    env = _read(path)
    current = env.get("notifications", {})
    emails = next(e for e in EMAILS if e != current.get("emails"))
    statuses = next(s for s in STATUSES if s != current.get("statuses"))
    env["notifications"] = {**current, "emails": emails, "statuses": statuses}
    _write(path, env)


def _regions(config_dir: Path) -> set[str]:
    return {_read(config_dir / f"{e}.yaml")["region"] for e in _read(config_dir / "project.yaml")["environments"]}


def move_regions(config_dir: Path, candidates, avoid=frozenset()) -> None:
    """Each env, in order, to the next candidate region no env of the config is in (nor `avoid`); envs past the
    candidates stay. The connection's ARN moves with it (a connection lives in the pipeline's region)."""
    envs = _read(config_dir / "project.yaml")["environments"]
    held = _regions(config_dir) | set(avoid)
    for env, region in zip(envs, [r for r in candidates if r not in held]):
        path = config_dir / f"{env}.yaml"
        data = _read(path)
        old, data["region"] = data["region"], region
        arn = data["source"].get("connection_arn")
        if arn:
            data["source"]["connection_arn"] = arn.replace(f":{old}:", f":{region}:", 1)
        _write(path, data)


def every_env_in_us_east_1(config_dir: Path) -> None:
    envs = _read(config_dir / "project.yaml")["environments"]
    if US_EAST_1 in _regions(config_dir):
        raise NotApplicable(f"an env is in {US_EAST_1} already: make test covers it")
    move_regions(config_dir, [US_EAST_1] * len(envs))


def drop_env(config_dir: Path, index: int) -> None:
    path = config_dir / "project.yaml"
    data = _read(path)
    if len(data["environments"]) < 2:
        raise NotApplicable("only one env: nothing to drop")
    gone = data["environments"].pop(index)
    (config_dir / f"{gone}.yaml").unlink()
    _write(path, data)


def apply(config_dir: Path | str, scenario: str) -> None:
    config_dir = Path(config_dir)
    if scenario == "rename":
        rename(config_dir)
    elif scenario == "staging":
        add_env(config_dir)
    elif scenario == "notify":
        change_notifications(config_dir)
    elif scenario == "drop-last":
        drop_env(config_dir, -1)
    elif scenario == "drop-first":
        drop_env(config_dir, 0)
    elif scenario == "us-east-1":
        every_env_in_us_east_1(config_dir)
    elif scenario == "regions":
        move_regions(config_dir, OTHER_REGIONS)
    elif scenario == "all":
        envs = len(_read(config_dir / "project.yaml")["environments"])
        regions = _regions(config_dir)  # the dropped env's too: no region of the original config is kept
        rename(config_dir)
        add_env(config_dir)  # listed second, so the last env is one config/ had; its name is none config/ had
        if envs > 1:  # a one-env config keeps its env
            drop_env(config_dir, -1)
        change_notifications(config_dir)
        move_regions(config_dir, (US_EAST_1, *OTHER_REGIONS), regions)  # the first env to us-east-1, unless one was there
    else:
        raise SystemExit(f"adopter_edit: unknown scenario '{scenario}' (known: {', '.join(SCENARIOS)})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: python tests/support/adopter_edit.py SCENARIO  ({', '.join(SCENARIOS)})")
    try:
        apply(Path("config"), sys.argv[1])
    except NotApplicable as exc:
        print(f"adopter_edit: {sys.argv[1]}: not applicable: {exc}", file=sys.stderr)
        raise SystemExit(NOT_APPLICABLE)
