"""The delivery pipeline as rendered: stage order, artifacts, roles, self-update, source types."""
from __future__ import annotations

import json
import re

import cfn_flip
import pytest
import yaml

from infra import config
from infra.output import lambda_package, render
from infra.config import names
from infra.stacks import pipeline
from infra.stacks import BUILDERS
from tests.support.cfn import statements as cfn_statements
from tests.conftest import FIXTURE_CONFIG

# ApproveRelease exists only where config asks for it (operations.release_approval; tests/templates/pipeline/test_release_approval.py).
STAGES = ["Source", "ApproveRelease", "Synth", "UpdatePipeline", "DeployNotifications", "DeployKpi", "UpsertSageMakerPipeline",
          "DeployDeployment"]


def load(text: str) -> dict:
    return json.loads(cfn_flip.to_json(text, clean_up=False))


@pytest.fixture(scope="module")
def tpl(rendered):
    return load(rendered["pipeline.yaml"])


@pytest.fixture(scope="module")
def iam_tpl(rendered):
    return load(rendered["iam.yaml"])


def stages(tpl):
    """Every stage, those under a condition (Fn::If … AWS::NoValue, the release approval) included."""
    return [stage for wrapped in tpl["Resources"]["DeliveryPipeline"]["Properties"]["Stages"] for stage in unwrap(wrapped)
            if stage != {"Ref": "AWS::NoValue"}]


def unwrap(action) -> list[dict]:
    """The concrete actions behind an Fn::If chain (every branch)."""
    if isinstance(action, dict) and "Fn::If" in action:
        _, yes, no = action["Fn::If"]
        return unwrap(yes) + unwrap(no)
    return [action]


def actions(tpl) -> list[tuple[str, dict]]:
    return [(s["Name"], a) for s in stages(tpl) for wrapped in s["Actions"] for a in unwrap(wrapped)]


def cfn_actions(tpl) -> dict[str, dict]:
    return {a["Name"]: a for _, a in actions(tpl) if a["ActionTypeId"]["Provider"] == "CloudFormation"}


def synth_artifact_files(tpl, env: str) -> set[str]:
    spec = yaml.safe_load(tpl["Resources"]["SynthProject"]["Properties"]["Source"]["BuildSpec"]["Fn::Sub"])
    return {f.replace("${Environment}", env) for f in spec["artifacts"]["files"]}


def import_key(value) -> str:
    """'${IamStackName}-XArn' (or the deploy-roles stack's) -> 'XArn'."""
    sub = value["Fn::ImportValue"]["Fn::Sub"]
    assert sub.startswith(("${IamStackName}-", "${DeployRolesStackName}-", "${ServingIamStackName}-")), sub
    return sub.split("-", 1)[1]


# -- structure ----------------------------------------------------------------------------------
def test_stages_run_source_synth_iam_self_update_then_app_stacks_then_upsert(tpl):
    assert [s["Name"] for s in stages(tpl)] == STAGES


def test_pipeline_is_v2_superseded_and_restarts_after_updating_itself(tpl):
    props = tpl["Resources"]["DeliveryPipeline"]["Properties"]
    assert props["PipelineType"] == "V2"
    assert props["ExecutionMode"] == "SUPERSEDED"
    assert props["RestartExecutionOnUpdate"] is True
    assert props["ArtifactStore"]["EncryptionKey"] == {"Id": {"Fn::GetAtt": ["ArtifactKey", "Arn"]}, "Type": "KMS"}


def test_self_update_deploys_the_pipelines_own_stack_from_a_file_synth_writes(tpl, env_names):
    update = [a for s, a in actions(tpl) if s == "UpdatePipeline"]
    assert len(update) == 1
    conf = update[0]["Configuration"]
    assert conf["StackName"] == {"Ref": "AWS::StackName"}, "the self-update must name the stack it runs in, not a parameter"
    assert conf["ActionMode"] == "CREATE_UPDATE"
    for env in env_names:
        written = synth_artifact_files(tpl, env)
        assert conf["TemplatePath"].split("::", 1)[1] in written
        assert conf["TemplateConfiguration"]["Fn::Sub"].split("::", 1)[1].replace("${Environment}", env) in written


