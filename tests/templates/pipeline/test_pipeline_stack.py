"""The delivery pipeline as rendered: stage order, artifacts, roles, self-update, source types."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from infra import config
from infra.output import lambda_package, render
from infra.config import names
from infra.stacks import pipeline
from infra.stacks import BUILDERS
from tests.support import concrete_envs
from tests.support.cfn import load as cfn_load
from tests.support.cfn import statements as cfn_statements
from tests.conftest import FIXTURE_CONFIG

# ApproveRelease exists only where config asks for it (operations.release_approval; tests/templates/pipeline/test_release_approval.py),
# DeployDeployment only where the env serves models (a deployment block).
STAGES = ["Source", "ApproveRelease", "Synth", "UpdatePipeline", "DeployNotifications", "DeployKpi", "UpsertSageMakerPipeline",
          "DeployDeployment"]


def expected_stages(env) -> list[str]:
    """STAGES, less the ones the env's config leaves out."""
    return [s for s in STAGES if (s != "ApproveRelease" or env.release_approval) and (s != "DeployDeployment" or env.deployment)]


@pytest.fixture
def n(project, env) -> names.Names:
    return names.Names(project, project.environments[env])


@pytest.fixture
def tpl(rendered, env):
    return cfn_load(rendered[f"{env}/pipeline.yaml"])


@pytest.fixture
def iam_tpl(rendered, env):
    return cfn_load(rendered[f"{env}/iam.yaml"])


def stages(tpl):
    return tpl["Resources"]["DeliveryPipeline"]["Properties"]["Stages"]


def actions(tpl) -> list[tuple[str, dict]]:
    return [(s["Name"], a) for s in stages(tpl) for a in s["Actions"]]


def cfn_actions(tpl) -> dict[str, dict]:
    return {a["Name"]: a for _, a in actions(tpl) if a["ActionTypeId"]["Provider"] == "CloudFormation"}


def synth_artifact_files(tpl) -> set[str]:
    spec = yaml.safe_load(tpl["Resources"]["SynthProject"]["Properties"]["Source"]["BuildSpec"])
    return set(spec["artifacts"]["files"])


def import_key(n: names.Names, value) -> str:
    """'<this env's iam stack>-XArn' (or its deploy-roles or serving-iam stack's) -> 'XArn'."""
    export = value["Fn::ImportValue"]
    stacks = [n.stack(s) for s in ("iam", "deploy-roles", "serving-iam")]
    stack = next((s for s in stacks if export.startswith(f"{s}-")), None)
    assert stack, f"{export} is no export of this env's {stacks}"
    return export.removeprefix(f"{stack}-")


def file_of(n: names.Names, path: str) -> str:
    """'SynthOutput::templates/<env>/x.yaml' -> 'templates/<env>/x.yaml'; the artifact is the synth's."""
    artifact, file = path.split("::", 1)
    assert artifact == pipeline.SYNTH_ARTIFACT
    assert file.startswith(f"templates/{n.env_name}/"), f"{path}: not this env's folder"
    return file


# -- structure ----------------------------------------------------------------------------------
@pytest.mark.every_env
def test_stages_run_source_synth_iam_self_update_then_app_stacks_then_upsert(tpl, project, env):
    assert [s["Name"] for s in stages(tpl)] == expected_stages(project.environments[env])


# An env that serves models must approve its releases (the loader refuses serving without it).
@pytest.mark.parametrize("release_approval, serves", [(False, False), (True, False), (True, True)])
def test_the_release_approval_and_deployment_stages_are_there_only_where_config_asks(fixture_project, release_approval, serves):
    base = fixture_project.environments["prod"]
    deployment = (base.deployment or config.loader.deployment_settings("", {})) if serves else None
    tpl = concrete_envs.template(fixture_project, "prod", "pipeline", release_approval=release_approval, deployment=deployment)
    names_ = [s["Name"] for s in stages(tpl)]
    assert ("ApproveRelease" in names_) is release_approval
    assert ("DeployDeployment" in names_) is serves
    assert names_ == [s for s in STAGES if s in names_]


