"""KPI stack: what an ML platform team looks at every morning, and the analytics path behind it.

- a CloudWatch dashboard (infra/parts/kpi_dashboard.py) over SageMaker pipeline metrics and the registry
  KPIs the registry-metrics Lambda publishes (lambda_src/registry_metrics, contract.py);
- that Lambda, its own EventBridge rule on every model package state change of the group, retries
  and an SQS dead-letter queue (the messaging stack's, like the report-partitions one);
- the report-partitions Lambda (lambda_src/report_partitions): a finished pipeline execution's report
  becomes a partition of the crawled table at once (or the first crawl starts), with retries and a DLQ;
- alarms: pipeline execution failed, dead letters waiting (either Lambda) -> the operations topic; a failed
  crawl -> the operations topic (infra/parts/crawler_failures.py);
- Glue database + crawler over the evaluation reports (encrypted logs), the declared table of decisions on model
  versions (docs/analysts.md), an Athena workgroup with
  encrypted results and a scan cutoff, and a QuickSight Athena data source when principals are set.
"""
from __future__ import annotations

import json

from troposphere import (
    AWS_ACCOUNT_ID,
    GetAtt,
    Join,
    Ref,
    Sub,
    Template,
    athena,
    cloudwatch,
    events,
    glue,
    scheduler,
)
from troposphere import awslambda

from infra.config.names import Names
from infra.cfn import scanner_skips
from infra.cfn.exports import import_value
from troposphere import quicksight
from infra.cfn.templates_common import new_template
from infra.config.names import ATHENA_RESULTS_PREFIX, EVALUATION_TABLE_LEVEL, deploys
from infra.iam import rule_events
from infra.parts import alarms, crawler_failures, functions, kpi_dashboard, model_package_events
from infra.parts.messaging_names import PIPELINE_BROKEN_METRIC
from lambda_src.registry_metrics import contract
from lambda_src.subscriber_check import contract as subscriber_check

QUICKSIGHT_ACTIONS = ["quicksight:DescribeDataSource", "quicksight:DescribeDataSourcePermissions", "quicksight:PassDataSource"]


def _bucket():
    return import_value("PipelineStackName", "ArtifactBucketName")


def _key_arn():
    return import_value("PipelineStackName", "ArtifactKeyArn")


# -- registry metrics ------------------------------------------------------------------------------
# Reads first, then claims and publishes within handler.CLAIM_BUDGET_MS (45 s) of what is left.
METRICS_TIMEOUT_SECONDS = 120


def _dead_letter_queue_arn(prefix: str):
    """The function's dead-letter queue, made with its policy by the administrator-only messaging stack."""
    return import_value("MessagingStackName", f"{prefix}DeadLetterQueueArn")


def _function(prefix: str, what: str, folder: str, description: str, memory: int, timeout: int, environment: dict):
    return functions.Function(
        prefix, f"{prefix}FunctionName", f"{folder}.handler.lambda_handler", description,
        role_arn=import_value("IamStackName", f"{prefix}FunctionRoleArn"), code=(f"{prefix}CodeKey", folder, what),
        code_bucket=_bucket(), key_arn=_key_arn(), dead_letter_queue_arn=_dead_letter_queue_arn(prefix),
        environment=environment, memory=memory, timeout=timeout)


def _registry_metrics(t: Template) -> awslambda.Function:
    MetricsDeadLetterQueue = _dead_letter_queue_arn("Metrics")
    MetricsFunction = functions.add(t, _function(
        "Metrics", "registry-metrics", "registry_metrics",
        "Publishes model registry KPIs (registrations, approvals, rejections, model quality) to CloudWatch",
        256, METRICS_TIMEOUT_SECONDS, {
            "METRICS_NAMESPACE": Ref("MetricsNamespace"),
            "MODEL_PACKAGE_GROUP": Ref("ModelPackageGroupName"),
            "LEDGER_BUCKET": _bucket(),
            "LEDGER_PREFIX": Ref("RegistryLedgerPrefix"),
            "DECISIONS_PREFIX": Ref("DecisionsPrefix"),
        }))
    MetricsRule = t.add_resource(events.Rule(
        "MetricsRule",
        Name=Ref("MetricsRuleName"),
        Description="Every model package state change of this environment's group -> registry-metrics Lambda",
        # Every status (the notifications rule forwards only those that notify, so it cannot count).
        EventPattern=model_package_events.event_pattern(sorted(contract.COUNTED_STATUSES)),
        State="ENABLED",
        Targets=[model_package_events.lambda_target("RegistryMetrics", MetricsFunction, MetricsDeadLetterQueue)],
    ))
    model_package_events.invoke_permission(t, "MetricsInvokePermission", MetricsFunction, MetricsRule)
    return MetricsFunction


