"""A finished execution's report is queryable within minutes: the report-partitions Lambda and its rule.

S3 is moto; Glue is a botocore Stubber (moto's Glue needs a package we do not install), which checks
every request against botocore's Glue service model. Events are shaped as SageMaker documents them
("SageMaker pipeline execution state change").
"""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from infra.stacks import kpi
from infra.config import names
from lambda_src.report_partitions import handler
from tests.support import resolve
from tests.support.events import deliver
from tests.support.cfn import load
from tests.support.s3 import create_bucket

REGION = "eu-west-1"
ACCOUNT = "111111111111"


@pytest.fixture
def n(project):
    return names.for_env(project, next(iter(project.environments)))


@pytest.fixture
def settings(n):
    bucket = f"{n.artifact_bucket_prefix}-{ACCOUNT}-{REGION}"
    return handler.Settings(n.sagemaker_pipeline, bucket, n.evaluation_prefix, n.glue_database, n.evaluation_table, n.crawler)


@pytest.fixture
def aws(settings, monkeypatch):
    handler.client.cache_clear()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        create_bucket(s3, settings.bucket)
        glue = boto3.client("glue", region_name=REGION)
        stubber = Stubber(glue)
        real = handler.client
        monkeypatch.setattr(handler, "client", lambda service: glue if service == "glue" else real(service))
        with stubber:
            yield s3, stubber
        stubber.assert_no_pending_responses()
        real.cache_clear()


def event(pipeline: str, status: str = "Succeeded", execution: str = "p4jn9xou8a8s", region: str = REGION,
          account: str = ACCOUNT) -> dict:
    pipeline_arn = f"arn:aws:sagemaker:{region}:{account}:pipeline/{pipeline}"
    return {
        "version": "0", "id": "315c1398-40ff-a850-213b-158f73kd93ir", "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Building Pipeline Execution Status Change", "account": account,
        "time": "2026-11-26T16:10:11Z", "region": region, "resources": [pipeline_arn, f"{pipeline_arn}/execution/{execution}"],
        "detail": {
            "pipelineExecutionDisplayName": "execution", "currentPipelineExecutionStatus": status,
            "previousPipelineExecutionStatus": "Executing", "executionStartTime": "2026-11-26T16:03:13Z",
            "executionEndTime": "2026-11-26T16:10:10Z", "pipelineExecutionDescription": "",
            "pipelineArn": pipeline_arn, "pipelineExecutionArn": f"{pipeline_arn}/execution/{execution}",
        },
    }


def _report(s3, settings, execution="p4jn9xou8a8s"):
    s3.put_object(Bucket=settings.bucket, Key=f"{settings.prefix}{execution}/evaluation.json",
                  Body=b'{"binary_classification_metrics": {"auc": {"value": 0.9, "standard_deviation": "NaN"}}}')


def _table(settings) -> dict:
    """The table as the crawler describes it (one partition key, one folder per execution)."""
    return {"Table": {
        "Name": settings.table, "DatabaseName": settings.database,
        "PartitionKeys": [{"Name": "partition_0", "Type": "string"}],
        "StorageDescriptor": {
            "Columns": [{"Name": "binary_classification_metrics",
                         "Type": "struct<auc:struct<value:double,standard_deviation:string>>"}],
            "Location": f"s3://{settings.bucket}/{settings.prefix}",
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
            "Compressed": False, "NumberOfBuckets": -1, "StoredAsSubDirectories": False,
            "Parameters": {"classification": "json"},
        },
    }}


@pytest.mark.parametrize("status", ["Succeeded", "Failed", "Stopped"])
def test_a_finished_execution_with_a_report_becomes_a_partition_at_once(aws, settings, status):
    s3, glue = aws
    _report(s3, settings)
    table = _table(settings)
    glue.add_response("get_table", table, {"DatabaseName": settings.database, "Name": settings.table})
    storage = {**table["Table"]["StorageDescriptor"], "Location": f"s3://{settings.bucket}/{settings.prefix}p4jn9xou8a8s/"}
    glue.add_response("create_partition", {}, {"DatabaseName": settings.database, "TableName": settings.table,
                                               "PartitionInput": {"Values": ["p4jn9xou8a8s"], "StorageDescriptor": storage}})
    assert handler.handle(event(settings.pipeline, status), settings) == {"catalogued": True, "outcome": "partition added"}


def test_before_the_first_crawl_the_crawler_starts(aws, settings):
    s3, glue = aws
    _report(s3, settings)
    glue.add_client_error("get_table", "EntityNotFoundException", expected_params={"DatabaseName": settings.database,
                                                                                 "Name": settings.table})
    glue.add_response("start_crawler", {}, {"Name": settings.crawler})
    assert handler.handle(event(settings.pipeline), settings)["outcome"] == "crawler started"


def test_a_repeated_event_finds_the_partition_there(aws, settings):
    s3, glue = aws
    _report(s3, settings)
    glue.add_response("get_table", _table(settings))
    glue.add_client_error("create_partition", "AlreadyExistsException")
    assert handler.handle(event(settings.pipeline), settings)["outcome"] == "partition already there"


