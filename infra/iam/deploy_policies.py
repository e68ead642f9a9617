"""What CloudFormation may do when it deploys each stack, with the role the pipeline hands it.

One function per stack, kept beside the others so a reviewer sees every deploy-time power in one
file. Every statement is scoped to the environment's own names (ResourcePrefix, the group, the
topic…); keys, and the endpoint stacks' generated model and config names, are the exceptions noted below. No deploy
role writes to IAM: the roles the stacks use are made by the administrator-only IAM stack, and a deploy role may
only read and pass them. (One exception: the production endpoint's role may create Application Auto Scaling's
service-linked role for SageMaker, an AWS-defined role nothing can be added to.)
"""
from __future__ import annotations

import awacs.application_autoscaling
import awacs.athena
import awacs.cloudformation
import awacs.awslambda
import awacs.chatbot
import awacs.cloudwatch
import awacs.codebuild
import awacs.codeconnections
import awacs.codepipeline
import awacs.codestar_connections
import awacs.events
import awacs.glue
import awacs.iam
import awacs.kms
import awacs.lakeformation
import awacs.logs
import awacs.quicksight
import awacs.s3
import awacs.sagemaker
import awacs.scheduler
import awacs.sns
from awacs.aws import (Allow, ArnLike, Bool, Condition, ForAllValuesStringLike, ForAnyValueStringEquals,
                       Statement, StringEquals)
from troposphere import Ref, Sub

from infra.config.names import ATHENA_RESULTS_PREFIX, ROLLBACK_ALARMS
from infra.iam import rule_events
from infra.iam.policies import (arn, artifact_bucket_arn, decrypt_by_alias, models_arn, network_isolated,
                                only_instance_types, pass_role, use_key_by_alias)


def actions(module, *names: str) -> list:
    """awacs action constants by name: a typo fails at import, not as a silent deny at deploy."""
    return [getattr(module, name) for name in names]


def _allow(sid: str, acts: list, resources: list) -> Statement:
    return Statement(Sid=sid, Effect=Allow, Action=acts, Resource=resources)


# The only KMS action a deploy role holds on keys it does not name: listing aliases. No deploy role creates a key
# (kms:CreateKey takes the new key's policy): keys are made by the stacks an administrator deploys first (the pipeline
# stack's artifact key, the messaging stack's notifications key). Everything done to a key once it exists (rotation,
# tags, description, the key side of an alias) is granted by that key's own policy, which names the stack's deploy
# role (infra.iam.policies.deploy_role_administers_key): so a template change can reach this project's keys and no
# other team's, and never who may use one.
KEY_LOOKUP_ACTIONS = ("ListAliases",)


def _kms_aliases(sid: str) -> list[Statement]:
    return [
        # kms:ListAliases has no resource-level permission.
        _allow(f"{sid}LookupsNoResourceLevelPermission", actions(awacs.kms, *KEY_LOOKUP_ACTIONS), ["*"]),
        # The alias side of CreateAlias/UpdateAlias/DeleteAlias; the key side is in the key policy.
        _allow(
            f"{sid}Alias",
            actions(awacs.kms, "CreateAlias", "DeleteAlias", "UpdateAlias"),
            [arn("kms", "alias/${ResourcePrefix}-*")],
        ),
    ]


def _log_groups(sid: str, group_sub: str) -> list[Statement]:
    """What the AWS::Logs::LogGroup handler calls: its own group, a listing, and the account's policies."""
    return [
        _allow(
            sid,
            actions(awacs.logs, "CreateLogGroup", "DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy",
                    "TagResource", "UntagResource", "ListTagsForResource", "AssociateKmsKey", "DisassociateKmsKey",
                    "GetDataProtectionPolicy"),
            [arn("logs", f"log-group:{group_sub}"), arn("logs", f"log-group:{group_sub}:*")],
        ),
        # Listings and account-wide lookups: these actions name no resource type, so only "*" grants them.
        _allow(f"{sid}LookupsNoResourceLevelPermission",
               actions(awacs.logs, "DescribeLogGroups", "DescribeResourcePolicies", "DescribeIndexPolicies"), ["*"]),
    ]


def _topic(sid: str, name_param: str) -> list[Statement]:
    """What the topic handler may call on a topic an administrator made: read it and keep its tags. No CreateTopic,
    DeleteTopic, SetTopicAttributes (its policy), Subscribe or SetSubscriptionAttributes: who may publish, subscribe or
    receive is changed by an administrator's `make deploy`, never by a push."""
    return [
        _allow(
            sid,
            actions(awacs.sns, "GetTopicAttributes", "ListSubscriptionsByTopic", "TagResource", "UntagResource",
                    "ListTagsForResource", "GetDataProtectionPolicy", "GetSubscriptionAttributes"),
            [arn("sns", f"${{{name_param}}}"), arn("sns", f"${{{name_param}}}:*")],
        ),
    ]


