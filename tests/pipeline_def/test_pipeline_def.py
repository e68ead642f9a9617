"""The rendered SageMaker pipeline definition: steps, parameters, names, the evaluation contract."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from functools import reduce

import pytest

from pipeline_def import cli, sample_data
from pipeline_def.steps import evaluate, package, preprocess
from infra.config.names import OFFLINE_ACCOUNT
from tests.conftest import CONFIGURED_ENVS, ROOT, names_for
from tests.support.cfn import load, strings
from tests.support.pipeline_isolation import isolation_problems

FIRST_ENV = CONFIGURED_ENVS[0]  # any configured env will do; the first always exists

_RENDERS: dict[str, dict] = {}


def _account(env) -> str:
    """The account the offline render names: the env's, else the placeholder (pipeline_def/cli.py)."""
    return env.account_id or OFFLINE_ACCOUNT


@pytest.fixture
def render(project, no_network):
    """env -> parsed definition, rendered in-process under the network guard (once per env per session)."""

    def _render(env: str) -> dict:
        if env not in _RENDERS:
            _RENDERS[env] = json.loads(cli.render(names_for(project, env)))
        return _RENDERS[env]

    return _render


def _step(definition: dict, name: str) -> dict:
    from pipeline_def.local import find_step

    return find_step(definition, name)


def _condition(definition: dict) -> dict:
    return _step(definition, "CheckAucThreshold")["Arguments"]


def test_steps_run_preprocess_train_evaluate_then_condition(render):
    d = render(FIRST_ENV)
    assert [(s["Name"], s["Type"]) for s in d["Steps"]] == [
        ("PreprocessData", "Processing"),
        ("TrainModel", "Training"),
        ("EvaluateModel", "Processing"),
        ("CheckAucThreshold", "Condition"),
    ]
    # The names the README and docs use: no SDK-added suffixes.
    assert [(s["Name"], s["Type"]) for s in _condition(d)["IfSteps"]] == [("PackageModel", "Processing"), ("RegisterModel", "RegisterModel")]
    assert [(s["Name"], s["Type"]) for s in _condition(d)["ElseSteps"]] == [("FailBelowThreshold", "Fail")]


@pytest.mark.every_env
def test_every_job_runs_with_network_isolation(render, env):
    """Job code (a push's) reads the training data: no container of the pipeline reaches a network (issue 25, P4).
    The execution role starts no other job (tests/iam/test_jobs_and_models_are_network_isolated.py)."""
    assert not isolation_problems(render(env))


def test_the_isolation_check_catches_a_job_with_a_network_and_an_unknown_step(render):
    import copy

    d = copy.deepcopy(render(FIRST_ENV))
    _step(d, "PackageModel")["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"] = False
    del _step(d, "TrainModel")["Arguments"]["EnableNetworkIsolation"]
    _condition(d)["ElseSteps"].append({"Name": "Transform", "Type": "Transform", "Arguments": {}})
    assert isolation_problems(d) == ["TrainModel: a Training job without network isolation",
                                     "PackageModel: a Processing job without network isolation",
                                     "Transform: a Transform step; this check knows no way to hold it to isolation"]


@pytest.mark.every_env
def test_parameters_default_to_the_env_config(render, project, env):
    e = project.env(env)
    n = names_for(project, env)
    defaults = {p["Name"]: (p["Type"], p["DefaultValue"]) for p in render(env)["Parameters"]}
    assert defaults == {
        "ProcessingInstanceType": ("String", e.processing_instance_type),
        "ProcessingInstanceCount": ("Integer", 1),
        "TrainingInstanceType": ("String", e.training_instance_type),
        "TrainingInstanceCount": ("Integer", 1),
        "InputDataUrl": ("String", f"s3://{n.artifact_bucket_prefix}-{_account(e)}-{e.region}/{n.input_prefix}"),
        "TargetColumn": ("String", sample_data.TARGET_COLUMN),
        "PositiveValues": ("String", ",".join(sample_data.POSITIVE_VALUES)),
        "DropColumns": ("String", ",".join(sample_data.DROP_COLUMNS)),
        "FilePattern": ("String", "*.csv"),
        "ModelApprovalThreshold": ("Float", e.model_approval_threshold),
    }


@pytest.mark.every_env
def test_model_registers_into_the_group_the_notifications_watch(render, rendered, project, env):
    n = names_for(project, env)
    register = _step(render(env), "RegisterModel")["Arguments"]
    assert register["ModelPackageGroupName"] == n.model_package_group
    notifications = load(rendered[f"{env}/notifications.yaml"])
    (rule,) = [r for r in notifications["Resources"].values() if r["Type"] == "AWS::Events::Rule"
               and r["Properties"]["EventPattern"]["detail-type"] == ["SageMaker Model Package State Change"]]
    assert rule["Properties"]["EventPattern"]["detail"]["ModelPackageGroupName"] == [register["ModelPackageGroupName"]]
    assert register["ModelApprovalStatus"] == "PendingManualApproval"  # fixed: no parameter can register it Approved


