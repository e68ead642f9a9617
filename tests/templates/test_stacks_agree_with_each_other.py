"""Cross-stack consistency, for every environment: each value one piece expects of another is the same.

The AWS sample's rule listened on `…-dev-models` while its pipeline registered into `…-stable-models`;
these tests catch that class of bug. Every template is evaluated for the env (tests/support/resolve.py) and
every failure names both places and both values.
"""
from __future__ import annotations

import json
import re

import pytest

from infra.stacks import of_env
from infra.output import lambda_package
from infra.config import names as names_mod
from infra.stacks import pipeline
from infra.config.names import PIPELINE_STACKS
from infra.stacks import BUILDERS
from tests.support.cfn import load
from tests.conftest import ROOT
from tests.support.resolve import Stack, Unresolved, resolve_all

ORDER = list(BUILDERS)


def same(what: str, **places) -> None:
    """Assert every place holds the same value; on failure name each place with its value."""
    values = {json.dumps(v, sort_keys=True, default=str) for v in places.values()}
    assert len(values) == 1, f"{what} differs:\n" + "\n".join(f"  {place}: {value!r}" for place, value in places.items())


@pytest.fixture(scope="module")
def stacks_by_env(rendered, project) -> dict[str, dict[str, Stack]]:
    return {env: resolve_all(rendered, project, env, ORDER) for env in project.environments}


def _all_steps(definition: dict) -> list[dict]:
    """Every step of a SageMaker pipeline definition, those inside condition branches included."""
    out = []
    for step in definition["Steps"]:
        out.append(step)
        for branch in ("IfSteps", "ElseSteps"):
            out += step.get("Arguments", {}).get(branch, [])
    return out


def _one(stack: Stack, rtype: str) -> dict:
    (props,) = [r["Properties"] for r in stack.resources(rtype).values()]
    return props


def _actions(stacks) -> dict[str, dict]:
    pipe = _one(stacks["pipeline"], "AWS::CodePipeline::Pipeline")
    return {a["Name"]: {**a, "Stage": s["Name"]} for s in pipe["Stages"] for a in s["Actions"]}


def _deploy_actions(stacks) -> list[dict]:
    return [a for a in _actions(stacks).values() if a["ActionTypeId"]["Provider"] == "CloudFormation"]


def _build_env(stacks, logical_id: str) -> dict[str, str]:
    project = stacks["pipeline"].resources("AWS::CodeBuild::Project")[logical_id]["Properties"]
    return {v["Name"]: v["Value"] for v in project["Environment"].get("EnvironmentVariables", [])}


# -- exports, imports, parameters -----------------------------------------------------------------
def test_every_import_has_an_export_in_a_stack_deployed_earlier(rendered, project):
    for env in project.environments:
        try:
            resolve_all(rendered, project, env, ORDER)
        except Unresolved as exc:
            pytest.fail(f"env {env}: {exc} (deployment order: {', '.join(ORDER)})")


def test_export_names_are_unique_across_stacks(stacks_by_env):
    for env, stacks in stacks_by_env.items():
        seen: dict[str, str] = {}
        for key, stack in stacks.items():
            for name in stack.exports():
                assert name not in seen, f"env {env}: export {name} is made by both {seen[name]}.yaml and {key}.yaml"
                seen[name] = key


def test_every_parameter_has_a_value_and_no_file_holds_an_undeclared_key(rendered, project):
    """Only run-time parameters remain (tests/templates/test_templates_declare_the_parameters_they_use.py); each
    still needs its placeholder, or a deploy of the committed files (make deploy) has no value to send."""
    for env in project.environments:
        for stack in of_env(project.env(env)):
            declared = load(rendered[f"{env}/{stack}.yaml"]).get("Parameters", {})
            given = json.loads(rendered[f"{env}/{stack}.json"])["Parameters"]
            missing = [k for k, spec in declared.items() if k not in given and "Default" not in spec]
            extra = [k for k in given if k not in declared]
            assert not missing, f"{env}/{stack}.yaml declares {missing} but templates/{env}/{stack}.json gives no value"
            assert not extra, f"templates/{env}/{stack}.json holds {extra}, which {env}/{stack}.yaml does not declare"


def test_pipeline_deploys_stacks_in_the_order_their_imports_need(stacks_by_env, project):
    for env, stacks in stacks_by_env.items():
        n_stacks = [a["Configuration"]["StackName"] for a in _deploy_actions(stacks)]
        # The deployment stack only where the env serves models (config `deployment`: its stage exists only there).
        serves = project.env(env).deployment is not None
        expected = [stacks[key].name for key in ORDER if key in PIPELINE_STACKS and (key != "deployment" or serves)]
        same(f"env {env}: deployment order", **{"pipeline.yaml stages": n_stacks, "infra/stacks/__init__.py BUILDERS": expected})