def _event_rules(sid: str, matched: tuple[rule_events.Pair, ...], extra_targets: tuple[Sub, ...] = ()) -> list[Statement]:
    """The env's rules, matching only the events the stack's rules match (`matched`, from infra/iam/rule_events.py:
    events:source and events:detail-type, which only PutRule takes); their targets only the env's own functions or
    delivery pipeline (events:TargetArn), so a push can neither widen a rule to the account's other events nor send
    them to another account's bus or function."""
    rules = [arn("events", "rule/${ResourcePrefix}-*")]
    targets = [arn("lambda", "function:${ResourcePrefix}-*"), arn("codepipeline", "${CodePipelineName}"), *extra_targets]
    return [
        Statement(
            Sid=f"{sid}MatchOnlyTheStacksEvents",
            Effect=Allow,
            Action=[awacs.events.PutRule],
            Resource=rules,
            Condition=Condition(StringEquals({"events:source": sorted({source for source, _ in matched}),
                                              "events:detail-type": sorted({detail for _, detail in matched})})),
        ),
        _allow(
            sid,
            actions(awacs.events, "DeleteRule", "DescribeRule", "EnableRule", "DisableRule", "RemoveTargets",
                    "ListTargetsByRule", "TagResource", "UntagResource", "ListTagsForResource"),
            rules,
        ),
        Statement(
            Sid=f"{sid}TargetsOwnFunctionsOrPipeline",
            Effect=Allow,
            Action=[awacs.events.PutTargets],
            Resource=rules,
            Condition=Condition(ArnLike({"events:TargetArn": targets})),
        ),
    ]


# What an alarm of the stacks may do when its state changes: tell the env's operations topic, nothing else.
OPERATIONS_TOPIC = arn("sns", "${OperationsTopicName}")
# The key PutMetricAlarm takes for the actions of every state (ALARM, OK, INSUFFICIENT_DATA): "Using condition keys to
# limit alarm actions", CloudWatch user guide; "Actions, resources, and condition keys for Amazon CloudWatch".
ALARM_ACTIONS_KEY = "cloudwatch:AlarmActions"


def put_alarms(sid: str, alarms: list, alarm_actions: list) -> Statement:
    """PutMetricAlarm on `alarms` only when every action the alarm is given is one of `alarm_actions`: so a push can
    neither make an alarm stop or terminate instances nor notify a topic or call a function outside the env (an alarm
    with no action at all is allowed: it does nothing)."""
    return Statement(Sid=sid, Effect=Allow, Action=[awacs.cloudwatch.PutMetricAlarm], Resource=alarms,
                     Condition=Condition(ForAllValuesStringLike({ALARM_ACTIONS_KEY: alarm_actions})))


def _alarms(sid: str, alarms: str = "alarm:${ResourcePrefix}-*") -> list[Statement]:
    """The env's CloudWatch alarms (`<prefix>-*`), whose only action is the operations topic."""
    return [
        put_alarms(f"{sid}ToOpsTopic", [arn("cloudwatch", alarms)], [OPERATIONS_TOPIC]),
        _allow(sid, actions(awacs.cloudwatch, "DeleteAlarms", "DescribeAlarms", "TagResource", "UntagResource",
                            "ListTagsForResource"), [arn("cloudwatch", alarms)]),
    ]


def _pass_existing_role(sid: str, role_param: str, service: str) -> list[Statement]:
    """Hand one of the IAM stack's roles to the service that assumes it; read it, never write it."""
    return [
        _allow(f"Read{sid}Role", [awacs.iam.GetRole], [arn("iam", f"role${{RolePath}}${{{role_param}}}", region=False)]),
        pass_role(f"Pass{sid}Role", [f"${{{role_param}}}"], service),
    ]


def _pass_source_connection(source_type: str) -> list[Statement]:
    """Hand the env's own connection (and no other) to the pipeline; the legacy codestar-connections prefix too, as
    a connection made before the rename is named and authorised with it."""
    if source_type != "codeconnections":
        return []
    return [_allow("PassSourceConnection", [awacs.codeconnections.PassConnection, awacs.codestar_connections.PassConnection],
                   [Ref("SourceConnectionArn")])]


