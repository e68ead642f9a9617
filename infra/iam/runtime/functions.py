"""The functions' and the crawler's statements: the approval notifier, the registry-metrics and report-partitions
Lambdas, the KPI crawler; in an env whose versions another account serves, the archive pin and the role forwarding
decisions to that account's bus. The boundary of kind FUNCTIONS is computed from these."""
from __future__ import annotations

import awacs.awslambda
import awacs.cloudwatch
import awacs.codepipeline
import awacs.events
import awacs.glue
import awacs.iam
import awacs.logs
import awacs.s3
import awacs.sagemaker
import awacs.servicequotas
import awacs.sns
import awacs.sqs
from awacs.aws import Allow, Condition, Statement, StringEquals
from troposphere import Sub

from infra.config.names import Names
from infra.iam.deploy_policies import actions, production_rollout
from infra.iam.policies import (arn, artifact_bucket_arn, decrypt_by_alias, encrypt_by_alias, list_prefix, models_arn,
                                publish_to_topic, put_metrics, read_prefix, read_served_archives, tag_approved_archives,
                                use_key_by_alias, verify_source_archives, write_logs)

# CloudFormation tags what it makes with its stack's name (a system tag: `aws:` keys are AWS's alone).
STACK_NAME_TAG = "aws:ResourceTag/aws:cloudformation:stack-name"


def consumer_statements(function_name_param: str, dead_letter_queue_param: str) -> list[Statement]:
    """What a function handling these events needs: describe this group's packages, read their quality
    reports (SSE-KMS with the artifact key), write its own logs, send to its dead-letter queue."""
    return [
        Statement(
            Sid="DescribeModelPackages",
            Effect=Allow,
            Action=[awacs.sagemaker.DescribeModelPackage, awacs.sagemaker.DescribeModelPackageGroup],
            Resource=[
                arn("sagemaker", "model-package-group/${ModelPackageGroupName}"),
                arn("sagemaker", "model-package/${ModelPackageGroupName}/*"),
            ],
        ),
        *read_prefix("EvaluationReports", "${EvaluationReportsPrefix}"),
        decrypt_by_alias("DecryptReports", "${ArtifactKeyAlias}"),
        write_logs("FunctionLogs", f"/aws/lambda/${{{function_name_param}}}"),
        Statement(
            Sid="DeadLetters",
            Effect=Allow,
            Action=[awacs.sqs.SendMessage],
            Resource=[arn("sqs", f"${{{dead_letter_queue_param}}}")],
        ),
    ]


def notifier_statements() -> list[Statement]:
    """The event consumer's basics, plus: read a failed run's steps and failure reason (this env's pipeline), mark
    what it published (SSE-KMS markers beside the metrics function's counts, under notified/ folders), publish to
    this topic, use the notifications key."""
    return [
        *consumer_statements("NotifierFunctionName", "NotifierDeadLetterQueueName"),
        Statement(
            Sid="ReadFailedRuns",
            Effect=Allow,
            Action=[awacs.sagemaker.ListPipelineExecutionSteps, awacs.sagemaker.DescribePipelineExecution],
            Resource=[arn("sagemaker", "pipeline/${SageMakerPipelineName}/execution/*")],
        ),
        Statement(
            Sid="PublishedLedger",
            Effect=Allow,
            Action=[awacs.s3.PutObject, awacs.s3.DeleteObject],
            Resource=[artifact_bucket_arn("/${RegistryLedgerPrefix}*/notified/*")],
        ),
        encrypt_by_alias("PublishedLedgerEncrypt", "${ArtifactKeyAlias}"),
        publish_to_topic("PublishApprovals", arn("sns", "${TopicName}")),
        # Topic, dead-letter queue and environment are encrypted with the notifications key.
        use_key_by_alias("NotificationsKey", "${NotificationsKeyAlias}"),
    ]