def test_every_cloudformation_action_reads_only_files_the_synth_artifact_holds_and_the_generator_renders(tpl, rendered, env_names):
    for env in env_names:
        written = synth_artifact_files(tpl, env)
        assert all(f.startswith("templates/") for f in written)
        # Stacks whose builder is not registered yet (written in parallel) are skipped until they are.
        built = [f for f in written if re.split(r"[/.]", f)[-2] in BUILDERS]
        assert all(f.removeprefix("templates/") in rendered for f in built)
        for action in cfn_actions(tpl).values():
            conf = action["Configuration"]
            assert conf["TemplatePath"].startswith(f"{pipeline.SYNTH_ARTIFACT}::")
            assert conf["TemplatePath"].split("::", 1)[1] in written
            assert conf["TemplateConfiguration"]["Fn::Sub"].split("::", 1)[1].replace("${Environment}", env) in written


@pytest.mark.every_env
def test_synth_artifact_holds_exactly_the_deployed_templates_and_this_envs_parameter_files(tpl, env):
    """What the delivery pipeline deploys, and the endpoint stacks the model-deployment pipeline deploys from its release."""
    stacks = names.PIPELINE_STACKS + names.ENDPOINT_STACKS
    expected = {f"templates/{s}.yaml" for s in stacks} | {f"templates/{env}/{s}.json" for s in stacks}
    assert synth_artifact_files(tpl, env) == expected


def test_every_input_artifact_is_produced_by_an_earlier_action(tpl):
    produced: set[str] = set()
    for stage in stages(tpl):
        stage_actions = [a for wrapped in stage["Actions"] for a in unwrap(wrapped)]
        for run_order in sorted({a.get("RunOrder", 1) for a in stage_actions}):
            batch = [a for a in stage_actions if a.get("RunOrder", 1) == run_order]
            for action in batch:
                for artifact in action.get("InputArtifacts", []):
                    assert artifact["Name"] in produced, f"{action['Name']} reads {artifact['Name']} before it exists"
            produced |= {o["Name"] for a in batch for o in a.get("OutputArtifacts", [])}