# An env's AWS Chatbot channel configurations (infra/parts/chat_subscriptions.py): chat-configuration/<type>/<name>.
CHAT_CONFIGURATIONS = [arn("chatbot", f"chat-configuration/{kind}/${{ResourcePrefix}}-*", region=False)
                       for kind in ("slack-channel", "microsoft-teams-channel")]


def _chat_channels() -> list[Statement]:
    """Read and tag the env's chat configurations. No Create, Update or Delete, and no iam:PassRole of their role: which
    channel hears the topics, and which topics it hears, change only by an administrator's `make deploy`, never a push."""
    return [
        _allow("ChatChannels", actions(awacs.chatbot, "TagResource", "UntagResource", "ListAssociations"),
               CHAT_CONFIGURATIONS),
        # These take no resource: "Actions, resources, and condition keys for AWS Chatbot".
        _allow("ChatChannelLookupsNoResourceLevelPermission",
               actions(awacs.chatbot, "DescribeSlackChannelConfigurations", "GetMicrosoftTeamsChannelConfiguration",
                       "ListMicrosoftTeamsChannelConfigurations", "ListTagsForResource"), ["*"]),
    ]


def pipeline_stack(source_type: str, chat: bool = False) -> list[Statement]:
    """Artifact bucket and key, two CodeBuild projects, the pipeline, its source rule, the model group; where the env
    names chat channels, reading their configurations."""
    return [
        *(_chat_channels() if chat else []),
        *_kms_aliases("ArtifactKey"),
        _allow(
            "ArtifactBucket",
            actions(
                # Read and tag only. The bucket is made by an administrator's `make deploy`, and its settings change
                # only there (with CFN_ROLE_ARN): who may use it (policy), and what keeps its data (lifecycle,
                # versioning, encryption, public access block, ownership, notifications, logging). A push that
                # changes one fails here (tests/iam/test_push_cannot_change_bucket_settings.py).
                awacs.s3, "GetBucketLocation", "GetBucketPolicy",
                "GetEncryptionConfiguration", "GetBucketVersioning",
                "GetBucketPublicAccessBlock", "GetBucketTagging", "PutBucketTagging",
                "GetLifecycleConfiguration", "GetBucketOwnershipControls",
                "GetBucketNotification", "GetBucketLogging",
                "ListBucket", "GetBucketAcl", "GetAccelerateConfiguration", "GetBucketCORS",
                "GetBucketWebsite", "GetReplicationConfiguration", "GetAnalyticsConfiguration",
                "GetInventoryConfiguration", "GetMetricsConfiguration", "GetIntelligentTieringConfiguration",
                "GetBucketObjectLockConfiguration", "TagResource", "UntagResource", "ListTagsForResource",
            ),
            [artifact_bucket_arn()],
        ),
        _allow(
            "BuildProjects",
            actions(awacs.codebuild, "CreateProject", "UpdateProject", "DeleteProject", "BatchGetProjects"),
            [arn("codebuild", "project/${ResourcePrefix}-*")],
        ),
        *_log_groups("BuildLogGroups", "/aws/codebuild/${ResourcePrefix}-*"),
        _allow(
            "Pipeline",
            actions(awacs.codepipeline, "CreatePipeline", "UpdatePipeline", "DeletePipeline", "GetPipeline",
                    "GetPipelineState", "TagResource", "UntagResource", "ListTagsForResource",
                    "StartPipelineExecution"),  # RestartExecutionOnUpdate
            [arn("codepipeline", "${CodePipelineName}")],
        ),
        # The pipeline handler lists these for its stages (an ARN per stage: <pipeline>/<stage>).
        _allow("PipelineStageTransitions", actions(awacs.codepipeline, "DisableStageTransition", "EnableStageTransition"),
               [arn("codepipeline", "${CodePipelineName}/*")]),
        *_pass_source_connection(source_type),
        # The operations topic: the rule reporting failed delivery-pipeline runs publishes to it.
        *_event_rules("SourceRule", rule_events.stack_events("pipeline", source_type),
                      extra_targets=(arn("sns", "${OperationsTopicName}"),)),
        *_topic("OperationsTopic", "OperationsTopicName"),
        *_alarms("FailureAlarms"),
        # No DeleteModelPackageGroup: the registry is retained, and deleting it is an administrator's act, so a push
        # cannot drop it even past a stack policy (tests/iam/test_push_cannot_delete_retained_resources.py).
        _allow(
            "ModelPackageGroup",
            actions(awacs.sagemaker, "CreateModelPackageGroup", "DescribeModelPackageGroup",
                    "AddTags", "DeleteTags", "ListTags", "GetModelPackageGroupPolicy"),
            [arn("sagemaker", "model-package-group/${ModelPackageGroupName}")],
        ),
        _allow(
            "ReadPassedRoles",
            [awacs.iam.GetRole],
            [arn("iam", f"role${{RolePath}}{name}", region=False)
             for name in ("${CodePipelineRoleName}", "${SynthBuildRoleName}", "${UpsertBuildRoleName}", "${SourceEventsRoleName}")],
        ),
        pass_role("PassPipelineRole", ["${CodePipelineRoleName}"], "codepipeline.amazonaws.com"),
        pass_role("PassBuildRoles", ["${SynthBuildRoleName}", "${UpsertBuildRoleName}"], "codebuild.amazonaws.com"),
        pass_role("PassSourceEventsRole", ["${SourceEventsRoleName}"], "events.amazonaws.com"),
    ]