def test_the_pipeline_never_deploys_the_deploy_roles(stacks_by_env):
    for env, stacks in stacks_by_env.items():
        deployed = {a["Configuration"]["StackName"] for a in _deploy_actions(stacks)}
        assert stacks["deploy-roles"].name not in deployed, f"env {env}: the pipeline may not change its own deploy roles"


# -- stack names and artifact paths ---------------------------------------------------------------
def test_self_update_targets_the_stack_the_pipeline_template_is_deployed_as(rendered, project, stacks_by_env):
    """Also when a person deploys pipeline.yaml under a name of their own (`aws cloudformation deploy --stack-name`)."""
    for env, stacks in stacks_by_env.items():
        n = names_mod.for_env(project, env)
        exports = {name: value for key in ORDER[:ORDER.index("pipeline")] if key in stacks  # serving-iam: where it serves
                   for name, value in stacks[key].exports().items()}
        for stack_name in (n.stack("pipeline"), f"{n.stack('pipeline')}-by-hand"):
            deployed = Stack.from_rendered(rendered, "pipeline", project.env(env), stack_name, exports)
            (action,) = [a for a in _deploy_actions({"pipeline": deployed}) if a["Stage"] == "UpdatePipeline"]
            same(
                f"env {env}: self-update stack",
                **{"pipeline.yaml UpdatePipeline StackName": action["Configuration"]["StackName"],
                   "the stack the pipeline template is deployed as": stack_name},
            )


def test_every_deploy_action_reads_files_the_synth_build_writes(stacks_by_env, rendered, project):
    for env, stacks in stacks_by_env.items():
        serves = project.env(env).deployment is not None
        synth_files = {f.replace("${Environment}", env) for f in pipeline.synth_artifact_files(serves)}
        for action in _deploy_actions(stacks):
            for key in ("TemplatePath", "TemplateConfiguration"):
                artifact, path = action["Configuration"][key].split("::")
                assert artifact == "SynthOutput", f"env {env}: {action['Name']} {key} reads {artifact}, not the synth output"
                assert path in synth_files, f"env {env}: {action['Name']} reads {path}; the synth build's artifact lists {sorted(synth_files)}"
                assert path.removeprefix("templates/") in rendered, f"env {env}: {action['Name']} reads {path}, which generate.py does not write"


# -- the model package group ----------------------------------------------------------------------
def test_one_model_package_group_everywhere(stacks_by_env, project, definitions):
    for env, stacks in stacks_by_env.items():
        rules = {
            key: r["Properties"]["EventPattern"]["detail"]["ModelPackageGroupName"]
            for key in ("notifications", "kpi")
            for r in stacks[key].resources("AWS::Events::Rule").values()
            if "ModelPackageGroupName" in r["Properties"]["EventPattern"]["detail"]
        }
        (registered,) = [s["Arguments"]["ModelPackageGroupName"] for s in _all_steps(definitions[env]) if s["Type"] == "RegisterModel"]
        same(
            f"env {env}: model package group",
            **{
                "notifications.yaml rule detail.ModelPackageGroupName": rules["notifications"][0],
                "kpi.yaml metrics rule detail.ModelPackageGroupName": rules["kpi"][0],
                "pipeline.yaml ModelPackageGroup resource": _one(stacks["pipeline"], "AWS::SageMaker::ModelPackageGroup")["ModelPackageGroupName"],
                "pipeline.yaml upsert build MODEL_PACKAGE_GROUP_NAME": _build_env(stacks, "UpsertProject")["MODEL_PACKAGE_GROUP_NAME"],
                "pipeline_def RegisterModel step": registered,
                "infra/config/names.py": names_mod.for_env(project, env).model_package_group,
            },
        )


def test_notifier_listens_only_to_the_statuses_its_env_configures(stacks_by_env, project):
    for env, stacks in stacks_by_env.items():
        pattern = stacks["notifications"].resources("AWS::Events::Rule")["ModelPackageStateRule"]["Properties"]["EventPattern"]
        same(
            f"env {env}: notifying statuses",
            **{"notifications.yaml rule": sorted(pattern["detail"]["ModelApprovalStatus"]),
               f"config/{env}.yaml notifications.statuses": sorted(project.env(env).statuses)},
        )