def test_each_cloudformation_action_uses_a_deploy_role_the_pipeline_role_may_pass(tpl, iam_tpl, rendered):
    deploy_roles = {**load(rendered["deploy-roles.yaml"])["Resources"], **load(rendered["serving-iam.yaml"])["Resources"]}
    role = iam_tpl["Resources"]["CodePipelineRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    passable = {
        r["Fn::Sub"] for s in statements if "iam:PassRole" in s["Action"] for r in s["Resource"]
    }
    pass_statement = next(s for s in statements if "iam:PassRole" in s["Action"])
    assert pass_statement["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    for action in cfn_actions(tpl).values():
        logical_id = import_key(action["Configuration"]["RoleArn"]).removesuffix("Arn")
        name_param = deploy_roles[logical_id]["Properties"]["RoleName"]["Ref"]
        assert f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role${{RolePath}}${{{name_param}}}" in passable


def test_each_stack_is_deployed_with_its_own_deploy_role_and_capabilities(tpl):
    by_stack = {a["Configuration"]["StackName"]["Ref"]: a["Configuration"] for a in cfn_actions(tpl).values()}
    by_stack["PipelineStackName"] = by_stack.pop("AWS::StackName")  # the self-update
    # never IAM or deploy roles
    assert set(by_stack) == {"PipelineStackName", "NotificationsStackName", "KpiStackName", "DeploymentStackName"}
    assert import_key(by_stack["NotificationsStackName"]["RoleArn"]) == "NotificationsDeployRoleArn"
    assert import_key(by_stack["KpiStackName"]["RoleArn"]) == "KpiDeployRoleArn"
    assert import_key(by_stack["DeploymentStackName"]["RoleArn"]) == "DeploymentDeployRoleArn"
    assert not [stack for stack, conf in by_stack.items() if "Capabilities" in conf], "the pipeline deploys no IAM resource"


def test_a_run_has_exactly_two_codebuild_builds_synth_and_upsert(tpl):
    builds = [(s, a["Configuration"]["ProjectName"]) for s, a in actions(tpl) if a["ActionTypeId"]["Provider"] == "CodeBuild"]
    assert builds == [("Synth", {"Ref": "SynthProject"}), ("UpsertSageMakerPipeline", {"Ref": "UpsertProject"})]


# -- builds -------------------------------------------------------------------------------------
def test_synth_installs_only_the_generator_pins_checks_templates_and_publishes_lambda_zips(tpl):
    props = tpl["Resources"]["SynthProject"]["Properties"]
    spec = yaml.safe_load(props["Source"]["BuildSpec"]["Fn::Sub"])
    install = spec["phases"]["install"]["commands"]
    assert len(install) == 1 and install[0].startswith("python -m pip install") and install[0].endswith("-r requirements.txt")
    commands = " ; ".join(install + spec["phases"]["build"]["commands"])
    assert not re.search(r"\b(npm|node|sagemaker)\b", commands)
    build = spec["phases"]["build"]["commands"]
    assert build[0] == "python generate.py --check"
    assert "python -m infra.lambda_package build/lambda" in build
    assert any(c.startswith("aws s3 sync build/lambda/lambda/ s3://$ARTIFACT_BUCKET/lambda/") and "--size-only" in c for c in build)
    assert props["ServiceRole"]["Fn::ImportValue"]["Fn::Sub"] == "${IamStackName}-SynthBuildRoleArn"
    assert props["EncryptionKey"] == {"Fn::GetAtt": ["ArtifactKey", "Arn"]}


def test_upsert_runs_the_repo_buildspec_with_exactly_its_seven_variables(tpl):
    props = tpl["Resources"]["UpsertProject"]["Properties"]
    assert props["Source"]["BuildSpec"] == "buildspec.yaml"
    variables = [v["Name"] for v in props["Environment"]["EnvironmentVariables"]]
    assert sorted(variables) == sorted(
        ["PROJECT_NAME", "ENV_NAME", "SAGEMAKER_PIPELINE_NAME", "SAGEMAKER_ROLE_ARN", "MODEL_PACKAGE_GROUP_NAME", "ARTIFACT_BUCKET",
         "ARTIFACT_KEY_ARN"]
    )
    assert props["ServiceRole"]["Fn::ImportValue"]["Fn::Sub"] == "${IamStackName}-UpsertBuildRoleArn"


def test_each_build_logs_to_its_own_retained_log_group(tpl):
    for project, group in (("SynthProject", "SynthLogGroup"), ("UpsertProject", "UpsertLogGroup")):
        props = tpl["Resources"][project]["Properties"]
        assert props["LogsConfig"]["CloudWatchLogs"]["GroupName"] == {"Ref": group}
        lg = tpl["Resources"][group]["Properties"]
        assert lg["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert lg["LogGroupName"] == {"Fn::Sub": f"/aws/codebuild/${{{props['Name']['Ref']}}}"}


# -- data ---------------------------------------------------------------------------------------
def test_artifact_bucket_is_kms_encrypted_versioned_private_tls_only_and_retained(tpl):
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
    assert "NoncurrentVersionExpiration" in lifecycle["ExpireNoncurrentVersions"]
    assert lifecycle["ExpirePipelineRunArtifacts"]["Prefix"] == {"Ref": "PipelineArtifactsPrefix"}
    deny = tpl["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_artifact_key_rotates_is_retained_and_only_project_roles_and_configured_analysts_may_use_it(tpl):
    key = tpl["Resources"]["ArtifactKey"]
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = {s["Sid"]: s for s in cfn_statements(key["Properties"]["KeyPolicy"])}
    admin = statements["AccountAdministersKey"]
    assert not any(a in ("kms:*", "*") or a.endswith("*") for a in admin["Action"])
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(admin["Action"])
    # Usage is delegated to IAM, for this env's project roles only (path + prefix).
    usage = statements["ProjectRolesUseKeyThroughIam"]
    assert usage["Principal"] == {"AWS": [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}]}
    assert usage["Condition"] == {"ArnLike": {"aws:PrincipalArn": [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role${RolePath}${ResourcePrefix}-*"}]}}
    logs = statements["LogsEncryptProjectLogGroups"]
    assert logs["Principal"] == {"Service": [{"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}]}
    # The delivery pipeline's first-run roles, by name, so that run does not wait for the alias
    # (tests/templates/pipeline/test_first_run_key_use.py).
    first_run = statements["FirstRunRolesUseKey"]
    assert first_run["Principal"] == {"AWS": [{"Fn::ImportValue": {"Fn::Sub": f"${{IamStackName}}-{export}"}}
                                              for export in ("CodePipelineRoleArn", "SynthBuildRoleArn", "UpsertBuildRoleArn")]}
    deployer = statements["DeployRoleAdministersKey"]
    assert deployer["Principal"] == {"AWS": [{"Fn::ImportValue": {"Fn::Sub": "${DeployRolesStackName}-PipelineDeployRoleArn"}}]}
    # The analysts' statement exists only when kpi.analyst_principals is set (tests/iam/test_analysts.py).
    # The uploaders' and analysts' statements exist only when config names them (tests/iam/test_data_uploaders.py,
    # tests/iam/test_analysts.py).
    assert set(statements) == {"AccountAdministersKey", "DeployRoleAdministersKey", "ProjectRolesUseKeyThroughIam",
                               "LogsEncryptProjectLogGroups", "AlarmsPublishToOperationsTopic",
                               "FailedDeliveryRunsPublishToOperationsTopic",
                               "DataUploadersEncryptInputThroughS3", "AnalystsUseKeyThroughS3",
                               "EndpointDeployRolesGrantsForVolumes", "FirstRunRolesUseKey"}
    # Grants only, only for the endpoint stacks' deploy roles and production's rollout (the resolve function), only
    # for AWS resources (SageMaker's endpoint volumes).
    grants = statements["EndpointDeployRolesGrantsForVolumes"]
    assert grants["Action"] == ["kms:CreateGrant"] and grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert grants["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role${{RolePath}}${{{role}}}"}
        for role in ("StagingEndpointDeployRoleName", "ProductionEndpointDeployRoleName", "ResolveFunctionRoleName")]


def test_stack_exports_bucket_and_key_and_keeps_the_model_group(tpl):
    outputs = tpl["Outputs"]
    assert outputs["ArtifactBucketName"]["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-ArtifactBucketName"}
    assert outputs["ArtifactKeyArn"]["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-ArtifactKeyArn"}
    group = tpl["Resources"]["ModelPackageGroup"]
    assert group["DeletionPolicy"] == "RetainExceptOnCreate"
    assert group["Properties"]["ModelPackageGroupName"] == {"Ref": "ModelPackageGroupName"}


def test_pipeline_roles_reach_the_folder_codepipeline_really_writes(iam_tpl, project):
    for env in project.environments.values():
        n = names.Names(project, env)
        assert n.pipeline_artifacts_prefix == n.codepipeline[:20] + "/"
    text = json.dumps(iam_tpl["Resources"]["CodePipelineRole"])
    assert "${PipelineArtifactsPrefix}*" in text and "codepipeline/" not in text


# -- source types -------------------------------------------------------------------------------
def test_source_stage_picks_one_action_per_source_type_with_fn_if(tpl):
    source = stages(tpl)[0]["Actions"]
    assert len(source) == 1 and "Fn::If" in source[0]
    providers = [a["ActionTypeId"]["Provider"] for a in unwrap(source[0])]
    assert providers == ["CodeStarSourceConnection", "CodeCommit", "S3"]
    assert all(a["OutputArtifacts"] == [{"Name": "SourceOutput"}] for a in unwrap(source[0]))
    cc, s3 = unwrap(source[0])[1:]
    assert cc["Configuration"]["PollForSourceChanges"] == s3["Configuration"]["PollForSourceChanges"] == "false"


def test_codecommit_and_s3_sources_start_the_pipeline_through_conditional_event_rules(tpl):
    for logical_id, condition in (("CodeCommitSourceRule", "IsCodeCommitSource"), ("S3SourceRule", "IsS3Source")):
        rule = tpl["Resources"][logical_id]
        assert rule["Condition"] == condition
        assert rule["Properties"]["Name"]["Fn::Sub"].startswith("${ResourcePrefix}-")
        target = rule["Properties"]["Targets"][0]
        assert import_key(target["RoleArn"]) == "SourceEventsRoleArn"
    s3_pattern = tpl["Resources"]["S3SourceRule"]["Properties"]["EventPattern"]
    assert s3_pattern["detail-type"] == ["Object Created"]
    assert s3_pattern["detail"]["object"]["key"] == [{"Ref": "SourceObjectKey"}]


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


def config_dir_with_dev_source(tmp_path, source: dict):
    """The fixture config (envs dev and prod) with dev's source block replaced."""
    for path in FIXTURE_CONFIG.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    dev = yaml.safe_load((FIXTURE_CONFIG / "dev.yaml").read_text())
    dev["source"] = source
    (tmp_path / "dev.yaml").write_text(yaml.safe_dump(dev))
    return tmp_path


@pytest.mark.parametrize("source_type", sorted(SOURCES))
def test_each_source_type_loads_and_fills_every_pipeline_parameter_within_its_pattern(tmp_path, source_type):
    project = config.load(config_dir_with_dev_source(tmp_path, SOURCES[source_type]))
    files = render.render(project)
    tpl = load(files["pipeline.yaml"])
    values = json.loads(files["dev/pipeline.json"])["Parameters"]
    assert values["SourceType"] == source_type
    assert set(values) == set(tpl["Parameters"])
    for key, spec in tpl["Parameters"].items():
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], values[key]), (key, values[key])


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
    assert a["pipeline.yaml"] == b["pipeline.yaml"]
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


def test_pipeline_role_can_only_create_or_update_stacks_not_delete_or_use_change_sets(iam_tpl):
    deploy = role_statements(iam_tpl, "CodePipelineRole")["DeployProjectStacks"]["Action"]
    assert {"cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DescribeStacks"} <= set(deploy)
    assert not [a for a in deploy if "Delete" in a or "ChangeSet" in a or "TerminationProtection" in a]


def test_each_build_role_writes_only_its_own_log_group(iam_tpl, tpl):
    for role, project in (("SynthBuildRole", "SynthProject"), ("UpsertBuildRole", "UpsertProject")):
        logs = role_statements(iam_tpl, role)["BuildLogs"]["Resource"]
        group = tpl["Resources"][project]["Properties"]["Name"]["Ref"]
        assert [r["Fn::Sub"] for r in logs] == [
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/codebuild/${{{group}}}",
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/codebuild/${{{group}}}:*",
        ]


def test_synth_role_may_list_and_add_lambda_zips_but_not_read_or_delete_them(iam_tpl):
    statements = role_statements(iam_tpl, "SynthBuildRole")
    assert statements["LambdaCodeWrite"]["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
    assert statements["LambdaCodeList"]["Condition"]["StringLike"]["s3:prefix"][0] == "lambda/*"
    assert "LambdaCodeRead" not in statements


def test_the_benchmarks_reading_of_the_pipeline_holds_a_conditional_stage():
    """`make bench` counts CodeBuild builds per run from pipeline.yaml; a stage in Fn::If (release approval) broke it."""
    from tests.benchmarks import pipeline as bench

    assert bench.codebuild_builds_per_run() == 2  # Synth and the upsert