def _event_consumers(sid: str, consumers: list[tuple[str, str]], matched: tuple[rule_events.Pair, ...],
                     extra_targets: tuple[Sub, ...] = (),
                     invoked_by_events: bool = True, by_roles: tuple[str, ...] = ()) -> list[Statement]:
    """Model-package (or pipeline) event consumers, each (function, role) by name parameter: the functions (from zips
    in the SSE-KMS artifact bucket), their log groups and rules, and their roles (made by the IAM stack, only passed
    to Lambda here). Their dead-letter queues are the messaging stack's: nothing here may create one or write its
    policy. One statement per kind of resource, naming every consumer's, so the policy stays short as consumers are
    added. `by_roles`: the function parameters of those invoked only through a role (a schedule's), never let in."""
    functions = [f"${{{function_param}}}" for function_param, _ in consumers]
    let_in = [f"${{{function_param}}}" for function_param, _ in consumers if function_param not in by_roles]
    return [
        _allow(
            f"{sid}Functions",
            actions(
                awacs.awslambda, "CreateFunction", "DeleteFunction", "GetFunction", "GetFunctionConfiguration",
                "UpdateFunctionCode", "UpdateFunctionConfiguration", "RemovePermission", "TagResource",
                "UntagResource", "ListTags", "PutFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig",
                "DeleteFunctionEventInvokeConfig", "GetFunctionEventInvokeConfig", "GetRuntimeManagementConfig",
                "GetFunctionCodeSigningConfig", "GetFunctionRecursionConfig", "PutFunctionRecursionConfig",
                "GetFunctionScalingConfig", "GetPolicy",
            ),
            # EventInvokeConfig on $LATEST names the qualified ARN.
            [arn("lambda", f"function:{f}{suffix}") for f in functions for suffix in ("", ":*")],
        ),
        # Only EventBridge may be let in: a push cannot open a function to another account or service. Functions
        # only a pipeline invokes (through its role) get no resource policy at all.
        *([Statement(
            Sid=f"{sid}InvokedOnlyByEventBridge",
            Effect=Allow,
            Action=[awacs.awslambda.AddPermission],
            Resource=[arn("lambda", f"function:{f}") for f in let_in],
            Condition=Condition(StringEquals({"lambda:Principal": "events.amazonaws.com"})),
        )] if invoked_by_events else []),
        # Lambda fetches the zip with the caller's credentials: read lambda/ and decrypt it.
        _allow(f"{sid}Code", [awacs.s3.GetObject, awacs.s3.GetObjectVersion], [artifact_bucket_arn("/lambda/*")]),
        decrypt_by_alias(f"{sid}CodeDecrypt", "${ArtifactKeyAlias}"),
        _allow(
            f"{sid}LogGroups",
            actions(awacs.logs, "CreateLogGroup", "DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy",
                    "TagResource", "UntagResource", "ListTagsForResource", "AssociateKmsKey", "DisassociateKmsKey",
                    "GetDataProtectionPolicy"),
            [arn("logs", f"log-group:/aws/lambda/{f}{suffix}") for f in functions for suffix in ("", ":*")],
        ),
        _allow(f"{sid}LogLookupsNoResourceLevelPermission",
               actions(awacs.logs, "DescribeLogGroups", "DescribeResourcePolicies", "DescribeIndexPolicies"), ["*"]),
        *_event_rules(f"{sid}Rules", matched, extra_targets),
        _allow(f"Read{sid}Roles", [awacs.iam.GetRole],
               [arn("iam", f"role${{RolePath}}${{{role_param}}}", region=False) for _, role_param in consumers]),
        pass_role(f"Pass{sid}Roles", [f"${{{role_param}}}" for _, role_param in consumers], "lambda.amazonaws.com"),
    ]