def crawler_statements() -> list[Statement]:
    """What AWS documents for a crawler's role, as far as ours needs it, scoped to this env: AWSGlueServiceRole's catalog,
    bucket, own-role and log actions ("Step 3: Configure security settings", AWS Glue developer guide), the data
    store's objects and their key, and, since its security configuration encrypts its logs with the artifact key, that
    key's use ("Setting up AWS Glue to use security configurations"). tests/iam/test_crawler_role.py holds the table.

    With a security configuration Glue logs to "/aws-glue/crawlers-role/<role>-<configuration>" (the role
    path may or may not appear, hence the inner *) and
    associates the configuration's key with that group, hence AssociateKmsKey.
    """
    return [
        *read_prefix("EvaluationReports", "${EvaluationReportsPrefix}"),
        Statement(Sid="ReportsBucket", Effect=Allow, Action=[awacs.s3.GetBucketLocation, awacs.s3.GetBucketAcl],
                  Resource=[artifact_bucket_arn()]),
        # Reads the SSE-KMS reports; CloudWatch Logs encrypts the crawler's logs with it for the crawler's role.
        use_key_by_alias("ReportsAndLogsKey", "${ArtifactKeyAlias}"),
        write_logs("CrawlerLogs", "/aws-glue/crawlers-role/*${CrawlerRoleName}-*"),
        Statement(
            Sid="EncryptCrawlerLogs",
            Effect=Allow,
            Action=[awacs.logs.AssociateKmsKey],
            Resource=[arn("logs", "log-group:/aws-glue/crawlers-role/*${CrawlerRoleName}-*:*")],
        ),
        Statement(
            Sid="KpiCatalog",
            Effect=Allow,
            Action=actions(awacs.glue, "GetDatabase", "GetTable", "GetTables", "CreateTable", "UpdateTable",
                           "BatchGetPartition", "GetPartition", "GetPartitions", "CreatePartition",
                           "BatchCreatePartition", "UpdatePartition", "BatchUpdatePartition"),
            Resource=[arn("glue", "catalog"), arn("glue", "database/${GlueDatabaseName}"),
                      arn("glue", "table/${GlueDatabaseName}/*")],
        ),
        # Its security configuration: Glue security configurations have no resource-level permissions.
        Statement(Sid="SecurityConfigurationNoResourceLevelPermission", Effect=Allow,
                  Action=[awacs.glue.GetSecurityConfiguration], Resource=["*"]),
        # AWSGlueServiceRole reads the role's own policies; here only this role's.
        Statement(Sid="ReadOwnRole", Effect=Allow,
                  Action=[awacs.iam.GetRole, awacs.iam.GetRolePolicy, awacs.iam.ListRolePolicies],
                  Resource=[arn("iam", "role${RolePath}${CrawlerRoleName}", region=False)]),
    ]


def metrics_function_statements() -> list[Statement]:
    """The event consumer's basics, plus: publish into the project's metrics namespace, create or delete its count
    markers (SSE-KMS objects, so it makes data keys) under the ledger prefix, and create decision records (never
    delete: they are the analysts' history)."""
    return [
        *consumer_statements("MetricsFunctionName", "MetricsDeadLetterQueueName"),
        put_metrics("RegistryMetrics", "${MetricsNamespace}"),
        Statement(
            Sid="CountLedger",
            Effect=Allow,
            Action=[awacs.s3.PutObject, awacs.s3.DeleteObject],
            Resource=[artifact_bucket_arn("/${RegistryLedgerPrefix}*")],
        ),
        Statement(Sid="DecisionRecords", Effect=Allow, Action=[awacs.s3.PutObject], Resource=[artifact_bucket_arn("/${DecisionsPrefix}*")]),
        encrypt_by_alias("CountLedgerEncrypt", "${ArtifactKeyAlias}"),
    ]


def subscriber_check_statements() -> list[Statement]:
    """Count the confirmed subscribers of the env's two topics and publish the counts into the project's namespace.
    No dead-letter queue: a scheduled run carries no event to keep (a failed one is the alarm's missing data)."""
    return [
        Statement(Sid="CountSubscribers", Effect=Allow, Action=[awacs.sns.ListSubscriptionsByTopic],
                  Resource=[arn("sns", "${TopicName}"), arn("sns", "${OperationsTopicName}")]),
        put_metrics("SubscriberCounts", "${MetricsNamespace}"),
        write_logs("FunctionLogs", "/aws/lambda/${SubscriberCheckFunctionName}"),
    ]


def chat_channel_statements() -> list[Statement]:
    """The env's chat channels' role (AWS Chatbot assumes it): see this env's alarms and nothing else. Delivering the
    topics' messages needs no permission of it; anything more would be an action someone in the channel could run."""
    return [Statement(Sid="DescribeAlarms", Effect=Allow, Action=[awacs.cloudwatch.DescribeAlarms],
                      Resource=[arn("cloudwatch", "alarm:${ResourcePrefix}-*")])]


def subscriber_schedule_statements() -> list[Statement]:
    """EventBridge Scheduler invokes the subscriber check, and nothing else, as this role."""
    return [Statement(Sid="InvokeSubscriberCheck", Effect=Allow, Action=[awacs.awslambda.InvokeFunction],
                      Resource=[arn("lambda", "function:${SubscriberCheckFunctionName}")])]