# -- roles and names handed to the upsert build ----------------------------------------------------
def test_upsert_build_gets_the_roles_and_names_the_other_stacks_make(stacks_by_env, project, definitions):
    for env, stacks in stacks_by_env.items():
        build = _build_env(stacks, "UpsertProject")
        iam_exports = stacks["iam"].exports()
        pipe_exports = stacks["pipeline"].exports()
        n = names_mod.for_env(project, env)
        same(f"env {env}: SageMaker execution role",
             **{"upsert build SAGEMAKER_ROLE_ARN": build["SAGEMAKER_ROLE_ARN"],
                "iam.yaml SageMakerExecutionRole": iam_exports[f"{n.stack('iam')}-SageMakerExecutionRoleArn"],
                "pipeline_def processing job role": definitions[env]["Steps"][0]["Arguments"]["RoleArn"]})
        same(f"env {env}: artifact bucket",
             **{"upsert build ARTIFACT_BUCKET": build["ARTIFACT_BUCKET"],
                "synth build ARTIFACT_BUCKET": _build_env(stacks, "SynthProject")["ARTIFACT_BUCKET"],
                "pipeline.yaml ArtifactBucket": pipe_exports[f"{n.stack('pipeline')}-ArtifactBucketName"]})
        same(f"env {env}: artifact key",
             **{"upsert build ARTIFACT_KEY_ARN": build["ARTIFACT_KEY_ARN"],
                "pipeline.yaml ArtifactKeyArn": pipe_exports[f"{n.stack('pipeline')}-ArtifactKeyArn"],
                "pipeline.yaml ArtifactBucket default key": stacks["pipeline"].resources("AWS::S3::Bucket")["ArtifactBucket"]["Properties"][
                    "BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]})
        same(f"env {env}: SageMaker pipeline name",
             **{"upsert build SAGEMAKER_PIPELINE_NAME": build["SAGEMAKER_PIPELINE_NAME"], "infra/config/names.py": n.sagemaker_pipeline})
        same(f"env {env}: env name", **{"upsert build ENV_NAME": build["ENV_NAME"], "config": env})


def test_each_build_runs_as_its_own_iam_role(stacks_by_env, project):
    for env, stacks in stacks_by_env.items():
        n = names_mod.for_env(project, env)
        exports = stacks["iam"].exports()
        for project_id, role in (("SynthProject", "SynthBuildRole"), ("UpsertProject", "UpsertBuildRole")):
            same(f"env {env}: {project_id} role",
                 **{f"pipeline.yaml {project_id} ServiceRole": stacks["pipeline"].resources("AWS::CodeBuild::Project")[project_id]["Properties"]["ServiceRole"],
                    f"iam.yaml {role}": exports[f"{n.stack('iam')}-{role}Arn"]})


# -- Lambda code ----------------------------------------------------------------------------------
@pytest.mark.parametrize("stack,function,folder", [("notifications", "NotifierFunction", "get_model_metadata"),
                                                   ("kpi", "MetricsFunction", "registry_metrics")])
def test_lambda_code_is_the_zip_the_synth_build_uploads(stacks_by_env, project, stack, function, folder):
    for env, stacks in stacks_by_env.items():
        code = stacks[stack].resources("AWS::Lambda::Function")[function]["Properties"]["Code"]
        n = names_mod.for_env(project, env)
        same(f"env {env}: {function} code key",
             **{f"{stack}.yaml {function} S3Key": code["S3Key"],
                "infra/lambda_package.code_key (what synth uploads)": lambda_package.code_key(ROOT / "lambda_src" / folder)})
        same(f"env {env}: {function} code bucket",
             **{f"{stack}.yaml {function} S3Bucket": code["S3Bucket"],
                "pipeline.yaml ArtifactBucket": stacks["pipeline"].exports()[f"{n.stack('pipeline')}-ArtifactBucketName"]})
        assert code["S3Key"].startswith("lambda/")
    synth = pipeline.synth_buildspec(serves_models=True)
    assert "python -m infra.lambda_package build/lambda" in synth and "s3://$ARTIFACT_BUCKET/lambda/" in synth


# -- S3 prefixes ----------------------------------------------------------------------------------
def test_crawler_reads_where_the_pipeline_writes_evaluation_reports(stacks_by_env, project, definitions):
    for env, stacks in stacks_by_env.items():
        n = names_mod.for_env(project, env)
        bucket = stacks["pipeline"].exports()[f"{n.stack('pipeline')}-ArtifactBucketName"]
        (target,) = _one(stacks["kpi"], "AWS::Glue::Crawler")["Targets"]["S3Targets"]
        (evaluate,) = [s for s in definitions[env]["Steps"] if s["Name"] == "EvaluateModel"]
        (output,) = evaluate["Arguments"]["ProcessingOutputConfig"]["Outputs"]
        destination = output["S3Output"]["S3Uri"]
        written = destination["Std:Join"]["Values"][0] if isinstance(destination, dict) else destination
        same(f"env {env}: evaluation reports prefix",
             **{"kpi.yaml crawler S3 target": target["Path"],
                "pipeline_def EvaluateModel output (prefix)": written if written.endswith("/") else written + "/",
                "infra/config/names.py": f"s3://{bucket}/{n.evaluation_prefix}"})


def test_readers_of_evaluation_reports_may_read_that_prefix(stacks_by_env, project):
    for env, stacks in stacks_by_env.items():
        n = names_mod.for_env(project, env)
        bucket = stacks["pipeline"].exports()[f"{n.stack('pipeline')}-ArtifactBucketName"]
        wanted = f"arn:aws:s3:::{bucket}/{n.evaluation_prefix}"
        for role in ("NotifierRole", "MetricsFunctionRole", "CrawlerRole"):
            statements = stacks["iam"].resources("AWS::IAM::Role")[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            readable = [r for s in statements if "s3:GetObject" in s["Action"] for r in s["Resource"]]
            assert any(wanted.startswith(r.rstrip("*")) for r in readable), f"env {env}: iam.yaml {role} reads {readable}, not {wanted}*"


def test_the_sagemaker_role_may_write_the_evaluation_prefix(stacks_by_env, project):
    for env, stacks in stacks_by_env.items():
        n = names_mod.for_env(project, env)
        bucket = stacks["pipeline"].exports()[f"{n.stack('pipeline')}-ArtifactBucketName"]
        role = stacks["iam"].resources("AWS::IAM::Role")["SageMakerExecutionRole"]["Properties"]
        writable = [r for s in role["Policies"][0]["PolicyDocument"]["Statement"] if "s3:PutObject" in s["Action"] for r in s["Resource"]]
        assert any(f"arn:aws:s3:::{bucket}/{n.evaluation_prefix}".startswith(r.rstrip("*")) for r in writable), writable


def test_a_drifted_name_is_reported_with_both_places():
    """The helper these tests share names both places when two values differ."""
    with pytest.raises(AssertionError, match=re.escape("notifications.yaml rule: 'a-dev-models'")) as err:
        same("model package group", **{"notifications.yaml rule": "a-dev-models", "pipeline_def": "a-stable-models"})
    assert "pipeline_def: 'a-stable-models'" in str(err.value)


@pytest.mark.every_env
def test_each_deploy_action_grants_exactly_the_capabilities_its_template_needs(rendered, project, env):
    for stack in of_env(project.env(env)):
        template = load(rendered[f"{env}/{stack}.yaml"])
        resources = [r for r in template.get("Resources", {}).values() if isinstance(r, dict)]
        needed = []
        if any(r["Type"].startswith("AWS::IAM::") and any(k in r.get("Properties", {}) for k in ("RoleName", "PolicyName", "ManagedPolicyName"))
               for r in resources):
            needed.append("CAPABILITY_NAMED_IAM")
        if "Transform" in template:  # macros expand at deploy time (tests/templates/test_transform_limits.py)
            needed.append("CAPABILITY_AUTO_EXPAND")
        same(f"{env}/{stack} capabilities", **{"infra/stacks/pipeline.py CAPABILITIES": sorted(pipeline.CAPABILITIES[stack]),
                                                f"what {env}/{stack}.yaml needs": sorted(needed)})


def test_the_rules_and_both_handlers_agree_on_the_event_they_handle():
    from infra.parts import model_package_events
    from lambda_src.get_model_metadata import event as notifier_event
    from lambda_src.registry_metrics import events as metrics_events

    same("event source", **{"infra/parts/model_package_events.py": model_package_events.SOURCE,
                            "get_model_metadata/event.py": notifier_event.SOURCE, "registry_metrics/events.py": metrics_events.SOURCE})
    same("event detail-type", **{"infra/parts/model_package_events.py": model_package_events.DETAIL_TYPE,
                                 "get_model_metadata/event.py": notifier_event.DETAIL_TYPE,
                                 "registry_metrics/events.py": metrics_events.DETAIL_TYPE})


# -- build caches -----------------------------------------------------------------------------------
def _buildspec(stacks, project_id: str) -> dict:
    import yaml

    spec = stacks["pipeline"].resources("AWS::CodeBuild::Project")[project_id]["Properties"]["Source"]["BuildSpec"]
    text = (ROOT / spec).read_text() if spec.endswith((".yaml", ".yml")) else spec
    return yaml.safe_load(text)


def test_every_buildspec_cache_is_backed_by_an_s3_cache_its_role_may_read_and_write(stacks_by_env, project):
    """A `cache:` section without a project Cache does nothing: CodeBuild saves and restores nothing."""
    role_by_project = {"SynthProject": "SynthBuildRole", "UpsertProject": "UpsertBuildRole"}
    checked = 0
    for env, stacks in stacks_by_env.items():
        for project_id, role in role_by_project.items():
            if "cache" not in _buildspec(stacks, project_id):
                continue
            checked += 1
            props = stacks["pipeline"].resources("AWS::CodeBuild::Project")[project_id]["Properties"]
            cache = props.get("Cache", {})
            assert cache.get("Type") == "S3", f"env {env}: {project_id}'s buildspec has a cache: section but the project has Cache {cache or 'none'}"
            wanted = f"arn:aws:s3:::{cache['Location']}/"
            statements = stacks["iam"].resources("AWS::IAM::Role")[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            for action in ("s3:GetObject", "s3:PutObject"):
                granted = [r for s in statements if action in s["Action"] for r in s["Resource"]]
                assert any(wanted.startswith(r.rstrip("*")) for r in granted), f"env {env}: {role} may not {action} {wanted}*"
    assert checked, "no buildspec declares a cache any more: drop this test with the cache"


def test_report_partitions_rule_watches_the_pipeline_the_upsert_build_creates(stacks_by_env, project):
    for env, stacks in stacks_by_env.items():
        rule = stacks["kpi"].resources("AWS::Events::Rule")["PartitionsRule"]["Properties"]["EventPattern"]
        (pipeline_arn,) = rule["detail"]["pipelineArn"]
        function = stacks["kpi"].resources("AWS::Lambda::Function")["PartitionsFunction"]["Properties"]
        same(
            f"env {env}: SageMaker pipeline the report-partitions function serves",
            **{
                "kpi.yaml PartitionsRule detail.pipelineArn": pipeline_arn.rsplit("/", 1)[1],
                "kpi.yaml PartitionsFunction PIPELINE_NAME": function["Environment"]["Variables"]["PIPELINE_NAME"],
                "pipeline.yaml upsert build SAGEMAKER_PIPELINE_NAME": _build_env(stacks, "UpsertProject")["SAGEMAKER_PIPELINE_NAME"],
            },
        )


def test_jobs_write_their_outputs_and_nothing_else_under_the_pipelines_prefix(stacks_by_env, project, definitions):
    """Every output location of the definition is writable by the execution role; the input data and the step
    code are not, so a job (or a pushed script) cannot rewrite the data the next run trains on."""
    for env, stacks in stacks_by_env.items():
        n = names_mod.for_env(project, env)
        bucket = stacks["pipeline"].exports()[f"{n.stack('pipeline')}-ArtifactBucketName"]
        role = stacks["iam"].resources("AWS::IAM::Role")["SageMakerExecutionRole"]["Properties"]
        writable = [r.rstrip("*") for s in role["Policies"][0]["PolicyDocument"]["Statement"] if "s3:PutObject" in s["Action"]
                    for r in s["Resource"]]
        outputs = []
        for step in _all_steps(definitions[env]):
            args = step.get("Arguments", {})
            outputs += [o["S3Output"]["S3Uri"] for o in args.get("ProcessingOutputConfig", {}).get("Outputs", [])]
            if "OutputDataConfig" in args:
                outputs.append(args["OutputDataConfig"]["S3OutputPath"] + "/")
        for uri in outputs:
            text = uri["Std:Join"]["Values"][0] if isinstance(uri, dict) else uri
            arn = "arn:aws:s3:::" + text.removeprefix("s3://")
            assert any(arn.startswith(w) for w in writable), f"env {env}: the execution role may not write {text}"
        for read_only in (f"{n.sagemaker_prefix}input/churn.csv", f"{n.sagemaker_prefix}code/abc/preprocess.py"):
            assert not any(f"arn:aws:s3:::{bucket}/{read_only}".startswith(w) for w in writable), f"env {env}: jobs may write {read_only}"