def notifications_stack(pins_archives: bool = False) -> list[Statement]:
    """The notifier Lambda, its log group and metric filters (malformed events, broken pipeline runs), its two rules and
    the alarms (the topic, its queue and key are the messaging stack's); where another account serves the env's
    versions, the archive pin function, its rule and its log's metric filter too."""
    consumers = [("NotifierFunctionName", "NotifierRoleName"),
                 *([("ArchivePinFunctionName", "ArchivePinFunctionRoleName")] if pins_archives else [])]
    return [
        *_event_consumers("Notifier", consumers, rule_events.STACK_EVENTS["notifications"]),
        # Authorised against the group's ARN with the trailing ":*" (CloudWatch Logs API reference, LogGroup.arn).
        _allow("MalformedEventsFilter", actions(awacs.logs, "PutMetricFilter", "DeleteMetricFilter", "DescribeMetricFilters"),
               [arn("logs", f"log-group:/aws/lambda/${{{function}}}:*") for function, _ in consumers]),
        *_alarms("FailureAlarms"),
    ]


def kpi_stack() -> list[Statement]:
    """Dashboard, alarms, Glue database, decisions table and crawler, Athena workgroup, optional QuickSight source, the metrics
    and report-partitions Lambdas."""
    return [
        _allow(
            "Dashboard",
            actions(awacs.cloudwatch, "PutDashboard", "DeleteDashboards", "GetDashboard", "TagResource", "UntagResource",
                    "ListTagsForResource"),
            [arn("cloudwatch", "dashboard/${DashboardName}", region=False)],
        ),
        *_alarms("Alarms"),
        # The one alarm that tells the approvals topic: nobody hears the operations topic (infra/stacks/kpi.py).
        put_alarms("OperationsUnheardAlarmToApprovalsTopic",
                   [arn("cloudwatch", "alarm:${OperationsTopicName}-unheard")], [arn("sns", "${TopicName}")]),
        _allow(
            "GlueCatalog",
            actions(awacs.glue, "CreateDatabase", "DeleteDatabase", "GetDatabase", "UpdateDatabase", "TagResource",
                    "UntagResource", "GetTags"),
            [arn("glue", "catalog"), arn("glue", "database/${GlueDatabaseName}"),
             arn("glue", "table/${GlueDatabaseName}/*"), arn("glue", "userDefinedFunction/${GlueDatabaseName}/*")],
        ),
        _allow("GlueDecisionsTable", actions(awacs.glue, "CreateTable", "DeleteTable", "GetTable", "UpdateTable"),
               [arn("glue", "catalog"), arn("glue", "database/${GlueDatabaseName}"),
                arn("glue", "table/${GlueDatabaseName}/${DecisionsTableName}")]),
        _allow(
            "GlueCrawler",
            actions(awacs.glue, "UpdateCrawler", "DeleteCrawler", "GetCrawler", "StopCrawler", "TagResource",
                    "UntagResource", "GetTags"),
            [arn("glue", "crawler/${CrawlerName}")],
        ),
        _allow("GlueCrawlerCreateNoResourceLevelPermission",
               actions(awacs.glue, "CreateCrawler", "UpdateCrawlerSchedule"), ["*"]),
        _allow(
            "GlueSecurityConfigurationNoResourceLevelPermission",
            actions(awacs.glue, "CreateSecurityConfiguration", "DeleteSecurityConfiguration", "GetSecurityConfiguration"),
            ["*"],
        ),
        _allow(
            "LakeFormationLookupsNoResourceLevelPermission",
            actions(awacs.lakeformation, "DescribeResource", "ListResources", "DescribeLakeFormationIdentityCenterConfiguration"),
            ["*"],
        ),
        # What the Athena workgroup handler lists for its result location.
        _allow("AthenaResultsBucket", actions(awacs.s3, "GetBucketLocation", "ListBucket", "ListBucketMultipartUploads"),
               [artifact_bucket_arn()]),
        _allow("AthenaResultsLocation", actions(awacs.s3, "GetObject", "PutObject", "AbortMultipartUpload", "ListMultipartUploadParts"),
               [artifact_bucket_arn(f"/{ATHENA_RESULTS_PREFIX}*")]),
        use_key_by_alias("AthenaResultsKey", "${ArtifactKeyAlias}"),
        _allow(
            "AthenaWorkGroup",
            actions(awacs.athena, "CreateWorkGroup", "DeleteWorkGroup", "GetWorkGroup", "UpdateWorkGroup", "TagResource",
                    "UntagResource", "ListTagsForResource"),
            [arn("athena", "workgroup/${AthenaWorkGroupName}")],
        ),
        _allow(
            "QuickSightDataSource",
            actions(awacs.quicksight, "DeleteDataSource", "DescribeDataSource", "UpdateDataSource",
                    "DescribeDataSourcePermissions", "UpdateDataSourcePermissions", "TagResource", "UntagResource",
                    "ListTagsForResource", "PassDataSource"),
            [arn("quicksight", "datasource/${ResourcePrefix}-*")],
        ),
        _allow("QuickSightDataSourceCreateNoResourceLevelPermission", [awacs.quicksight.CreateDataSource], ["*"]),
        *_pass_existing_role("Crawler", "CrawlerRoleName", "glue.amazonaws.com"),
    ]