@pytest.mark.every_env
def test_pipeline_is_v2_superseded_and_restarts_after_updating_itself(tpl):
    props = tpl["Resources"]["DeliveryPipeline"]["Properties"]
    assert props["PipelineType"] == "V2"
    assert props["ExecutionMode"] == "SUPERSEDED"
    assert props["RestartExecutionOnUpdate"] is True
    assert props["ArtifactStore"]["EncryptionKey"] == {"Id": {"Fn::GetAtt": ["ArtifactKey", "Arn"]}, "Type": "KMS"}


@pytest.mark.every_env
def test_self_update_deploys_the_pipelines_own_stack_from_a_file_synth_writes(tpl, n):
    update = [a for s, a in actions(tpl) if s == "UpdatePipeline"]
    assert len(update) == 1
    conf = update[0]["Configuration"]
    assert conf["StackName"] == {"Ref": "AWS::StackName"}, "the self-update must name the stack it runs in, not a value"
    assert conf["ActionMode"] == "CREATE_UPDATE"
    written = synth_artifact_files(tpl)
    assert file_of(n, conf["TemplatePath"]) == f"templates/{n.env_name}/pipeline.yaml"
    assert file_of(n, conf["TemplateConfiguration"]) == f"templates/{n.env_name}/pipeline.json"
    assert {file_of(n, conf["TemplatePath"]), file_of(n, conf["TemplateConfiguration"])} <= written


@pytest.mark.every_env
def test_every_cloudformation_action_reads_only_files_the_synth_artifact_holds_and_the_generator_renders(tpl, rendered, n):
    written = synth_artifact_files(tpl)
    assert all(f.startswith(f"templates/{n.env_name}/") for f in written)
    # Stacks whose builder is not registered yet (written in parallel) are skipped until they are.
    built = [f for f in written if re.split(r"[/.]", f)[-2] in BUILDERS]
    assert all(f.removeprefix("templates/") in rendered for f in built)
    for action in cfn_actions(tpl).values():
        conf = action["Configuration"]
        assert file_of(n, conf["TemplatePath"]) in written
        assert file_of(n, conf["TemplateConfiguration"]) in written


@pytest.mark.every_env
def test_synth_artifact_holds_exactly_the_deployed_templates_and_this_envs_parameter_files(tpl, project, env):
    """What the delivery pipeline deploys, and, where the env serves models, the deployment stack and the endpoint
    stacks the model-deployment pipeline deploys from its release."""
    serving = ("deployment", *names.ENDPOINT_STACKS)
    stacks = [s for s in names.PIPELINE_STACKS + names.ENDPOINT_STACKS
              if project.env(env).deployment is not None or s not in serving]
    expected = {f"templates/{env}/{s}.yaml" for s in stacks} | {f"templates/{env}/{s}.json" for s in stacks}
    assert synth_artifact_files(tpl) == expected


@pytest.mark.every_env
def test_every_input_artifact_is_produced_by_an_earlier_action(tpl):
    produced: set[str] = set()
    for stage in stages(tpl):
        stage_actions = stage["Actions"]
        for run_order in sorted({a.get("RunOrder", 1) for a in stage_actions}):
            batch = [a for a in stage_actions if a.get("RunOrder", 1) == run_order]
            for action in batch:
                for artifact in action.get("InputArtifacts", []):
                    assert artifact["Name"] in produced, f"{action['Name']} reads {artifact['Name']} before it exists"
            produced |= {o["Name"] for a in batch for o in a.get("OutputArtifacts", [])}