def test_a_crawler_already_running_is_no_failure(aws, settings):
    """The first crawl can outlast Lambda's two retries; dead-lettering (and alarming on) a healthy event would
    teach people to ignore the alarm. The running crawl or the next one catalogues the execution."""
    s3, glue = aws
    _report(s3, settings)
    glue.add_client_error("get_table", "EntityNotFoundException")
    glue.add_client_error("start_crawler", "CrawlerRunningException")
    assert handler.handle(event(settings.pipeline), settings)["outcome"] == "crawler already running"


@pytest.mark.parametrize("code", ["ThrottlingException", "InternalServiceException", "AccessDeniedException"])
def test_a_transient_or_denied_call_raises_for_the_retry_and_the_dead_letter_alarm(aws, settings, code):
    s3, glue = aws
    _report(s3, settings)
    glue.add_client_error("get_table", "EntityNotFoundException")
    glue.add_client_error("start_crawler", code)
    with pytest.raises(ClientError):
        handler.handle(event(settings.pipeline), settings)


@pytest.mark.parametrize("change", [
    pytest.param(lambda e, s: e["detail"].update(currentPipelineExecutionStatus="Executing"), id="still_running"),
    pytest.param(lambda e, s: e["detail"].update(currentPipelineExecutionStatus="Stopping"), id="stopping"),
    pytest.param(lambda e, s: e.update(detail=event("someone-elses-pipeline")["detail"]), id="other_pipeline"),
    pytest.param(lambda e, s: e["detail"].pop("pipelineExecutionArn"), id="no_execution_arn"),
    pytest.param(lambda e, s: e.update({"detail-type": "SageMaker Model Package State Change"}), id="other_event"),
    pytest.param(lambda e, s: e.pop("detail"), id="no_detail"),
])
def test_events_that_give_no_partition_are_logged_and_ignored(aws, settings, change, capsys):
    s3, _ = aws
    _report(s3, settings)
    e = event(settings.pipeline)
    change(e, settings)
    assert handler.handle(e, settings)["catalogued"] is False  # the stubber fails any Glue call
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["level"], line["message"]) == ("INFO", "event ignored")


def test_an_execution_that_wrote_no_report_is_ignored(aws, settings):
    assert handler.handle(event(settings.pipeline, "Failed"), settings) == {"catalogued": False, "ignored": "no report"}


def test_lambda_handler_reads_its_settings_from_the_environment(aws, settings, monkeypatch):
    for key, value in {"PIPELINE_NAME": settings.pipeline, "REPORTS_BUCKET": settings.bucket, "REPORTS_PREFIX": settings.prefix,
                       "GLUE_DATABASE": settings.database, "GLUE_TABLE": settings.table, "CRAWLER_NAME": settings.crawler}.items():
        monkeypatch.setenv(key, value)
    assert handler.lambda_handler(event(settings.pipeline), None) == {"catalogued": False, "ignored": "no report"}


# -- the stack ------------------------------------------------------------------------------------
def test_function_gets_this_envs_names(rendered, project):
    for env in project.environments:
        n = names.for_env(project, env)
        stack = resolve.alone(rendered, project, env, "kpi")
        variables = stack.value(stack.template["Resources"]["PartitionsFunction"]["Properties"])["Environment"]["Variables"]
        assert variables == {"PIPELINE_NAME": n.sagemaker_pipeline, "REPORTS_BUCKET": f"<import {n.stack('pipeline')}-ArtifactBucketName>",
                             "REPORTS_PREFIX": n.evaluation_prefix, "GLUE_DATABASE": n.glue_database,
                             "GLUE_TABLE": n.evaluation_table, "CRAWLER_NAME": n.crawler}
        assert n.evaluation_prefix.rstrip("/").endswith("/" + n.evaluation_table)  # the crawler names the table after it


def test_rule_delivers_finished_executions_of_this_pipeline_only(rendered, project):
    for env in project.environments:
        n = names.for_env(project, env)
        stack = resolve.alone(rendered, project, env, "kpi")
        pattern = stack.value(stack.template["Resources"]["PartitionsRule"]["Properties"]["EventPattern"])
        region, account = stack.pseudo["AWS::Region"], stack.pseudo["AWS::AccountId"]
        sent = [event(n.sagemaker_pipeline, s, region=region, account=account)
                for s in ("Executing", "Stopping", "Succeeded", "Failed", "Stopped")]
        sent.append(event("someone-elses-pipeline", "Succeeded", region=region, account=account))
        delivered = sorted((d["pipelineArn"].rsplit("/", 1)[1], d["currentPipelineExecutionStatus"])
                           for d in deliver(pattern, region, sent))
        assert delivered == sorted((n.sagemaker_pipeline, s) for s in kpi.FINISHED_EXECUTION_STATUSES)


def test_its_dead_letters_raise_an_alarm_on_the_topic(rendered, project):
    for env in project.environments:
        n = names.for_env(project, env)
        stack = resolve.alone(rendered, project, env, "kpi")
        resources = stack.template["Resources"]
        queue = f"<import {n.stack('messaging')}-PartitionsDeadLetterQueueArn>"
        assert stack.value(resources["PartitionsRule"]["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"]) == queue
        assert stack.value(resources["PartitionsFunction"]["Properties"]["DeadLetterConfig"]["TargetArn"]) == queue
        alarm = stack.value(resources["PartitionsDeadLetterAlarm"]["Properties"])
        assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": n.partitions_dlq}]
        assert alarm["AlarmActions"] == [f"<import {n.stack('pipeline')}-OperationsTopicArn>"]