def kpi_stack_functions() -> list[Statement]:
    """The KPI stack's two event consumers, apart from kpi_stack(): with them the role's inline policy passes IAM's
    10,240 characters once names are long, so they go into a managed policy (6,144) of the same role."""
    return [
        *_event_consumers("KpiFunctions", [
            ("MetricsFunctionName", "MetricsFunctionRoleName"),
            ("PartitionsFunctionName", "PartitionsFunctionRoleName"),
            ("SubscriberCheckFunctionName", "SubscriberCheckFunctionRoleName"),
        ], rule_events.STACK_EVENTS["kpi"], by_roles=("SubscriberCheckFunctionName",),
                           extra_targets=(arn("sns", "${OperationsTopicName}"),)),  # failed crawls
        # The subscriber check's schedule, run as the IAM stack's role that may invoke that function alone.
        _allow("SubscriberCheckSchedule", actions(awacs.scheduler, "CreateSchedule", "UpdateSchedule", "DeleteSchedule",
                                                  "GetSchedule"),
               [arn("scheduler", "schedule/default/${SubscriberCheckScheduleName}")]),
        *_pass_existing_role("SubscriberSchedule", "SubscriberScheduleRoleName", "scheduler.amazonaws.com"),
    ]


def deployment_stack() -> list[Statement]:
    """The model-deployment pipeline, its two functions (invoked by the pipeline, never by a resource policy), the rules that start the pipeline and report its outcomes, and their alarms."""
    return [
        *_event_consumers("DeploymentFunctions", [
            ("ResolveFunctionName", "ResolveFunctionRoleName"),
            ("SmokeTestFunctionName", "SmokeTestFunctionRoleName"),
        ], rule_events.STACK_EVENTS["deployment"], extra_targets=(arn("codepipeline", "${DeploymentPipelineName}"), arn("sns", "${OperationsTopicName}")),
            invoked_by_events=False),
        *_alarms("Alarms"),
        _allow(
            "DeploymentPipeline",
            actions(awacs.codepipeline, "CreatePipeline", "UpdatePipeline", "DeletePipeline", "GetPipeline",
                    "GetPipelineState", "TagResource", "UntagResource", "ListTagsForResource"),
            [arn("codepipeline", "${DeploymentPipelineName}")],
        ),
        _allow("DeploymentPipelineStageTransitions", actions(awacs.codepipeline, "DisableStageTransition", "EnableStageTransition"),
               [arn("codepipeline", "${DeploymentPipelineName}/*")]),
        *_pass_existing_role("DeploymentPipeline", "DeploymentPipelineRoleName", "codepipeline.amazonaws.com"),
        *_pass_existing_role("DeploymentEvents", "DeploymentEventsRoleName", "events.amazonaws.com"),
    ]


# Application Auto Scaling's service-linked role for SageMaker endpoints: created on the first RegisterScalableTarget
# in an account (https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-service-linked-roles.html).
AUTOSCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
AUTOSCALING_SERVICE_LINKED_ROLE = f"role/aws-service-role/{AUTOSCALING_SERVICE}/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
# What production's scalable target is (infra/stacks/production_endpoint.py): the only kind its deploy role may
# register, change or remove (Application Auto Scaling's own condition keys).
AUTOSCALED_NAMESPACE = "sagemaker"
AUTOSCALED_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


# The packages the endpoint stacks make their models from: the versions of the group the env serves (its own, or its
# models_from env's, in that account: infra/cfn/parameters.py Models*).
MODEL_PACKAGES = "model-package/${ModelsGroupName}/*"