# -- report partitions: a finished execution's report is queryable within minutes -------------------
FINISHED_EXECUTION_STATUSES = ["Failed", "Stopped", "Succeeded"]  # a failed execution may have evaluated


def partitions_event_pattern() -> dict:
    return {
        "detail": {
            "currentPipelineExecutionStatus": FINISHED_EXECUTION_STATUSES,
            "pipelineArn": [Sub("arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:pipeline/${SageMakerPipelineName}")],
        },
        **rule_events.pattern_head(rule_events.PIPELINE_EXECUTION_STATUS),
    }


def _report_partitions(t: Template) -> None:
    PartitionsDeadLetterQueue = _dead_letter_queue_arn("Partitions")
    PartitionsFunction = functions.add(t, _function(
        "Partitions", "report-partitions", "report_partitions",
        "Adds a finished SageMaker pipeline execution's evaluation report to the KPI table", 128, 30, {
            "PIPELINE_NAME": Ref("SageMakerPipelineName"),
            "REPORTS_BUCKET": _bucket(),
            "REPORTS_PREFIX": Ref("EvaluationReportsPrefix"),
            "GLUE_DATABASE": Ref("GlueDatabaseName"),
            "GLUE_TABLE": Ref("EvaluationTableName"),
            "CRAWLER_NAME": Ref("CrawlerName"),
        }))
    PartitionsRule = t.add_resource(events.Rule(
        "PartitionsRule",
        Name=Ref("PartitionsRuleName"),
        Description="A finished execution of this environment's SageMaker pipeline -> report-partitions Lambda",
        EventPattern=partitions_event_pattern(),
        State="ENABLED",
        Targets=[model_package_events.lambda_target("ReportPartitions", PartitionsFunction, PartitionsDeadLetterQueue)],
    ))
    model_package_events.invoke_permission(t, "PartitionsInvokePermission", PartitionsFunction, PartitionsRule)


# -- who hears the topics: a topic nobody is subscribed to raises an alarm that needs no e-mail to be seen ----------
SUBSCRIBER_CHECK_SCHEDULE = "rate(15 minutes)"  # four counts in each hour the alarm looks at
# The alarm's logical-ID prefix -> the parameter naming the topic it watches.
WATCHED_TOPICS = {"Approvals": "TopicName", "Operations": "OperationsTopicName"}


def _subscriber_check(t: Template) -> None:
    """A scheduled Lambda counts each topic's confirmed subscribers (SNS publishes no such metric) and an alarm per topic
    fires below one or when no count arrives; both alarms are on the dashboard and in `make status`."""
    SubscriberCheckFunction = functions.add(t, functions.Function(
        "SubscriberCheck", "SubscriberCheckFunctionName", "subscriber_check.handler.lambda_handler",
        "Publishes how many confirmed subscribers each topic of the environment has",
        role_arn=import_value("IamStackName", "SubscriberCheckFunctionRoleArn"),
        code=("SubscriberCheckCodeKey", "subscriber_check", "subscriber-check"), code_bucket=_bucket(), key_arn=_key_arn(),
        dead_letter_queue_arn=None, memory=128, timeout=30, environment={
            "TOPIC_ARNS": Join(",", [import_value("MessagingStackName", "ApprovalsTopicArn"),
                                     import_value("PipelineStackName", "OperationsTopicArn")]),
            "METRICS_NAMESPACE": Ref("MetricsNamespace"),
        }))
    # A Scheduler schedule, not an EventBridge rule: a deploy role can be held to a rule's events (events:source) but
    # not to a schedule, so a rule that may be rewritten could match any event; a schedule matches none.
    t.add_resource(scheduler.Schedule(
        "SubscriberCheckSchedule",
        Name=Ref("SubscriberCheckScheduleName"),
        Description="Every 15 minutes -> the subscriber-check Lambda (confirmed subscribers of each topic)",
        ScheduleExpression=SUBSCRIBER_CHECK_SCHEDULE,
        FlexibleTimeWindow=scheduler.FlexibleTimeWindow(Mode="OFF"),
        State="ENABLED",
        Target=scheduler.Target(Arn=GetAtt(SubscriberCheckFunction, "Arn"),
                                RoleArn=import_value("IamStackName", "SubscriberScheduleRoleArn")),
    ))
    # Each alarm tells the other topic: an alarm that nobody hears a topic cannot be heard on that topic.
    told = {"Approvals": import_value("PipelineStackName", "OperationsTopicArn"),
            "Operations": import_value("MessagingStackName", "ApprovalsTopicArn")}
    for prefix, name_param in WATCHED_TOPICS.items():
        t.add_resource(alarms.none_in_an_hour(
            f"{prefix}TopicUnheardAlarm", Sub(f"${{{name_param}}}-unheard"),
            Sub(f"${{{name_param}}} has no confirmed subscriber (or the subscriber check did not run): its messages reach "
                "no one. make status lists the subscriptions waiting for confirmation"),
            Ref("MetricsNamespace"), subscriber_check.METRIC, told[prefix], (subscriber_check.DIMENSION, Ref(name_param))))