def partitions_function_statements() -> list[Statement]:
    """See whether an execution wrote a report (list its folder), add it as a partition of the crawled table,
    or start the crawler when there is no table yet; write its logs, send to its dead-letter queue."""
    return [
        list_prefix("EvaluationReports", "${EvaluationReportsPrefix}"),
        Statement(
            Sid="ReportPartitions",
            Effect=Allow,
            Action=actions(awacs.glue, "GetTable", "CreatePartition"),
            Resource=[arn("glue", "catalog"), arn("glue", "database/${GlueDatabaseName}"),
                      arn("glue", "table/${GlueDatabaseName}/${EvaluationTableName}")],
        ),
        Statement(Sid="StartCrawler", Effect=Allow, Action=[awacs.glue.StartCrawler], Resource=[arn("glue", "crawler/${CrawlerName}")]),
        write_logs("FunctionLogs", "/aws/lambda/${PartitionsFunctionName}"),
        Statement(Sid="DeadLetters", Effect=Allow, Action=[awacs.sqs.SendMessage], Resource=[arn("sqs", "${PartitionsDeadLetterQueueName}")]),
    ]


def _job_results() -> Statement:
    # CodePipeline's job-result calls name no resource (the job id is not an ARN).
    return Statement(Sid="JobResultsNoResourceLevelPermission", Effect=Allow,
                     Action=[awacs.codepipeline.PutJobSuccessResult, awacs.codepipeline.PutJobFailureResult], Resource=["*"])


def _deployment_function_basics(function_name_param: str) -> list[Statement]:
    return [
        _job_results(),
        write_logs("FunctionLogs", f"/aws/lambda/${{{function_name_param}}}"),
        Statement(Sid="DeadLetters", Effect=Allow, Action=[awacs.sqs.SendMessage], Resource=[arn("sqs", "${DeploymentDeadLetterQueueName}")]),
        use_key_by_alias("DeadLettersKey", "${NotificationsKeyAlias}"),  # the queue (messaging stack) is encrypted with it
    ]


def _describe_group_packages(sid: str, *extra_actions: str) -> Statement:
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=actions(awacs.sagemaker, "DescribeModelPackage", *extra_actions),
        Resource=[models_arn("sagemaker", "model-package-group/${ModelsGroupName}"),
                  models_arn("sagemaker", "model-package/${ModelsGroupName}/*")],
    )


def _what_production_serves(sid: str) -> list[Statement]:
    """DescribeEndpoint of production, and the config and model behind it (CloudFormation names those: any in this
    account and region, describe only)."""
    return [
        Statement(Sid=f"{sid}Endpoint", Effect=Allow, Action=[awacs.sagemaker.DescribeEndpoint],
                  Resource=[arn("sagemaker", "endpoint/${ProductionEndpointName}")]),
        *_describe_configs_and_models(sid, ["${ProductionEndpointStackName}"]),
    ]


def _describe_configs_and_models(sid: str, stacks: list[str]) -> list[Statement]:
    """What an endpoint serves: its config and model, which have CloudFormation's generated names. A model is held
    to the endpoint stacks' own by the stack-name tag CloudFormation puts on it (AWS::SageMaker::Model's schema:
    cloudFormationSystemTags; no one else may set an `aws:` tag). CloudFormation puts none on an endpoint config,
    and a tag of our own could be copied onto another env's config by any endpoint deploy role (AddTags by type):
    configs stay by type, describe only (docs/security.md, open risks)."""
    return [
        Statement(Sid=f"{sid}Configs", Effect=Allow, Action=[awacs.sagemaker.DescribeEndpointConfig],
                  Resource=[arn("sagemaker", "endpoint-config/*")]),
        Statement(Sid=f"{sid}Models", Effect=Allow, Action=[awacs.sagemaker.DescribeModel], Resource=[arn("sagemaker", "model/*")],
                  Condition=Condition(StringEquals({STACK_NAME_TAG: [Sub(stack) for stack in stacks]}))),
    ]