def endpoint_volume_key() -> list[Statement]:
    """The artifact key, by alias, for whoever calls CreateEndpoint or UpdateEndpoint: SageMaker encrypts the endpoint's
    volumes through a grant it makes with that caller's credentials."""
    return [
        Statement(Sid="ArtifactKeyForEndpoints", Effect=Allow, Action=[awacs.kms.DescribeKey], Resource=[arn("kms", "key/*")],
                  Condition=Condition(ForAnyValueStringEquals({"kms:ResourceAliases": [Sub("${ArtifactKeyAlias}")]}))),
        Statement(Sid="ArtifactKeyGrantsForEndpointVolumes", Effect=Allow, Action=[awacs.kms.CreateGrant],
                  Resource=[arn("kms", "key/*")],
                  Condition=Condition([ForAnyValueStringEquals({"kms:ResourceAliases": [Sub("${ArtifactKeyAlias}")]}),
                                       Bool({"kms:GrantIsForAWSResource": "true"})])),
    ]


def _serving(endpoint_param: str, instance_types: str) -> list[Statement]:
    """What both endpoint stacks make: a model, its endpoint config and one endpoint, by its name parameter.

    Models and endpoint configs keep CloudFormation's generated names: a new version or setting replaces them, and a
    fixed name would collide with the one being replaced. So they are granted by type, in this account and region
    (open risk in docs/security.md); what a model may reach is its role's, the only role passed is the model role, and
    the only endpoint a config can be put on is this stack's own."""
    endpoint = arn("sagemaker", f"endpoint/${{{endpoint_param}}}")
    models, configs = arn("sagemaker", "model/*"), arn("sagemaker", "endpoint-config/*")
    return [
        # Models only with network isolation: a container whose image a push picked can reach nothing outside.
        Statement(Sid="ModelsIsolated", Effect=Allow, Action=[awacs.sagemaker.CreateModel], Resource=[models],
                  Condition=network_isolated()),
        _allow("Models", actions(awacs.sagemaker, "DeleteModel", "DescribeModel", "AddTags", "DeleteTags", "ListTags"),
               [models]),
        # The model is made from a registered version of this env's group (infra/parts/endpoint.py): AWS's guide to
        # deploying a model version ("Deploy a Model Version from a Different Account", SageMaker developer guide)
        # grants CreateModel and DescribeModelPackage on the version, so both are granted on this group's versions.
        # Isolation is required on both: every grant that creates a model holds it.
        Statement(Sid="ModelsFromThisGroupsVersions", Effect=Allow, Action=[awacs.sagemaker.CreateModel],
                  Resource=[models_arn("sagemaker", MODEL_PACKAGES)], Condition=network_isolated()),
        _allow("ThisGroupsVersions", [awacs.sagemaker.DescribeModelPackage], [models_arn("sagemaker", MODEL_PACKAGES)]),
        # Configs only on the instance types config names for this endpoint (deployment.instance_type, or
        # staging_instance_type): a push cannot put the endpoint on a costlier fleet.
        Statement(Sid="EndpointConfigTypes", Effect=Allow, Action=[awacs.sagemaker.CreateEndpointConfig],
                  Resource=[configs], Condition=only_instance_types(instance_types)),
        _allow("EndpointConfigs", actions(awacs.sagemaker, "DeleteEndpointConfig", "DescribeEndpointConfig",
                                          "AddTags", "DeleteTags", "ListTags"), [configs]),
        # CreateEndpoint and UpdateEndpoint are authorised on the endpoint and on the config it is given.
        _allow("Endpoint", actions(awacs.sagemaker, "CreateEndpoint", "UpdateEndpoint", "DeleteEndpoint", "DescribeEndpoint",
                                   "AddTags", "DeleteTags", "ListTags"), [endpoint, configs]),
        *_pass_existing_role("Model", "ModelRoleName", "sagemaker.amazonaws.com"),
        # The volumes' and the captured data's key (the artifact key's policy lets this role).
        *endpoint_volume_key(),
    ]


def staging_endpoint_stack() -> list[Statement]:
    """The staging endpoint stack: its model, endpoint config and endpoint, nothing else. It runs before the smoke test
    and the person's production approval, so it holds nothing of production's: not its endpoint, alarms or autoscaling
    (staging has none)."""
    return _serving("StagingEndpointName", "StagingInstanceTypes")


def production_endpoint_stack() -> list[Statement]:
    """The production endpoint stack: its model and endpoint config, the rollback and on-call alarms. Not the endpoint
    nor its autoscaling: the deployment pipeline's rollout makes those (production_rollout(), the resolve function's)."""
    return [
        *[s for s in _serving("ProductionEndpointName", "ProductionInstanceTypes") if s.Sid != "Endpoint"],
        *_alarms("ProductionAlarms", f"alarm:{ROLLBACK_ALARMS}"),
    ]