@pytest.mark.every_env
def test_each_cloudformation_action_uses_a_deploy_role_the_pipeline_role_may_pass(tpl, iam_tpl, rendered, n, env):
    deploy_roles = {rid: r for stack in ("deploy-roles", "serving-iam") if f"{env}/{stack}.yaml" in rendered
                    for rid, r in cfn_load(rendered[f"{env}/{stack}.yaml"])["Resources"].items()}
    role = iam_tpl["Resources"]["CodePipelineRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    passable = {
        r["Fn::Sub"] for s in statements if "iam:PassRole" in s["Action"] for r in s["Resource"]
    }
    pass_statement = next(s for s in statements if "iam:PassRole" in s["Action"])
    assert pass_statement["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    assert cfn_actions(tpl)
    for action in cfn_actions(tpl).values():
        logical_id = import_key(n, action["Configuration"]["RoleArn"]).removesuffix("Arn")
        role_name = deploy_roles[logical_id]["Properties"]["RoleName"]
        assert role_name.startswith(f"{n.prefix}-")
        assert f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{n.role_path}{role_name}" in passable


@pytest.mark.every_env
def test_each_stack_is_deployed_with_its_own_deploy_role_and_capabilities(tpl, n):
    by_stack = {a["Configuration"]["StackName"] if isinstance(a["Configuration"]["StackName"], str) else "self":
                a["Configuration"] for a in cfn_actions(tpl).values()}
    assert by_stack.pop("self")["StackName"] == {"Ref": "AWS::StackName"}
    # never IAM or deploy roles; the deployment stack only where the env serves models
    serving = [n.stack("deployment")] if n.env.deployment else []
    assert set(by_stack) == {n.stack("notifications"), n.stack("kpi"), *serving}
    assert import_key(n, by_stack[n.stack("notifications")]["RoleArn"]) == "NotificationsDeployRoleArn"
    assert import_key(n, by_stack[n.stack("kpi")]["RoleArn"]) == "KpiDeployRoleArn"
    for stack in serving:
        assert by_stack[stack]["RoleArn"]["Fn::ImportValue"] == f"{n.stack('serving-iam')}-DeploymentDeployRoleArn"
    assert not [a for a in cfn_actions(tpl).values() if "Capabilities" in a["Configuration"]], "the pipeline deploys no IAM resource"


@pytest.mark.every_env
def test_a_run_has_exactly_two_codebuild_builds_synth_and_upsert(tpl):
    builds = [(s, a["Configuration"]["ProjectName"]) for s, a in actions(tpl) if a["ActionTypeId"]["Provider"] == "CodeBuild"]
    assert builds == [("Synth", {"Ref": "SynthProject"}), ("UpsertSageMakerPipeline", {"Ref": "UpsertProject"})]


# -- builds -------------------------------------------------------------------------------------
@pytest.mark.every_env
def test_synth_installs_only_the_generator_pins_checks_templates_and_publishes_lambda_zips(tpl, n):
    props = tpl["Resources"]["SynthProject"]["Properties"]
    spec = yaml.safe_load(props["Source"]["BuildSpec"])
    install = spec["phases"]["install"]["commands"]
    assert len(install) == 1 and install[0].startswith("python -m pip install") and install[0].endswith("-r requirements.txt")
    commands = " ; ".join(install + spec["phases"]["build"]["commands"])
    assert not re.search(r"\b(npm|node|sagemaker)\b", commands)
    build = spec["phases"]["build"]["commands"]
    assert build[0] == "python generate.py --check"
    assert "python -m infra.lambda_package build/lambda" in build
    assert any(c.startswith("aws s3 sync build/lambda/lambda/ s3://$ARTIFACT_BUCKET/lambda/") and "--size-only" in c for c in build)
    assert props["ServiceRole"]["Fn::ImportValue"] == f"{n.stack('iam')}-SynthBuildRoleArn"
    assert props["EncryptionKey"] == {"Fn::GetAtt": ["ArtifactKey", "Arn"]}


@pytest.mark.every_env
def test_upsert_runs_the_repo_buildspec_with_exactly_its_seven_variables(tpl, n):
    props = tpl["Resources"]["UpsertProject"]["Properties"]
    assert props["Source"]["BuildSpec"] == "buildspec.yaml"
    variables = [v["Name"] for v in props["Environment"]["EnvironmentVariables"]]
    assert sorted(variables) == sorted(
        ["PROJECT_NAME", "ENV_NAME", "SAGEMAKER_PIPELINE_NAME", "SAGEMAKER_ROLE_ARN", "MODEL_PACKAGE_GROUP_NAME", "ARTIFACT_BUCKET",
         "ARTIFACT_KEY_ARN"]
    )
    values = {v["Name"]: v["Value"] for v in props["Environment"]["EnvironmentVariables"]}
    assert (values["PROJECT_NAME"], values["ENV_NAME"], values["SAGEMAKER_PIPELINE_NAME"], values["MODEL_PACKAGE_GROUP_NAME"]) == (
        n.project.name, n.env_name, n.sagemaker_pipeline, n.model_package_group)
    assert props["ServiceRole"]["Fn::ImportValue"] == f"{n.stack('iam')}-UpsertBuildRoleArn"


@pytest.mark.every_env
def test_each_build_logs_to_its_own_retained_log_group(tpl, n):
    for project, group, name in (("SynthProject", "SynthLogGroup", n.synth_project), ("UpsertProject", "UpsertLogGroup", n.upsert_project)):
        props = tpl["Resources"][project]["Properties"]
        assert props["Name"] == name
        assert props["LogsConfig"]["CloudWatchLogs"]["GroupName"] == {"Ref": group}
        lg = tpl["Resources"][group]["Properties"]
        assert lg["RetentionInDays"] == n.env.log_retention_days
        assert lg["LogGroupName"] == f"/aws/codebuild/{name}"


# -- data ---------------------------------------------------------------------------------------
@pytest.mark.every_env
def test_artifact_bucket_is_kms_encrypted_versioned_private_tls_only_and_retained(tpl, n):
    bucket = tpl["Resources"]["ArtifactBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    p = bucket["Properties"]
    rule = p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"] == {"KMSMasterKeyID": {"Fn::GetAtt": ["ArtifactKey", "Arn"]}, "SSEAlgorithm": "aws:kms"}
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(p["PublicAccessBlockConfiguration"].values())
    assert p["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    lifecycle = {r["Id"]: r for r in p["LifecycleConfiguration"]["Rules"]}
    assert lifecycle["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert lifecycle["ExpirePipelineRunArtifacts"]["Prefix"] == n.pipeline_artifacts_prefix
    deny = tpl["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# The artifact key's statements in every env; the uploaders' and analysts' ones exist only where config names them
# (tests/iam/test_data_uploaders.py, tests/iam/test_analysts.py).
KEY_STATEMENTS = {"AccountAdministersKey", "DeployRoleAdministersKey", "ProjectRolesUseKeyThroughIam", "LogsEncryptProjectLogGroups",
                  "AlarmsPublishToOperationsTopic", "FailedDeliveryRunsPublishToOperationsTopic", "FirstRunRolesUseKey"}
SERVING_KEY_STATEMENTS = {"EndpointDeployRolesGrantsForVolumes"}  # only where the env serves models


def key_statements(tpl) -> dict[str, dict]:
    return {s["Sid"]: s for s in cfn_statements(tpl["Resources"]["ArtifactKey"]["Properties"]["KeyPolicy"])}


@pytest.mark.every_env
def test_artifact_key_rotates_is_retained_and_only_project_roles_and_configured_analysts_may_use_it(tpl, n):
    key = tpl["Resources"]["ArtifactKey"]
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key_statements(tpl)
    admin = statements["AccountAdministersKey"]
    assert not any(a in ("kms:*", "*") or a.endswith("*") for a in admin["Action"])
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(admin["Action"])
    # Usage is delegated to IAM, for this env's project roles only (path + prefix).
    usage = statements["ProjectRolesUseKeyThroughIam"]
    assert usage["Principal"] == {"AWS": [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}]}
    assert usage["Condition"] == {"ArnLike": {"aws:PrincipalArn": [
        {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{n.role_path}{n.prefix}-*"}]}}
    logs = statements["LogsEncryptProjectLogGroups"]
    assert logs["Principal"] == {"Service": [{"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}]}
    # The delivery pipeline's first-run roles, by name, so that run does not wait for the alias
    # (tests/templates/pipeline/test_first_run_key_use.py).
    first_run = statements["FirstRunRolesUseKey"]
    assert first_run["Principal"] == {"AWS": [{"Fn::ImportValue": f"{n.stack('iam')}-{export}"}
                                              for export in ("CodePipelineRoleArn", "SynthBuildRoleArn", "UpsertBuildRoleArn")]}
    deployer = statements["DeployRoleAdministersKey"]
    assert deployer["Principal"] == {"AWS": [{"Fn::ImportValue": f"{n.stack('deploy-roles')}-PipelineDeployRoleArn"}]}
    optional = {"DataUploadersEncryptInputThroughS3"} if n.env.data_uploaders else set()
    optional |= {"AnalystsUseKeyThroughS3"} if n.env.analyst_principals else set()
    optional |= SERVING_KEY_STATEMENTS if n.env.deployment else set()
    assert set(statements) == KEY_STATEMENTS | optional
    if not n.env.deployment:
        return
    # Grants only, only for the endpoint stacks' deploy roles and production's rollout (the resolve function), only
    # for AWS resources (SageMaker's endpoint volumes).
    grants = statements["EndpointDeployRolesGrantsForVolumes"]
    assert grants["Action"] == ["kms:CreateGrant"] and grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert grants["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{n.role_path}{role}"}
        for role in (n.deploy_role("staging-endpoint"), n.deploy_role("production-endpoint"), n.resolve_function_role)]


UPLOADER = "arn:aws:iam::123456789012:role/test-uploader"
ANALYST = "arn:aws:iam::123456789012:role/test-analyst"


@pytest.mark.parametrize("uploaders, analysts", [((), ()), ((UPLOADER,), ()), ((), (ANALYST,)), ((UPLOADER,), (ANALYST,))])
def test_the_artifact_key_names_uploaders_and_analysts_only_in_an_env_that_lists_them(fixture_project, uploaders, analysts):
    tpl = concrete_envs.template(fixture_project, "dev", "pipeline", data_uploaders=uploaders, analyst_principals=analysts)
    statements = key_statements(tpl)
    assert set(statements) - KEY_STATEMENTS - SERVING_KEY_STATEMENTS == ({"DataUploadersEncryptInputThroughS3"} if uploaders else set()) | (
        {"AnalystsUseKeyThroughS3"} if analysts else set())
    if analysts:
        assert ANALYST in json.dumps(statements["AnalystsUseKeyThroughS3"])
    if not analysts:
        assert ANALYST not in json.dumps(tpl)


@pytest.mark.every_env
def test_stack_exports_bucket_and_key_and_keeps_the_model_group(tpl, n):
    outputs = tpl["Outputs"]
    assert outputs["ArtifactBucketName"]["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-ArtifactBucketName"}
    assert outputs["ArtifactKeyArn"]["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-ArtifactKeyArn"}
    group = tpl["Resources"]["ModelPackageGroup"]
    assert group["DeletionPolicy"] == "RetainExceptOnCreate"
    assert group["Properties"]["ModelPackageGroupName"] == n.model_package_group


@pytest.mark.every_env
def test_pipeline_roles_reach_the_folder_codepipeline_really_writes(iam_tpl, n):
    assert n.pipeline_artifacts_prefix == n.codepipeline[:20] + "/"
    text = json.dumps(iam_tpl["Resources"]["CodePipelineRole"])
    assert f"{n.pipeline_artifacts_prefix}*" in text and "codepipeline/" not in text


# -- source types -------------------------------------------------------------------------------
SOURCES = {
    "codeconnections": {
        "type": "codeconnections",
        "connection_arn": "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000",
        "repository": "example-org/churn",
        "branch": "main",
    },
    "codecommit": {"type": "codecommit", "repository": "churn-mlops", "branch": "main"},
    "s3": {"type": "s3", "bucket": "example-source-bucket", "key": "churn/source.zip"},
}
# source type -> (Source action's provider, its configuration from the source block, the rule that starts a run)
SOURCE_ACTIONS = {
    "codeconnections": ("CodeStarSourceConnection",
                        {"ConnectionArn": "connection_arn", "FullRepositoryId": "repository", "BranchName": "branch"}, None),
    "codecommit": ("CodeCommit", {"RepositoryName": "repository", "BranchName": "branch"}, "CodeCommitSourceRule"),
    "s3": ("S3", {"S3Bucket": "bucket", "S3ObjectKey": "key"}, "S3SourceRule"),
}
SOURCE_RULES = {"CodeCommitSourceRule", "S3SourceRule"}


def config_dir_with_dev_source(tmp_path, source: dict):
    """The fixture config (envs dev and prod) with dev's source block replaced."""
    for path in FIXTURE_CONFIG.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    dev = yaml.safe_load((FIXTURE_CONFIG / "dev.yaml").read_text())
    dev["source"] = source
    (tmp_path / "dev.yaml").write_text(yaml.safe_dump(dev))
    return tmp_path


@pytest.fixture(scope="module")
def source_renders(tmp_path_factory):
    """source type -> (the fixture project with dev's source of that type, its render)."""
    out = {}
    for source_type, source in SOURCES.items():
        project = config.load(config_dir_with_dev_source(tmp_path_factory.mktemp(source_type), source))
        out[source_type] = (project, render.render(project))
    return out


@pytest.mark.parametrize("source_type", sorted(SOURCES))
def test_each_source_type_renders_only_its_own_source_action_and_rule_with_the_configured_values(source_renders, source_type):
    project, files = source_renders[source_type]
    n = names.Names(project, project.environments["dev"])
    tpl = cfn_load(files["dev/pipeline.yaml"])
    assert "Parameters" not in tpl and json.loads(files["dev/pipeline.json"])["Parameters"] == {}
    provider, configured, rule_id = SOURCE_ACTIONS[source_type]
    source = stages(tpl)[0]
    assert source["Name"] == "Source" and len(source["Actions"]) == 1
    action = source["Actions"][0]
    assert action["ActionTypeId"]["Provider"] == provider
    assert action["OutputArtifacts"] == [{"Name": "SourceOutput"}]
    conf = action["Configuration"]
    assert {key: conf[key] for key in configured} == {key: SOURCES[source_type][field] for key, field in configured.items()}
    if rule_id:  # CodeCommit and S3 start the pipeline through EventBridge, not by polling
        assert conf["PollForSourceChanges"] == "false"
    else:  # CodeConnections detects changes itself
        assert conf["DetectChanges"] == "true"
    rules = {r for r in SOURCE_RULES if r in tpl["Resources"]}
    assert rules == ({rule_id} if rule_id else set()), "an env holds its own source type's rule and no other"
    if rule_id:
        rule = tpl["Resources"][rule_id]
        assert "Condition" not in rule
        assert rule["Properties"]["Name"] == f"{n.prefix}-source-{source_type}"
        target = rule["Properties"]["Targets"][0]
        assert import_key(n, target["RoleArn"]) == "SourceEventsRoleArn"
        pattern = rule["Properties"]["EventPattern"]
        if source_type == "s3":
            assert pattern["detail-type"] == ["Object Created"]
            assert pattern["detail"]["object"]["key"] == [SOURCES["s3"]["key"]]
            assert pattern["detail"]["bucket"]["name"] == [SOURCES["s3"]["bucket"]]
        else:
            assert pattern["detail"]["referenceName"] == [SOURCES["codecommit"]["branch"]]
            assert pattern["resources"] == [{"Fn::Sub": "arn:${AWS::Partition}:codecommit:${AWS::Region}:${AWS::AccountId}:"
                                                       + SOURCES["codecommit"]["repository"]}]
    # Another source type's settings appear nowhere in this env's template.
    others = {v for t, s in SOURCES.items() if t != source_type for k, v in s.items() if k != "type"} - set(SOURCES[source_type].values())
    text = files["dev/pipeline.yaml"]
    assert not [v for v in others if v in text]
    # prod's source is untouched by dev's.
    assert cfn_load(files["prod/pipeline.yaml"]) == cfn_load(source_renders["codeconnections"][1]["prod/pipeline.yaml"])


@pytest.mark.parametrize(
    "source, message",
    [
        ({**SOURCES["codecommit"], "connection_arn": SOURCES["codeconnections"]["connection_arn"]},
         "dev.yaml: source.connection_arn: unknown key (allowed: branch, repository, type)"),
        ({"type": "s3", "bucket": "example-source-bucket"}, "dev.yaml: source.key: required key is missing"),
        ({"repository": "example-org/churn", "branch": "main"}, "dev.yaml: source.type: required key is missing"),
        ({**SOURCES["codeconnections"], "repository": "churn"}, "dev.yaml: source.repository: 'churn' is not a full repository id like owner/name"),
        ({"type": "github", "repository": "a/b"}, "dev.yaml: source.type: 'github' is not one of: codeconnections, codecommit, s3"),
        ({**SOURCES["s3"], "branch": "main"}, "dev.yaml: source.branch: unknown key (allowed: bucket, key, type)"),
    ],
    ids=["codecommit_with_connection_arn", "s3_without_key", "no_type", "connections_repo_without_owner", "unknown_type", "s3_with_branch"],
)
def test_a_source_block_that_does_not_fit_its_type_is_rejected_in_one_line(tmp_path, source, message):
    with pytest.raises(config.ConfigError) as err:
        config.load(config_dir_with_dev_source(tmp_path, source))
    assert str(err.value).endswith(message)
    assert "\n" not in str(err.value)


# -- no self-update loop ------------------------------------------------------------------------
def test_pipeline_template_and_parameters_do_not_depend_on_lambda_code(project):
    a = render.render(project, {"NotifierCodeKey": "lambda/get_model_metadata-aaaa.zip"})
    b = render.render(project, {"NotifierCodeKey": "lambda/get_model_metadata-bbbb.zip"})
    assert a != b, "the code key reaches some template"
    assert all(a[f"{env}/pipeline.yaml"] == b[f"{env}/pipeline.yaml"] for env in project.environments)
    assert all(a[f"{env}/pipeline.json"] == b[f"{env}/pipeline.json"] for env in project.environments)


def test_lambda_zip_key_changes_when_and_only_when_a_source_file_changes(tmp_path):
    fn = tmp_path / "lambda_src" / "get_model_metadata"
    fn.mkdir(parents=True)
    (fn / "handler.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    (fn / "__init__.py").write_text("")
    first_key, first_zip = lambda_package.code_key(fn), lambda_package.build_zip(fn)

    (fn / "handler.py").write_text("def lambda_handler(event, context):\n    return 1\n")  # same bytes, new mtime
    (fn / "__pycache__").mkdir()
    (fn / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0compiled")
    assert lambda_package.code_key(fn) == first_key
    assert lambda_package.build_zip(fn) == first_zip

    (fn / "handler.py").write_text("def lambda_handler(event, context):\n    return 2\n")
    changed = lambda_package.code_key(fn)
    assert changed != first_key
    (fn / "handler.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    assert lambda_package.code_key(fn) == first_key  # content-addressed: back to the same bytes, back to the same key
    (fn / "util.py").write_text("X = 1\n")
    assert lambda_package.code_key(fn) not in (first_key, changed)

    out = lambda_package.write_zips(tmp_path / "lambda_src", tmp_path / "build" / "lambda")
    assert [p.relative_to(tmp_path / "build" / "lambda").as_posix() for p in out] == [lambda_package.code_key(fn)]
    assert lambda_package.code_key(fn).startswith("lambda/get_model_metadata-")


# -- roles the pipeline's resources use ---------------------------------------------------------
def role_statements(iam_tpl, logical_id: str) -> dict[str, dict]:
    props = iam_tpl["Resources"][logical_id]["Properties"]
    return {s["Sid"]: s for p in props["Policies"] for s in p["PolicyDocument"]["Statement"]}


@pytest.mark.every_env
def test_pipeline_role_can_only_create_or_update_stacks_not_delete_or_use_change_sets(iam_tpl):
    deploy = role_statements(iam_tpl, "CodePipelineRole")["DeployProjectStacks"]["Action"]
    assert {"cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DescribeStacks"} <= set(deploy)
    assert not [a for a in deploy if "Delete" in a or "ChangeSet" in a or "TerminationProtection" in a]


@pytest.mark.every_env
def test_each_build_role_writes_only_its_own_log_group(iam_tpl, tpl):
    for role, project in (("SynthBuildRole", "SynthProject"), ("UpsertBuildRole", "UpsertProject")):
        logs = role_statements(iam_tpl, role)["BuildLogs"]["Resource"]
        group = tpl["Resources"][project]["Properties"]["Name"]
        assert [r["Fn::Sub"] for r in logs] == [
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/codebuild/{group}",
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/codebuild/{group}:*",
        ]


@pytest.mark.every_env
def test_synth_role_may_list_and_add_lambda_zips_but_not_read_or_delete_them(iam_tpl):
    statements = role_statements(iam_tpl, "SynthBuildRole")
    assert statements["LambdaCodeWrite"]["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
    assert statements["LambdaCodeList"]["Condition"]["StringLike"]["s3:prefix"][0] == "lambda/*"
    assert "LambdaCodeRead" not in statements


def test_the_benchmarks_reading_of_the_pipeline_counts_each_envs_builds(project):
    """`make bench` counts CodeBuild builds per run from each env's pipeline.yaml (whatever stages config adds)."""
    from tests.benchmarks import pipeline as bench

    assert bench.codebuild_builds_per_run() == 2  # Synth and the upsert
