"""The KPI stack: crawler over the reports prefix, Athena limits, opt-in QuickSight, Lambda wiring, lint."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from infra.output import render
from infra import config
from infra.iam.runtime import functions
from infra.stacks import kpi
from infra.output import lambda_package, render
from infra.config import names
from infra.config.names import ATHENA_RESULTS_PREFIX
from lambda_src.registry_metrics import contract
from tests.support import resolve
from tests.support.events import deliver
from tests.support.cfn import load
from tests.conftest import FIXTURE_CONFIG, ROOT
PRINCIPALS = ["arn:aws:quicksight:eu-west-1:111111111111:group/default/ml-team",
              "arn:aws:quicksight:eu-west-1:111111111111:user/default/alice"]


@pytest.fixture
def tmpl(rendered, env):
    return load(rendered[f"{env}/kpi.yaml"])


def _resolved(rendered, project, env, logical_id):
    stack = resolve.alone(rendered, project, env, "kpi")
    return stack.value(stack.template["Resources"][logical_id]["Properties"])


@pytest.mark.every_env
def test_crawler_reads_the_prefix_the_pipeline_writes_evaluation_reports_to(rendered, tmpl, project, env):
    crawler = _resolved(rendered, project, env, "EvaluationReportsCrawler")
    bucket = "<import " + names.for_env(project, env).stack("pipeline") + "-ArtifactBucketName>"
    assert crawler["Targets"]["S3Targets"] == [{"Path": f"s3://{bucket}/{names.for_env(project, env).evaluation_prefix}"}]


@pytest.mark.every_env
def test_crawler_runs_on_the_configured_schedule_with_encrypted_logs(rendered, tmpl, project, env):
    crawler = _resolved(rendered, project, env, "EvaluationReportsCrawler")
    assert crawler["Schedule"]["ScheduleExpression"] == project.env(env).crawler_schedule
    assert crawler["Role"] == f"<import {names.for_env(project, env).stack('iam')}-CrawlerRoleArn>"
    security = tmpl["Resources"]["CrawlerSecurityConfiguration"]["Properties"]["EncryptionConfiguration"]
    assert security["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert security["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert tmpl["Resources"]["EvaluationReportsCrawler"]["Properties"]["CrawlerSecurityConfiguration"] == {"Ref": "CrawlerSecurityConfiguration"}


@pytest.mark.every_env
def test_athena_results_are_encrypted_under_athena_results_with_an_enforced_scan_cutoff(rendered, tmpl, project, env):
    group = _resolved(rendered, project, env, "KpiWorkGroup")["WorkGroupConfiguration"]
    assert group["EnforceWorkGroupConfiguration"] is True
    assert group["BytesScannedCutoffPerQuery"] == project.env(env).athena_bytes_scanned_cutoff
    assert group["ResultConfiguration"]["OutputLocation"].endswith(f"-ArtifactBucketName>/{ATHENA_RESULTS_PREFIX}")
    assert group["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"


@pytest.mark.every_env
def test_quicksight_data_source_exists_only_where_config_names_principals(tmpl, project, env):
    principals = list(project.env(env).quicksight_principals)
    sources = [r for r in tmpl["Resources"].values() if r["Type"] == "AWS::QuickSight::DataSource"]
    assert len(sources) == (1 if principals else 0)
    for source in sources:
        assert "Condition" not in source
        assert [p["Principal"] for p in source["Properties"]["Permissions"]] == principals


def test_no_quicksight_data_source_without_principals(fixture_project, fixture_rendered):
    assert all(not env.quicksight_principals for env in fixture_project.environments.values())
    for env in fixture_project.environments:
        tmpl = load(fixture_rendered[f"{env}/kpi.yaml"])
        assert not [r for r in tmpl["Resources"].values() if r["Type"] == "AWS::QuickSight::DataSource"], env


def quicksight_service_role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/service-role/aws-quicksight-service-role-v0"


@pytest.mark.parametrize("principals", [PRINCIPALS[:1], PRINCIPALS], ids=["one", "two"])
def test_quicksight_data_source_exists_and_grants_exactly_the_configured_principals(tmp_path, principals):
    shutil.copytree(FIXTURE_CONFIG, tmp_path / "config")
    dev_file = tmp_path / "config" / "dev.yaml"
    data = yaml.safe_load(dev_file.read_text())
    data["kpi"]["quicksight_principals"] = principals
    data["account_id"] = principals[0].split(":")[4]  # naming principals needs it
    data["kpi"]["analyst_principals"] = [quicksight_service_role(data["account_id"])]  # QuickSight queries as it
    dev_file.write_text(yaml.safe_dump(data))
    project = config.load(tmp_path / "config")
    files = render.render(project)
    stack = resolve.alone(files, project, "dev", "kpi")
    n = names.for_env(project, "dev")
    source = stack.value(stack.template["Resources"]["KpiDataSource"]["Properties"])
    # One permission per principal, each with the same actions: no empty slot, no principal left out.
    assert [p["Principal"] for p in source["Permissions"]] == principals
    assert all(p["Actions"] == kpi.QUICKSIGHT_ACTIONS for p in source["Permissions"])
    assert source["DataSourceId"] == source["Name"] == f"{n.prefix}-kpi-athena"
    assert source["Type"] == "ATHENA" and source["DataSourceParameters"]["AthenaParameters"]["WorkGroup"] == "<Ref KpiWorkGroup>"
    # prod lists none: it has no data source, and none of dev's principals.
    prod = load(files["prod/kpi.yaml"])
    assert "KpiDataSource" not in prod["Resources"] and not [p for p in principals if p in files["prod/kpi.yaml"]]


# What AWS::QuickSight::DataSource Permissions takes (QuickSight API reference, ResourcePermission: 1 to 64 items).
DATA_SOURCE_PERMISSIONS = 64


def test_as_many_quicksight_principals_as_the_data_source_takes_each_get_a_permission_and_no_more_load(tmp_path):
    shutil.copytree(FIXTURE_CONFIG, tmp_path / "config")
    dev_file = tmp_path / "config" / "dev.yaml"
    data = yaml.safe_load(dev_file.read_text())
    principals = [f"arn:aws:quicksight:eu-west-1:111111111111:user/default/u{i}" for i in range(DATA_SOURCE_PERMISSIONS + 1)]
    data["kpi"]["quicksight_principals"] = principals[:-1]
    data["account_id"] = principals[0].split(":")[4]  # naming principals needs it
    data["kpi"]["analyst_principals"] = [quicksight_service_role(data["account_id"])]  # QuickSight queries as it
    dev_file.write_text(yaml.safe_dump(data))
    kpi = load(render.render(config.load(tmp_path / "config"))["dev/kpi.yaml"])
    assert [p["Principal"] for p in kpi["Resources"]["KpiDataSource"]["Properties"]["Permissions"]] == principals[:-1]
    data["kpi"]["quicksight_principals"] = principals
    dev_file.write_text(yaml.safe_dump(data))
    with pytest.raises(config.ConfigError, match="kpi.quicksight_principals"):
        config.load(tmp_path / "config")


@pytest.mark.every_env
def test_metrics_function_runs_the_packaged_handler_with_this_envs_namespace_and_group(rendered, tmpl, project, env):
    n = names.for_env(project, env)
    fn = _resolved(rendered, project, env, "MetricsFunction")
    assert fn["Handler"] == "registry_metrics.handler.lambda_handler"
    assert tuple(int(p) for p in fn["Runtime"].removeprefix("python").split(".")) >= (3, 12)
    assert fn["Code"]["S3Key"] == lambda_package.parameters(ROOT / "lambda_src")["MetricsCodeKey"]
    assert fn["Environment"]["Variables"] == {"METRICS_NAMESPACE": n.metrics_namespace, "MODEL_PACKAGE_GROUP": n.model_package_group,
                                              "LEDGER_BUCKET": f"<import {n.stack('pipeline')}-ArtifactBucketName>",
                                              "LEDGER_PREFIX": n.registry_ledger_prefix, "DECISIONS_PREFIX": n.decisions_prefix}
    assert fn["FunctionName"] == n.metrics_function
    assert "DeadLetterConfig" in fn


def test_metrics_code_key_names_the_registry_metrics_zip():
    key = lambda_package.parameters(ROOT / "lambda_src")["MetricsCodeKey"]
    assert key.startswith("lambda/registry_metrics-") and key.endswith(".zip")
    import io
    import zipfile

    zipped = zipfile.ZipFile(io.BytesIO(lambda_package.build_zip(ROOT / "lambda_src" / "registry_metrics")))
    assert {"registry_metrics/handler.py", "registry_metrics/contract.py"} <= set(zipped.namelist())


@pytest.mark.every_env
def test_rule_target_retries_and_dead_letters(tmpl, rendered, project, env):
    n = names.for_env(project, env)
    (target,) = tmpl["Resources"]["MetricsRule"]["Properties"]["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::ImportValue": f"{n.stack('messaging')}-MetricsDeadLetterQueueArn"}
    messaging = load(rendered[f"{env}/messaging.yaml"])  # the queue and its policy: administrator-only
    assert messaging["Outputs"]["MetricsDeadLetterQueueArn"]["Value"] == {"Fn::GetAtt": ["MetricsDeadLetterQueue", "Arn"]}
    queue = messaging["Resources"]["MetricsDeadLetterQueue"]
    assert queue["Properties"]["SqsManagedSseEnabled"] is True and queue["DeletionPolicy"] == "RetainExceptOnCreate"


@pytest.mark.every_env
def test_rule_delivers_every_status_of_this_groups_completed_packages_and_nothing_else(rendered, tmpl, project, env):
    n = names.for_env(project, env)
    pattern = _resolved(rendered, project, env, "MetricsRule")["EventPattern"]

    def change(group, status, package_status="Completed"):
        return {"source": "aws.sagemaker", "detail-type": "SageMaker Model Package State Change",
                "detail": {"ModelPackageGroupName": group, "ModelApprovalStatus": status, "ModelPackageVersion": 1,
                           "ModelPackageStatus": package_status}}

    sent = [change(n.model_package_group, status) for status in contract.COUNTED_STATUSES]
    sent.append(change("someone-elses-models", "Approved"))
    sent += [change(n.model_package_group, "PendingManualApproval", unfinished) for unfinished in ("InProgress", "Failed", "Deleting")]
    statuses = sorted(d["ModelApprovalStatus"] for d in deliver(pattern, "eu-west-1", sent))
    assert statuses == sorted(contract.COUNTED_STATUSES)


@pytest.mark.every_env
def test_pipeline_failed_alarm_pages_on_the_broken_runs_the_notifier_counts(rendered, tmpl, project, env):
    """Not on AWS's ExecutionFailed, which the quality gate's Fail step moves too: on the notifications stack's count
    of broken runs (tests/functions/test_notifier_tells_the_quality_gate_from_a_broken_run.py: which lines it counts)."""
    n = names.for_env(project, env)
    alarm = _resolved(rendered, project, env, "PipelineFailedAlarm")
    assert alarm["AlarmName"] == f"{n.prefix}-sagemaker-pipeline-failed"
    notifications = resolve.alone(rendered, project, env, "notifications")
    counted = notifications.value(notifications.template["Resources"]["PipelineBrokenRunsFilter"]["Properties"])
    (transform,) = counted["MetricTransformations"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (transform["MetricNamespace"], transform["MetricName"])
    assert "Dimensions" not in alarm and "Dimensions" not in transform
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmActions"] == [f"<import {n.stack('pipeline')}-OperationsTopicArn>"]


@pytest.mark.every_env
def test_the_kpi_template_is_concrete_and_its_configuration_holds_no_parameter(rendered, tmpl, env):
    """Every config value is written in: no parameter, condition or Fn::If is left for CloudFormation to decide."""
    assert not {"Parameters", "Conditions"} & set(tmpl)
    text = json.dumps(tmpl)
    assert "Fn::If" not in text and "AWS::NoValue" not in text
    assert json.loads(rendered[f"{env}/kpi.json"])["Parameters"] == {}


def _statements(fn):
    from troposphere import encode_to_dict

    from infra.iam.policies import document

    return encode_to_dict(document(fn()))["Statement"]


def test_metrics_function_role_publishes_only_into_the_project_namespace():
    statements = {s["Sid"]: s for s in _statements(functions.metrics_function_statements)}
    put = statements["RegistryMetrics"]
    assert put["Action"] == ["cloudwatch:PutMetricData"]
    assert put["Condition"] == {"StringLike": {"cloudwatch:namespace": {"Fn::Sub": "${MetricsNamespace}"}}}
    assert statements["DescribeModelPackages"]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:model-package-group/${ModelPackageGroupName}"},
        {"Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:model-package/${ModelPackageGroupName}/*"},
    ]
    for s in statements.values():
        assert all("*" not in a for a in s["Action"]), s
        if s["Resource"] == ["*"]:
            assert s["Action"] == ["cloudwatch:PutMetricData"]


def test_metrics_function_role_writes_only_its_count_markers_and_decision_records():
    bucket = "arn:${AWS::Partition}:s3:::${ArtifactBucketPrefix}-${AWS::AccountId}-${AWS::Region}"
    writes = [(s["Action"], s["Resource"]) for s in _statements(functions.metrics_function_statements)
              if {"s3:PutObject", "s3:DeleteObject"} & set(s["Action"])]
    assert writes == [(["s3:PutObject", "s3:DeleteObject"], [{"Fn::Sub": f"{bucket}/${{RegistryLedgerPrefix}}*"}]),
                      (["s3:PutObject"], [{"Fn::Sub": f"{bucket}/${{DecisionsPrefix}}*"}])]  # records are never deleted


def test_crawler_role_can_decrypt_reports_and_encrypt_its_logs():
    statements = {s["Sid"]: s for s in _statements(functions.crawler_statements)}
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= set(statements["ReportsAndLogsKey"]["Action"])
    assert statements["EncryptCrawlerLogs"]["Action"] == ["logs:AssociateKmsKey"]
    assert statements["EvaluationReportsRead"]["Resource"][0]["Fn::Sub"].endswith("/${EvaluationReportsPrefix}*")


def test_the_crawler_makes_its_table_at_the_evaluation_folder_of_every_env(rendered, project):
    """Glue picks the table's folder itself unless told; with one execution folder it may pick that folder."""
    import json

    from tests.support.resolve import resolve_all
    from infra.stacks import BUILDERS

    for env in project.environments:
        stacks = resolve_all(rendered, project, env, list(BUILDERS))
        (crawler,) = stacks["kpi"].resources("AWS::Glue::Crawler").values()
        level = json.loads(crawler["Properties"]["Configuration"])["Grouping"]["TableLevelConfiguration"]
        (target,) = crawler["Properties"]["Targets"]["S3Targets"]
        folders = target["Path"].removeprefix("s3://").rstrip("/").split("/")[1:]  # below the bucket
        assert level == len(folders), f"env {env}: table level {level}, but the reports live at {'/'.join(folders)}"
        table = stacks["kpi"].resources("AWS::Lambda::Function")["PartitionsFunction"]["Properties"]["Environment"]["Variables"]["GLUE_TABLE"]
        assert table == folders[-1], f"env {env}: the partitions function adds partitions to {table}, the crawler makes {folders[-1]}"