TARGET_TRACKING_ALARMS = arn("cloudwatch", "alarm:TargetTracking-endpoint/${ProductionEndpointName}/*")
# Application Auto Scaling's scaling policies of this account and region ("Application Auto Scaling resource ARNs").
SCALING_POLICIES = Sub("arn:${AWS::Partition}:autoscaling:${AWS::Region}:${AWS::AccountId}:scalingPolicy:*")


def production_rollout() -> list[Statement]:
    """What the rollout (lambda_src/deploy_resolve/rollout.py) does to production: create or update its one endpoint
    to a config the production stack made, stop a rejected version's rollout through its alarm, and autoscale it."""
    autoscaled = Condition(StringEquals({"application-autoscaling:service-namespace": AUTOSCALED_NAMESPACE,
                                         "application-autoscaling:scalable-dimension": AUTOSCALED_DIMENSION}))
    scalable_targets = [arn("application-autoscaling", "scalable-target/*")]
    endpoint = arn("sagemaker", "endpoint/${ProductionEndpointName}")
    return [
        # CreateEndpoint and UpdateEndpoint are authorised on the endpoint and on the config it is given (configs have
        # CloudFormation's generated names: by type, describe and these two only; no role is passed).
        _allow("RollOutEndpoint", actions(awacs.sagemaker, "CreateEndpoint", "UpdateEndpoint"),
               [endpoint, arn("sagemaker", "endpoint-config/*")]),
        _allow("ProductionStackOutputs", [awacs.cloudformation.DescribeStacks],
               [arn("cloudformation", "stack/${ProductionEndpointStackName}/*")]),
        # Set the rejected alarm (to stop a rejected version's rollout; to OK as an approved one starts), and wait
        # for the other rollback alarms to leave ALARM before a rollout starts.
        _allow("RejectedAlarmState", [awacs.cloudwatch.SetAlarmState],
               [arn("cloudwatch", "alarm:${ResourcePrefix}-production-rejected")]),
        _allow("RollbackAlarmStates", [awacs.cloudwatch.DescribeAlarms], [arn("cloudwatch", f"alarm:{ROLLBACK_ALARMS}")]),
        # Whoever registers a variant's scalable target needs rights on the endpoint too, not just Application Auto
        # Scaling's (https://docs.aws.amazon.com/autoscaling/application/userguide/security_iam_id-based-policy-examples.html).
        _allow("EndpointCapacity", [awacs.sagemaker.UpdateEndpointWeightsAndCapacities], [endpoint]),
        # Target tracking makes and removes its own alarms with the caller's rights, named after the variant.
        # Their one action is the scaling policy's ARN (arn:…:autoscaling:…:scalingPolicy:<id>:resource/…).
        put_alarms("TargetTrackingAlarmsScaleOnly", [TARGET_TRACKING_ALARMS], [SCALING_POLICIES]),
        _allow("TargetTrackingAlarms", actions(awacs.cloudwatch, "DeleteAlarms", "DescribeAlarms"), [TARGET_TRACKING_ALARMS]),
        # Scalable targets are named by generated IDs, so they are granted by type (open risk in docs/security.md),
        # held to SageMaker variants' instance counts; Application Auto Scaling also checks the caller may describe
        # and resize the endpoint itself (EndpointCapacity above: production's only).
        Statement(Sid="SageMakerScalableTargets", Effect=Allow,
                  Action=actions(awacs.application_autoscaling, "RegisterScalableTarget", "DeregisterScalableTarget",
                                 "PutScalingPolicy", "DeleteScalingPolicy"),
                  Resource=scalable_targets, Condition=autoscaled),
        _allow("AutoscalingLookupsNoResourceLevelPermission",
               [*actions(awacs.application_autoscaling, "DescribeScalableTargets", "DescribeScalingPolicies"),
                awacs.cloudwatch.GetMetricData], ["*"]),
        # Application Auto Scaling's own role for SageMaker, created the first time an account autoscales an endpoint.
        Statement(Sid="AutoscalingServiceLinkedRole", Effect=Allow, Action=[awacs.iam.CreateServiceLinkedRole],
                  Resource=[arn("iam", AUTOSCALING_SERVICE_LINKED_ROLE, region=False)],
                  Condition=Condition(StringEquals({"iam:AWSServiceName": AUTOSCALING_SERVICE}))),
        # The new fleet's volumes (the artifact key's policy names this role too: infra/parts/artifact_store.py).
        *endpoint_volume_key(),
    ]