def _endpoint_quota_statements() -> list[Statement]:
    """Read the account's endpoint-instance quotas and what its endpoints run (lambda_src/shared/capacity.py). The
    quota is found by its name, its code differing per instance type, and the list calls have no resource-level
    permission; ListEndpoints neither. Describing every endpoint of the account and region is describe only."""
    return [
        Statement(Sid="EndpointQuotasNoResourceLevelPermission", Effect=Allow,
                  Action=[awacs.servicequotas.ListServiceQuotas, awacs.servicequotas.ListAWSDefaultServiceQuotas,
                          awacs.sagemaker.ListEndpoints], Resource=["*"]),
        Statement(Sid="EndpointsInUse", Effect=Allow, Action=actions(awacs.sagemaker, "DescribeEndpoint", "DescribeEndpointConfig"),
                  Resource=[arn("sagemaker", "endpoint/*"), arn("sagemaker", "endpoint-config/*")]),
    ]


def resolve_function_statements(takes_models: bool = False) -> list[Statement]:
    """Find the newest approved version of the group the env serves and read its quality report for the summary; roll
    production out to it (the Production stage's RollOut action) and record the version production serves in the
    project's metrics namespace. `takes_models` (deployment.models_from): the group is another account's, whose
    archives Resolve only verifies (the source env pins them) and whose reports it does not read."""
    own = [*tag_approved_archives("ApprovedArchives"),  # the archive was written once; serving may load it
           *read_prefix("EvaluationReports", "${EvaluationReportsPrefix}"),
           decrypt_by_alias("DecryptReports", "${ArtifactKeyAlias}")]
    return [
        _describe_group_packages("ReadRegistry", "ListModelPackages"),
        *(verify_source_archives("SourceArchives") if takes_models else own),
        put_metrics("DeployedVersion", "${MetricsNamespace}"),  # what production serves; a rejected rollout's alarm metric
        *production_rollout(),
        *_what_production_serves("Production"),  # nothing to deploy when production already serves the newest
        *_endpoint_quota_statements(),
        *_deployment_function_basics("ResolveFunctionName"),
    ]


def smoke_test_function_statements(takes_models: bool = False) -> list[Statement]:
    """Check the staging endpoint serves the resolved version (endpoint, its config and model), read that version's
    contract from its model archive, and send it the documented requests; during production's rollout, send
    production the same requests (bake traffic) and count what its new fleet answered."""
    return [
        _describe_group_packages("ReadRegistry"),
        Statement(
            Sid="InvokeEndpoints",
            Effect=Allow,
            Action=actions(awacs.sagemaker, "DescribeEndpoint", "InvokeEndpoint"),
            Resource=[arn("sagemaker", "endpoint/${StagingEndpointName}"), arn("sagemaker", "endpoint/${ProductionEndpointName}")],
        ),
        # What an endpoint serves: staging's (the smoke test), and whether production already serves the run's version
        # (bake traffic).
        *_describe_configs_and_models("Served", ["${StagingEndpointStackName}", "${ProductionEndpointStackName}"]),
        # Bake traffic: the new fleet's invocations after a rollout (GetMetricStatistics has no resource-level permission).
        Statement(Sid="FleetInvocationsNoResourceLevelPermission", Effect=Allow,
                  Action=[awacs.cloudwatch.GetMetricStatistics], Resource=["*"]),
        # The contract, from the archive Resolve checked and tagged (or, taking models, verified as the source pinned it).
        *read_served_archives("ModelArchives", "DecryptModelArchives", takes_models),
        *_deployment_function_basics("SmokeTestFunctionName"),
    ]


def archive_pin_statements() -> list[Statement]:
    """Describe this group's versions (the event is never trusted), see that an approved version's archive was written
    once before registration and tag that object version for the serving env (lambda_src/archive_pin); its logs and
    dead-letter queue (SSE-SQS: no key)."""
    return [
        _describe_group_packages("ReadRegistry"),
        *tag_approved_archives("ApprovedArchives"),
        write_logs("FunctionLogs", "/aws/lambda/${ArchivePinFunctionName}"),
        Statement(Sid="DeadLetters", Effect=Allow, Action=[awacs.sqs.SendMessage],
                  Resource=[arn("sqs", "${ArchivePinDeadLetterQueueName}")]),
    ]


def promotion_bus_arn(taker: Names) -> Sub:
    """The serving env's bus for this env's decisions: its account, the same region (the loader checks it)."""
    return Sub(f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:{taker.env.account_id}:event-bus/{taker.promotion_bus}")


def promotion_statements(taker: Names) -> list[Statement]:
    """EventBridge forwards this env's decisions with this role onto the serving env's bus, and nowhere else."""
    return [Statement(Sid="ForwardToServingBus", Effect=Allow, Action=[awacs.events.PutEvents],
                      Resource=[promotion_bus_arn(taker)])]