# -- alarms and dashboard --------------------------------------------------------------------------
def _alarms(t: Template) -> None:
    topic = import_value("PipelineStackName", "OperationsTopicArn")
    # Broken runs only (counted by the notifications stack from the notifier's log): a run the quality gate's Fail step
    # stopped is a model below the threshold, told on the approvals topic, not a page.
    t.add_resource(alarms.any_in_five_minutes(
        "PipelineFailedAlarm", Sub("${ResourcePrefix}-sagemaker-pipeline-failed"),
        Sub("A ${SageMakerPipelineName} run broke (not its quality gate): the approvals topic's message has its link and reason"),
        Ref("MetricsNamespace"), Sub(PIPELINE_BROKEN_METRIC), topic, ok_actions=False))
    model_package_events.dead_letter_alarm(
        t, "MetricsDeadLetterAlarm", Sub("${ResourcePrefix}-registry-metrics-dead-letters"),
        Ref("MetricsDeadLetterQueueName"), topic,
        "Model package events the registry-metrics Lambda could not handle wait in its DLQ",
    )
    model_package_events.dead_letter_alarm(
        t, "PartitionsDeadLetterAlarm", Sub("${ResourcePrefix}-report-partitions-dead-letters"),
        Ref("PartitionsDeadLetterQueueName"), topic,
        "Finished executions whose evaluation report could not be catalogued wait in the report-partitions DLQ",
    )
    # These functions dead-letter their failed invocations themselves (DeadLetterConfig): DeadLetterErrors.
    model_package_events.delivery_failure_alarms(t, "Metrics", "registry-metrics", Ref("MetricsFunctionName"),
                                                 Ref("MetricsRuleName"), topic, "DeadLetterErrors")
    model_package_events.delivery_failure_alarms(t, "Partitions", "report-partitions", Ref("PartitionsFunctionName"),
                                                 Ref("PartitionsRuleName"), topic, "DeadLetterErrors")
    crawler_failures.add(t, topic)


def _dashboard(t: Template, n: Names) -> None:
    """Graphs, every function and dead-letter queue of the stacks the env has (FUNCTIONS), and every alarm of this
    stack: a function or an alarm added is listed with no further edit."""
    alarm_ids = tuple(sorted(key for key, resource in t.resources.items() if resource.resource_type == "AWS::CloudWatch::Alarm"))
    listed = tuple(f for f in functions.FUNCTIONS.values()
                   if deploys(n.env, f.stack) and (n.models_taker or not f.source_only))
    t.add_resource(cloudwatch.Dashboard(
        "KpiDashboard",
        DashboardName=Ref("DashboardName"),
        # Envs that serve models also graph their endpoints and the version production serves.
        DashboardBody=Sub(kpi_dashboard.body_text(endpoints=n.env.deployment is not None, alarms=alarm_ids, functions=listed)),
    ))


# -- analytics: Glue, Athena, QuickSight ------------------------------------------------------------
def crawler_path() -> Sub:
    return Sub("s3://${Bucket}/${EvaluationReportsPrefix}", Bucket=_bucket())


# "Setting crawler configuration options" (AWS Glue developer guide).
CRAWLER_CONFIGURATION = {
    "Version": 1.0,
    # One table for all executions (partition = execution folder), even as metrics are added. The table sits at
    # the evaluation folder, one partition per execution, even when only one execution folder exists yet
    # (without a level, Glue may make the table at that one folder).
    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas", "TableLevelConfiguration": EVALUATION_TABLE_LEVEL},
    # Every partition takes the table's schema: once a report gains a metric, the table gains the column and the
    # older partitions read it as null, instead of keeping their own schemas that Athena finds incompatible.
    "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
}