def test_condition_reads_the_auc_path_evaluate_py_writes(render):
    d = render(FIRST_ENV)
    left = _condition(d)["Conditions"][0]
    assert left["Type"] == "GreaterThanOrEqualTo"
    assert left["RightValue"] == {"Get": "Parameters.ModelApprovalThreshold"}
    json_get = left["LeftValue"]["Std:JsonGet"]
    assert json_get["PropertyFile"] == {"Get": "Steps.EvaluateModel.PropertyFiles.EvaluationReport"}
    # The path resolves in a report evaluate.py really writes.
    doc = evaluate.report([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8])
    assert reduce(lambda node, key: node[key], json_get["Path"].split("."), doc) == 1.0
    files = _step(d, "EvaluateModel")["PropertyFiles"]
    assert files == [{"FilePath": evaluate.REPORT_FILE, "OutputName": "evaluation", "PropertyFileName": "EvaluationReport"}]


def test_evaluation_report_lands_under_the_evaluation_prefix_per_execution(render, project):
    n = names_for(project, FIRST_ENV)
    bucket_uri = f"s3://{n.artifact_bucket_prefix}-{_account(n.env)}-{n.env.region}/"
    out = _step(render(FIRST_ENV), "EvaluateModel")["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert out[0]["OutputName"] == "evaluation"
    assert out[0]["S3Output"]["S3Uri"] == {"Std:Join": {"On": "", "Values": [bucket_uri + n.evaluation_prefix, {"Get": "Execution.PipelineExecutionId"}]}}
    stats = _step(render(FIRST_ENV), "RegisterModel")["Arguments"]["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert stats == {
        "ContentType": "application/json",
        "S3Uri": {"Std:Join": {"On": "", "Values": [bucket_uri + n.evaluation_prefix, {"Get": "Execution.PipelineExecutionId"}, "/evaluation.json"]}},
    }




@pytest.mark.every_env
def test_every_processing_and_training_job_encrypts_its_outputs_with_the_artifact_key(render, project, env):
    """By the key's ARN (the form the bucket policy compares), never S3's own key or none."""
    from infra.config.names import OFFLINE_ACCOUNT
    from pipeline_def.target import offline_key_arn
    from tests.demo.pipeline_run import output_key, steps

    n = names_for(project, env)
    expected = offline_key_arn(n, n.env.account_id or OFFLINE_ACCOUNT, "aws")
    jobs = {s["Name"]: output_key(s) for s in steps(render(env)) if s["Type"] in ("Processing", "Training")}
    assert jobs and set(jobs.values()) == {expected}, jobs


@pytest.mark.every_env
def test_every_s3_location_is_under_the_sagemaker_prefix_of_the_artifact_bucket(render, project, env):
    n = names_for(project, env)
    allowed = f"s3://{n.artifact_bucket_prefix}-{_account(n.env)}-{n.env.region}/{n.sagemaker_prefix}"
    s3 = [s for s in strings(render(env)) if s.startswith("s3://")]
    assert s3 and all(s.startswith(allowed) for s in s3), s3


def test_training_uses_builtin_xgboost_binary_logistic_with_early_stopping(render, project):
    n = names_for(project, FIRST_ENV)
    train = _step(render(FIRST_ENV), "TrainModel")["Arguments"]
    assert "sagemaker-xgboost:3.0-5" in train["AlgorithmSpecification"]["TrainingImage"]
    assert train["HyperParameters"]["objective"] == "binary:logistic"
    assert int(train["HyperParameters"]["early_stopping_rounds"]) > 0
    assert train["RoleArn"] == f"arn:aws:iam::{_account(n.env)}:role{n.role_path}{n.sagemaker_execution_role}"
    channels = [c["ChannelName"] for c in train["InputDataConfig"]]
    assert channels == ["train", "validation"]  # early stopping watches the last one


def test_images_are_current_and_no_end_of_life_python(render):
    images = [s for s in strings(render(FIRST_ENV)) if ".dkr.ecr." in s]
    assert images and all(("sagemaker-scikit-learn:1.4-2" in i or "sagemaker-xgboost:3.0-5" in i) for i in images), images


def test_preprocess_gets_the_dataset_parameters_as_arguments(render):
    app = _step(render(FIRST_ENV), "PreprocessData")["Arguments"]["AppSpecification"]
    args = [a["Std:Join"]["Values"] for a in app["ContainerArguments"]]
    assert args == [[f"--{flag}=", {"Get": f"Parameters.{param}"}] for flag, param in (
        ("target-column", "TargetColumn"), ("positive-values", "PositiveValues"), ("drop-columns", "DropColumns"),
        ("file-pattern", "FilePattern"))]


def test_job_paths_match_the_scripts_constants(render):
    """Where the definition mounts inputs and outputs is where each script looks by default."""

    def local_paths(step, kind):
        spec = _step(render(FIRST_ENV), step)["Arguments"]
        if kind == "in":
            return {i["InputName"]: i["S3Input"]["LocalPath"] for i in spec["ProcessingInputs"]}
        return {o["OutputName"]: o["S3Output"]["LocalPath"] for o in spec["ProcessingOutputConfig"]["Outputs"]}

    pre_in = local_paths("PreprocessData", "in")
    assert pre_in["data"] == preprocess.INPUT_DIR and pre_in["lib"] == preprocess.LIB_DIR
    assert set(local_paths("PreprocessData", "out").values()) == {f"{preprocess.OUTPUT_DIR}/{s}" for s in (*preprocess.SPLITS, "contract")}
    ev = local_paths("EvaluateModel", "in")
    assert (ev["model"], ev["test"], ev["contract"], ev["lib"]) == (evaluate.MODEL_DIR, evaluate.TEST_DIR, evaluate.CONTRACT_DIR, evaluate.LIB_DIR)
    assert local_paths("EvaluateModel", "out") == {"evaluation": evaluate.OUTPUT_DIR}
    pk = local_paths("PackageModel", "in")
    assert (pk["model"], pk["contract"], pk["lib"]) == (package.MODEL_DIR, package.CONTRACT_DIR, package.LIB_DIR)
    assert local_paths("PackageModel", "out") == {"package": package.OUTPUT_DIR}


def test_registered_model_is_the_package_served_by_its_own_code(render):
    spec = _step(render(FIRST_ENV), "RegisterModel")["Arguments"]["InferenceSpecification"]
    container = spec["Containers"][0]
    # The environment tests/serving/test_serving_container.py starts the image's serving library with.
    assert container["Environment"] == package.SERVING_ENVIRONMENT
    assert container["ModelDataUrl"]["Std:Join"]["Values"] == [
        {"Get": "Steps.PackageModel.ProcessingOutputConfig.Outputs['package'].S3Output.S3Uri"}, "/model.tar.gz"]
    assert "text/csv" in spec["SupportedContentTypes"] and "application/json" in spec["SupportedContentTypes"]


def test_step_scripts_are_addressed_by_content(render, project):
    from pipeline_def.pipeline import library_prefix, script_key

    n = names_for(project, FIRST_ENV)
    code = [i["S3Input"]["S3Uri"] for s in ("PreprocessData", "EvaluateModel", "PackageModel")
            for i in _step(render(FIRST_ENV), s)["Arguments"]["ProcessingInputs"] if i["InputName"] == "code"]
    assert [c.split("/", 3)[3] for c in code] == [script_key(n, s) for s in ("preprocess.py", "evaluate.py", "package.py")]
    libs = {i["S3Input"]["S3Uri"] for s in ("PreprocessData", "EvaluateModel", "PackageModel")
            for i in _step(render(FIRST_ENV), s)["Arguments"]["ProcessingInputs"] if i["InputName"] == "lib"}
    assert [lib.split("/", 3)[3] for lib in libs] == [library_prefix(n)]


def test_render_is_byte_stable(project, no_network):
    n = names_for(project, FIRST_ENV)
    assert cli.render(n) == cli.render(n)


_GUARD = textwrap.dedent(
    """
    import socket
    _real = socket.socket.connect
    def _guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if sock.family == socket.AF_UNIX or str(host).startswith(("127.", "::1", "localhost")):
            return _real(sock, address)
        raise SystemExit(f"network attempt: {address!r}")
    socket.socket.connect = _guarded
    """
)


def test_cli_render_works_with_no_credentials_and_no_network(tmp_path, render):
    (tmp_path / "sitecustomize.py").write_text(_GUARD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "AWS_CONFIG_FILE": str(tmp_path / "none"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")})
    env.pop("ENV_NAME", None)
    proc = subprocess.run([sys.executable, "-m", "pipeline_def", "render", "--env", FIRST_ENV], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == render(FIRST_ENV)
    assert proc.stderr == ""


def test_render_reports_a_config_error_in_one_line(tmp_path, capsys):
    (tmp_path / "project.yaml").write_text("project: [unclosed\n")
    assert cli.main(["render", "--env", FIRST_ENV, "--config-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "project.yaml" in err and "invalid YAML" in err


@pytest.fixture
def first_env(project):
    return next(iter(project.environments))


def test_an_unexpected_error_is_one_line_on_stderr_and_nothing_on_stdout(monkeypatch, capsys, first_env):
    """Whatever fails inside the SDK, a person reads one line, not a traceback."""
    def broken(names):
        raise KeyError("eu-west-9")

    monkeypatch.setattr(cli, "render", broken)
    assert cli.main(["render", "--env", first_env]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: KeyError: 'eu-west-9'\n"


def test_a_region_that_does_not_exist_is_a_one_line_config_error(tmp_path, capsys, first_env):
    import shutil

    shutil.copytree(ROOT / "config", tmp_path / "config")
    env_file = tmp_path / "config" / f"{first_env}.yaml"
    env_file.write_text(re.sub(r"(?m)^region: .*$", "region: eu-west-9", env_file.read_text()))
    assert cli.main(["render", "--env", first_env, "--config-dir", str(tmp_path / "config")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "region: 'eu-west-9' is not an AWS region" in captured.err