def test_every_crawler_keeps_one_schema_for_old_and_new_partitions(project, rendered):
    """A report that gains a metric must not break the partitions crawled before it. Without InheritFromTable each
    partition keeps the schema its own files had, and Athena refuses a table whose partitions' schemas disagree
    with it ("HIVE_PARTITION_SCHEMA_MISMATCH"); with it, Glue gives every partition the table's schema ("How to prevent
    the crawler from changing an existing schema", AWS Glue developer guide), which gains the new column
    (UPDATE_IN_DATABASE), and older partitions read it as null. Every crawler of every env and variant."""
    from tests.support.concrete_envs import env_renders

    checked = 0
    for env in env_renders(project, rendered):
        for stack in env.stacks:
            for logical_id, resource in env.template(stack)["Resources"].items():
                if resource["Type"] != "AWS::Glue::Crawler":
                    continue
                properties = resource["Properties"]
                configuration = json.loads(properties["Configuration"])
                where = f"{env.label}: {stack} {logical_id}"
                assert configuration["Version"] == 1.0, where
                assert configuration["CrawlerOutput"]["Partitions"] == {"AddOrUpdateBehavior": "InheritFromTable"}, where
                assert properties["SchemaChangePolicy"]["UpdateBehavior"] == "UPDATE_IN_DATABASE", where
                checked += 1
    assert checked >= len(project.environments)


@pytest.mark.every_env
def test_the_decisions_table_reads_what_the_metrics_function_writes(rendered, project, env):
    """Same bucket and folder as the function's records, the columns each record holds, one JSON object a line."""
    stack = resolve.alone(rendered, project, env, "kpi")
    variables = stack.value(stack.template["Resources"]["MetricsFunction"]["Properties"])["Environment"]["Variables"]
    table = stack.value(stack.template["Resources"]["DecisionsTable"]["Properties"])["TableInput"]
    storage = table["StorageDescriptor"]
    assert storage["Location"] == f"s3://{variables['LEDGER_BUCKET']}/{variables['DECISIONS_PREFIX']}"
    assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == list(contract.DECISION_COLUMNS)
    assert storage["SerdeInfo"]["SerializationLibrary"] == "org.apache.hive.hcatalog.data.JsonSerDe"
    assert table["Name"] == names.DECISIONS_TABLE and "PartitionKeys" not in table  # every file, no partition to add