def _glue(t: Template) -> None:
    KpiDatabase = t.add_resource(glue.Database(
        "KpiDatabase",
        CatalogId=Ref(AWS_ACCOUNT_ID),
        DatabaseInput=glue.DatabaseInput(Name=Ref("GlueDatabaseName"),
                                         Description="Model evaluation reports of the SageMaker pipeline"),
    ))
    CrawlerSecurityConfiguration = t.add_resource(glue.SecurityConfiguration(
        "CrawlerSecurityConfiguration",
        Name=Sub("${ResourcePrefix}-kpi-crawler"),
        EncryptionConfiguration=glue.EncryptionConfiguration(
            S3Encryptions=[glue.S3Encryption(S3EncryptionMode="SSE-KMS", KmsKeyArn=_key_arn())],
            CloudWatchEncryption=glue.CloudWatchEncryption(CloudWatchEncryptionMode="SSE-KMS", KmsKeyArn=_key_arn()),
            JobBookmarksEncryption=glue.JobBookmarksEncryption(JobBookmarksEncryptionMode="CSE-KMS", KmsKeyArn=_key_arn()),
        ),
    ))
    _decisions_table(t, KpiDatabase)
    t.add_resource(glue.Crawler(
        "EvaluationReportsCrawler",
        Name=Ref("CrawlerName"),
        Description="Catalogues the evaluation reports (one folder per pipeline execution) for Athena",
        Role=import_value("IamStackName", "CrawlerRoleArn"),
        DatabaseName=Ref(KpiDatabase),
        Targets=glue.Targets(S3Targets=[glue.S3Target(Path=crawler_path())]),
        Schedule=glue.Schedule(ScheduleExpression=Ref("CrawlerSchedule")),
        CrawlerSecurityConfiguration=Ref(CrawlerSecurityConfiguration),
        SchemaChangePolicy=glue.SchemaChangePolicy(UpdateBehavior="UPDATE_IN_DATABASE", DeleteBehavior="LOG"),
        Configuration=json.dumps(CRAWLER_CONFIGURATION, sort_keys=True, separators=(",", ":")),
    ))


def _decisions_table(t: Template, database: glue.Database) -> None:
    """The registry-metrics function's decision records (one JSON object per line, a schema it owns): declared, not
    crawled, so a record is queryable the moment it is written. Unpartitioned: Athena reads every object under the
    location. Hive's JSON SerDe, one object per line ("JSON SerDe libraries", Athena user guide: Athena's page on the
    OpenX JSON SerDe warns its results can be non-deterministic and points to this one)."""
    t.add_resource(glue.Table(
        "DecisionsTable",
        CatalogId=Ref(AWS_ACCOUNT_ID),
        DatabaseName=Ref(database),
        TableInput=glue.TableInput(
            Name=Ref("DecisionsTableName"),
            Description="Who approved or rejected each model version, and when; joins the evaluation table on execution_id",
            TableType="EXTERNAL_TABLE",
            Parameters={"classification": "json"},
            StorageDescriptor=glue.StorageDescriptor(
                Location=Sub("s3://${Bucket}/${DecisionsPrefix}", Bucket=_bucket()),
                InputFormat="org.apache.hadoop.mapred.TextInputFormat",
                OutputFormat="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                SerdeInfo=glue.SerdeInfo(SerializationLibrary="org.apache.hive.hcatalog.data.JsonSerDe"),
                Columns=[glue.Column(Name=name, Type=kind) for name, kind in contract.DECISION_COLUMNS],
            ),
        ),
    ))


def _athena(t: Template) -> athena.WorkGroup:
    return t.add_resource(athena.WorkGroup(
        "KpiWorkGroup",
        Name=Ref("AthenaWorkGroupName"),
        Description="KPI queries over the evaluation reports; results encrypted, scans capped",
        State="ENABLED",
        WorkGroupConfiguration=athena.WorkGroupConfiguration(
            EnforceWorkGroupConfiguration=True,
            PublishCloudWatchMetricsEnabled=True,
            BytesScannedCutoffPerQuery=Ref("AthenaBytesScannedCutoff"),
            ResultConfiguration=athena.ResultConfiguration(
                OutputLocation=Sub(f"s3://${{Bucket}}/{ATHENA_RESULTS_PREFIX}", Bucket=_bucket()),
                EncryptionConfiguration=athena.EncryptionConfiguration(EncryptionOption="SSE_KMS", KmsKey=_key_arn()),
            ),
        ),
    ))


def _quicksight(t: Template, workgroup: athena.WorkGroup, principals: tuple[str, ...]) -> None:
    """The Athena data source, shared with the env's QuickSight principals (none: no data source)."""
    if not principals:
        return
    t.add_resource(quicksight.DataSource(
        "KpiDataSource",
        AwsAccountId=Ref(AWS_ACCOUNT_ID),
        DataSourceId=Sub("${ResourcePrefix}-kpi-athena"),
        Name=Sub("${ResourcePrefix}-kpi-athena"),
        Type="ATHENA",
        DataSourceParameters=quicksight.DataSourceParameters(
            AthenaParameters=quicksight.AthenaParameters(WorkGroup=Ref(workgroup)),
        ),
        Permissions=[quicksight.ResourcePermission(Principal=principal, Actions=QUICKSIGHT_ACTIONS) for principal in principals],
    ))


def build(n: Names) -> Template:
    t = new_template("KPIs of the SageMaker MLOps project: dashboard, registry metrics, alarms, Glue/Athena/QuickSight")
    _registry_metrics(t)
    _report_partitions(t)
    _subscriber_check(t)
    _alarms(t)
    _dashboard(t, n)
    _glue(t)
    _quicksight(t, _athena(t), n.env.quicksight_principals)
    scanner_skips.apply(t, "kpi")
    return t
