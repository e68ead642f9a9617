"""Every name AWS sees, derived once from config.

Stacks, templates, the Lambda, pipeline_def, the buildspec and the tests all read names from here,
so a rule and the pipeline it watches cannot drift apart (the AWS sample's notification never fired
because its rule listened on `…-dev-models` while the pipeline registered into `…-stable-models`).
"""
from __future__ import annotations

from dataclasses import dataclass

from infra.config.model import ConfigError, Environment, Project

# Every stack, in deployment order. "deploy-roles" holds the roles CloudFormation deploys the others
# with; only an administrator deploys it (`make deploy`), so the pipeline cannot widen its own powers.
STACKS = ("deploy-roles", "boundaries", "iam", "serving-iam", "messaging", "pipeline", "notifications", "kpi", "deployment",
          "staging-endpoint", "production-endpoint")
# administrator-only: `make deploy`, never the pipeline
BOOTSTRAP_ONLY_STACKS = ("deploy-roles", "boundaries", "iam", "serving-iam", "messaging")
# Deployed by the model-deployment pipeline (the "deployment" stack), each time a version is approved.
ENDPOINT_STACKS = ("staging-endpoint", "production-endpoint")
# Deployed by the delivery pipeline, on each push.
PIPELINE_STACKS = tuple(s for s in STACKS if s not in BOOTSTRAP_ONLY_STACKS + ENDPOINT_STACKS)
# What only an env that serves models (config `deployment`) deploys: the serving roles (administrator-only), the
# deployment pipeline's stack and the endpoint stacks it deploys. Elsewhere no role may deploy serving, so an env
# starts serving only after an administrator's `make deploy` (docs/operations.md).
SERVING_STACKS = ("serving-iam", "deployment", "staging-endpoint", "production-endpoint")


def deploys(env: Environment, stack: str) -> bool:
    """Whether the env has the stack: an env that serves no models has none of SERVING_STACKS."""
    return stack in STACKS and (env.deployment is not None or stack not in SERVING_STACKS)
# Each endpoint stack has its own deploy role (the deployment pipeline passes each to its own stage): the staging
# stage, which runs before the smoke test and the production approval, cannot reach production.

# Where things live inside the artifact bucket. One bucket, one KMS key, prefixes per use.
CODEPIPELINE_PREFIX = "codepipeline/"  # unused by CodePipeline itself: see Names.pipeline_artifacts_prefix
LAMBDA_PREFIX = "lambda/"
SAGEMAKER_PREFIX = "sagemaker/"
ATHENA_RESULTS_PREFIX = "athena-results/"
BUILD_CACHE_PREFIX = "codebuild-cache/"  # the upsert build's pip cache (CodeBuild S3 cache)
EVALUATION_FOLDER = "evaluation"
# Where the SageMaker jobs write, under the pipeline's prefix (pipeline_def/pipeline.py): splits and contract,
# models and packages, evaluation reports. The input data and the step code are read-only to the jobs.
SAGEMAKER_OUTPUT_FOLDERS = ("data", "models", EVALUATION_FOLDER)
# What the upsert build writes under the pipeline's prefix (pipeline_def/upsert.py): the step code, content-addressed,
# and, into an input folder that holds nothing, the generated sample (this name). It reads nothing there: it lists
# `input/` to see whether it is empty.
CODE_FOLDER = "code"
INPUT_FOLDER = "input"
SAMPLE_INPUT_FILE = "churn.csv"
# The evaluation folder's absolute level in the bucket (sagemaker/<pipeline>/evaluation: 3): the KPI crawler
# makes its table there whatever the folders below it look like (Glue "TableLevelConfiguration").
EVALUATION_TABLE_LEVEL = len(f"{SAGEMAKER_PREFIX}pipeline/{EVALUATION_FOLDER}".split("/"))
# What the delivery pipeline last released (its Synth output): the model-deployment pipeline's source.
RELEASE_KEY = "release/templates.zip"
# The production endpoint stack's rollback alarms (infra/stacks/production_endpoint.py), as an IAM pattern.
ROLLBACK_ALARMS = "${ResourcePrefix}-production-*"
# Requests and responses the production endpoint captures (config deployment.data_capture_percent).
DATA_CAPTURE_PREFIX = "data-capture/"
# One empty marker per counted registry change and per announced change (lambda_src/shared/ledger.py), per group.
REGISTRY_LEDGER_PREFIX = "registry-ledger/"
# One JSON record per decision on a model version (lambda_src/registry_metrics/decisions.py), per group: the KPI
# stack's `decisions` table.
DECISIONS_PREFIX = "model-decisions/"
DECISIONS_TABLE = "decisions"

# Stands in for the account id when config has none and nothing is deployed (offline renders, tests).
OFFLINE_ACCOUNT = "000000000000"

# The bucket name needs the account and region for global uniqueness; both are only known at deploy
# time, so the bucket name is a Sub pattern; the render writes the env's ArtifactBucketPrefix in.
ARTIFACT_BUCKET_SUB = "${ArtifactBucketPrefix}-${AWS::AccountId}-${AWS::Region}"


@dataclass(frozen=True)
class Names:
    project: Project
    env: Environment

    # -- basics -----------------------------------------------------------------------------------
    @property
    def env_name(self) -> str:
        return self.env.name

    @property
    def prefix(self) -> str:
        """Short prefix for names with tight limits (roles, buckets, functions)."""
        return f"{self.project.short_name}-{self.env.name}"

    def stack(self, stack: str) -> str:
        if stack not in STACKS:
            raise KeyError(stack)
        return f"{self.project.name}-{self.env.name}-{stack}"

    # -- SageMaker --------------------------------------------------------------------------------
    @property
    def sagemaker_pipeline(self) -> str:
        return f"{self.project.sagemaker_pipeline_name}-{self.env.name}"

    @property
    def model_package_group(self) -> str:
        return f"{self.project.sagemaker_pipeline_name}-{self.env.name}-models"

    @property
    def sagemaker_prefix(self) -> str:
        """Key prefix (in the artifact bucket) of everything the SageMaker pipeline reads and writes."""
        return f"{SAGEMAKER_PREFIX}{self.sagemaker_pipeline}/"

    @property
    def input_prefix(self) -> str:
        """The pipeline's default input location: the sample lands here, data uploaders may write here."""
        return f"{self.sagemaker_prefix}{INPUT_FOLDER}/"

    @property
    def evaluation_prefix(self) -> str:
        """Where evaluate.py's reports land, one folder per execution; the KPI crawler reads here."""
        return f"{self.sagemaker_prefix}{EVALUATION_FOLDER}/"

    @property
    def evaluation_table(self) -> str:
        """The crawler names the table after the folder it crawls; each execution folder is a partition."""
        return EVALUATION_FOLDER

    # -- roles ------------------------------------------------------------------------------------
    def role(self, purpose: str) -> str:
        return f"{self.prefix}-{purpose}"

    @property
    def sagemaker_execution_role(self) -> str:
        return self.role("sagemaker-execution")

    @property
    def codepipeline_role(self) -> str:
        return self.role("codepipeline")

    @property
    def synth_build_role(self) -> str:
        return self.role("synth-build")

    @property
    def upsert_build_role(self) -> str:
        return self.role("upsert-build")

    @property
    def source_events_role(self) -> str:
        return self.role("source-events")

    def deploy_role(self, stack: str) -> str:
        if stack not in PIPELINE_STACKS + ENDPOINT_STACKS:
            raise KeyError(stack)
        return self.role(f"deploy-{stack}")

    @property
    def notifier_role(self) -> str:
        return self.role("approval-notifier")

    @property
    def crawler_role(self) -> str:
        return self.role("kpi-crawler")

    @property
    def partitions_function_role(self) -> str:
        return self.role("report-partitions")

    @property
    def subscriber_check_role(self) -> str:
        return self.role("subscriber-check")

    @property
    def chat_channel_role(self) -> str:
        """The role of the env's AWS Chatbot channel configurations (notifications.chat)."""
        return self.role("chat")

    @property
    def subscriber_schedule_role(self) -> str:
        """EventBridge Scheduler runs the subscriber check as this role."""
        return self.role("subscriber-schedule")

    @property
    def metrics_function_role(self) -> str:
        return self.role("registry-metrics")

    @property
    def role_path(self) -> str:
        return f"/{self.project.short_name}/"

    def boundary(self, kind: str) -> str:
        """The permissions boundary of one kind of runtime role (infra/iam/boundary.py)."""
        return f"{self.prefix}-{kind}-boundary"

    # -- promotion across accounts (docs/promotion.md) ----------------------------------------------
    @property
    def models_source(self) -> Names | None:
        """The env whose approved versions this env serves (deployment.models_from), in its own account; None: its own."""
        source = self.env.deployment.models_from if self.env.deployment else None
        return Names(self.project, self.project.env(source)) if source else None

    @property
    def models_taker(self) -> Names | None:
        """The env that serves this env's approved versions from another account (at most one, checked by the loader)."""
        for env in self.project.environments.values():
            if env.deployment and env.deployment.models_from == self.env.name:
                return Names(self.project, env)
        return None

    @property
    def artifact_bucket(self) -> str:
        """The artifact bucket's whole name; only an env that pins its account_id has one before deploying."""
        return f"{self.artifact_bucket_prefix}-{self.env.account_id or OFFLINE_ACCOUNT}-{self.env.region}"

    @property
    def model_archives_prefix(self) -> str:
        """Where the SageMaker jobs write the model archives (pipeline_def/pipeline.py)."""
        return f"{self.sagemaker_prefix}models/"

    @property
    def promotion_bus(self) -> str:
        """The serving env's event bus for its source's approval events (the only bus the source may put events on)."""
        return f"{self.prefix}-promotion"

    @property
    def promotion_rule(self) -> str:
        """The source env's rule forwarding its group's decisions to the serving env's promotion bus."""
        return f"{self.prefix}-promotion"

    @property
    def promotion_role(self) -> str:
        """The role EventBridge forwards the source env's decisions with (events:PutEvents on that one bus)."""
        return self.role("promotion")

    @property
    def archive_pin_function(self) -> str:
        """The source env's function that pins (checks and tags) each approved version's archive for the serving env."""
        return f"{self.prefix}-archive-pin"

    @property
    def archive_pin_role(self) -> str:
        return self.role("archive-pin")

    @property
    def archive_pin_dlq(self) -> str:
        return f"{self.prefix}-archive-pin-dlq"

    # -- delivery pipeline ------------------------------------------------------------------------
    @property
    def artifact_bucket_prefix(self) -> str:
        return f"{self.prefix}-artifacts"

    @property
    def artifact_key_alias(self) -> str:
        return f"alias/{self.prefix}-artifacts"

    @property
    def codepipeline(self) -> str:
        return f"{self.project.name}-{self.env.name}"

    @property
    def pipeline_artifacts_prefix(self) -> str:
        """Where CodePipeline keeps run artifacts: it picks the folder itself, the pipeline name cut to 20 characters."""
        return f"{self.codepipeline[:20]}/"

    @property
    def synth_project(self) -> str:
        return f"{self.prefix}-synth"

    @property
    def upsert_project(self) -> str:
        return f"{self.prefix}-upsert"

    # -- model deployment -------------------------------------------------------------------------
    @property
    def deployment_pipeline(self) -> str:
        """The pipeline that serves an approved version: staging, smoke test, approval, production."""
        return f"{self.prefix}-deploy"

    @property
    def deployment_artifacts_prefix(self) -> str:
        """Its run artifacts' folder: CodePipeline picks it, the pipeline name cut to 20 characters."""
        return f"{self.deployment_pipeline[:20]}/"

    @property
    def deployment_pipeline_role(self) -> str:
        return self.role("model-deployment")

    @property
    def deployment_events_role(self) -> str:
        return self.role("deployment-events")

    @property
    def deployment_rule(self) -> str:
        """Starts the deployment pipeline when a version of the group is approved or rejected."""
        return f"{self.prefix}-model-deployment"

    @property
    def resolve_function(self) -> str:
        return f"{self.prefix}-deploy-resolve"

    @property
    def resolve_function_role(self) -> str:
        return self.role("deploy-resolve")

    @property
    def smoke_test_function(self) -> str:
        return f"{self.prefix}-deploy-smoke-test"

    @property
    def smoke_test_function_role(self) -> str:
        return self.role("deploy-smoke-test")

    @property
    def deployment_dlq(self) -> str:
        """Dead letters of the deployment functions (a job result they could not report)."""
        return f"{self.prefix}-deployment-dlq"

    @property
    def model_role(self) -> str:
        """The role SageMaker serves the endpoints' models with (image, model archive, data capture)."""
        return self.role("model-serving")

    @property
    def staging_endpoint(self) -> str:
        return f"{self.prefix}-staging"

    @property
    def production_endpoint(self) -> str:
        return f"{self.prefix}-production"

    # -- notifications ----------------------------------------------------------------------------
    @property
    def topic(self) -> str:
        return f"{self.prefix}-model-approvals"

    @property
    def operations_topic(self) -> str:
        """Alarms and releases waiting for approval: apart from the model-approvals topic, so an alarm about
        that topic's path does not depend on it."""
        return f"{self.prefix}-operations"

    @property
    def notifier_function(self) -> str:
        return f"{self.prefix}-approval-notifier"

    @property
    def notifier_dlq(self) -> str:
        """Dead letters of both the EventBridge target and the Lambda's own async failures."""
        return f"{self.prefix}-approval-notifier-dlq"

    @property
    def notifications_key_alias(self) -> str:
        return f"alias/{self.prefix}-notifications"

    @property
    def metrics_namespace(self) -> str:
        """CloudWatch namespace of the model-registry KPIs the notifier publishes."""
        return f"MLOps/{self.project.name}"

    # -- KPI analytics ----------------------------------------------------------------------------
    @property
    def glue_database(self) -> str:
        return f"{self.prefix}_kpi".replace("-", "_")

    @property
    def crawler(self) -> str:
        return f"{self.prefix}-evaluation-reports"

    @property
    def athena_workgroup(self) -> str:
        return f"{self.prefix}-kpi"

    @property
    def dashboard(self) -> str:
        return f"{self.project.name}-{self.env.name}"

    @property
    def metrics_function(self) -> str:
        """Lambda that publishes the model-registry KPIs (lambda_src/registry_metrics)."""
        return f"{self.prefix}-registry-metrics"

    @property
    def metrics_rule(self) -> str:
        return f"{self.prefix}-registry-metrics"

    @property
    def partitions_function(self) -> str:
        """Lambda that catalogues a finished execution's report (lambda_src/report_partitions)."""
        return f"{self.prefix}-report-partitions"

    @property
    def partitions_rule(self) -> str:
        return f"{self.prefix}-report-partitions"

    @property
    def partitions_dlq(self) -> str:
        return f"{self.prefix}-report-partitions-dlq"

    @property
    def subscriber_check(self) -> str:
        """Lambda (and its schedule) that counts each topic's confirmed subscribers (lambda_src/subscriber_check)."""
        return f"{self.prefix}-subscriber-check"

    @property
    def unheard_alarms(self) -> tuple[str, ...]:
        """The subscriber check's alarms: a topic with no confirmed subscriber (infra/stacks/kpi.py names them so)."""
        return tuple(f"{topic}-unheard" for topic in (self.topic, self.operations_topic))

    @property
    def registry_ledger_prefix(self) -> str:
        """Where the registry-metrics function marks what it has counted, so a repeated event counts nothing."""
        return f"{REGISTRY_LEDGER_PREFIX}{self.model_package_group}/"

    @property
    def decisions_prefix(self) -> str:
        """Where the registry-metrics function records each decision on a version; the decisions table reads here."""
        return f"{DECISIONS_PREFIX}{self.model_package_group}/"

    @property
    def metrics_dlq(self) -> str:
        """Dead letters of the metrics rule's target and of the function's own async failures."""
        return f"{self.prefix}-registry-metrics-dlq"


def for_env(project: Project, env: str | Environment) -> Names:
    return Names(project, env if isinstance(env, Environment) else project.env(env))


# AWS limits of the derived names: (what, max length, the config key the name comes from).
_LIMITS = (
    ("CloudFormation stack name", lambda n: [n.stack(s) for s in STACKS], 128, "project.name"),
    ("CodePipeline name", lambda n: [n.codepipeline], 100, "project.name"),
    ("CloudWatch dashboard name", lambda n: [n.dashboard], 255, "project.name"),
    ("IAM role name", lambda n: [n.sagemaker_execution_role, n.codepipeline_role, n.synth_build_role, n.upsert_build_role,
                                n.source_events_role, n.notifier_role, n.crawler_role, n.metrics_function_role, n.partitions_function_role,
                                n.subscriber_check_role, n.subscriber_schedule_role, n.chat_channel_role,
                                n.deployment_pipeline_role, n.deployment_events_role, n.resolve_function_role,
                                n.smoke_test_function_role, n.model_role, n.promotion_role, n.archive_pin_role]
                               + [n.deploy_role(s) for s in PIPELINE_STACKS + ENDPOINT_STACKS], 64, "project.short_name"),
    ("Lambda function name", lambda n: [n.notifier_function, n.resolve_function, n.smoke_test_function,
                                        n.archive_pin_function], 64, "project.short_name"),
    ("SageMaker endpoint name", lambda n: [n.staging_endpoint, n.production_endpoint], 63, "project.short_name"),
    ("Deployment pipeline name", lambda n: [n.deployment_pipeline], 100, "project.short_name"),
    ("KPI metrics Lambda function name", lambda n: [n.metrics_function, n.partitions_function, n.subscriber_check], 64, "project.short_name"),
    ("EventBridge rule name", lambda n: [n.metrics_rule, n.partitions_rule, n.deployment_rule, n.promotion_rule], 64,
     "project.short_name"),
    ("EventBridge event bus name", lambda n: [n.promotion_bus], 256, "project.short_name"),
    ("SQS queue name", lambda n: [n.metrics_dlq, n.partitions_dlq, n.deployment_dlq, n.archive_pin_dlq], 80,
     "project.short_name"),
    ("EventBridge Scheduler schedule name", lambda n: [n.subscriber_check], 64, "project.short_name"),
    ("AWS Chatbot configuration name", lambda n: [f"{n.prefix}-{kind}" for kind in ("slack", "teams")], 128, "project.short_name"),
    ("SNS topic name", lambda n: [n.topic], 256, "project.short_name"),
    ("KMS alias", lambda n: [n.artifact_key_alias], 256, "project.short_name"),
    ("SageMaker pipeline name", lambda n: [n.sagemaker_pipeline], 256, "sagemaker_pipeline.name"),
    ("SageMaker model package group name", lambda n: [n.model_package_group], 63, "sagemaker_pipeline.name"),
)


def check_limits(project: Project, env: Environment, project_file: str) -> None:
    """Raise ConfigError when a name derived for `env` breaks an AWS limit."""
    n = Names(project, env)
    for what, derive, limit, key in _LIMITS:
        for name in derive(n):
            if len(name) > limit:
                raise ConfigError(
                    project_file, key, f"derived {what} '{name}' (env {env.name}) is {len(name)} characters; AWS allows {limit}"
                )
    # The two pipelines keep their run artifacts in folders named after the first 20 characters of their names,
    # and each pipeline's roles may reach only its own: the folders must differ.
    if n.pipeline_artifacts_prefix == n.deployment_artifacts_prefix:
        raise ConfigError(project_file, "project.name", f"the delivery pipeline '{n.codepipeline}' and the deployment pipeline "
                          f"'{n.deployment_pipeline}' (env {env.name}) share their first 20 characters, CodePipeline's "
                          "artifact folder: make project.name and project.short_name differ sooner")
    # Bucket names: 63 characters including the account id and region added at deploy time.
    bucket_len = len(n.artifact_bucket_prefix) + 1 + 12 + 1 + len(env.region)
    if bucket_len > 63:
        raise ConfigError(
            project_file,
            "project.short_name",
            f"derived S3 bucket name '{n.artifact_bucket_prefix}-<account>-{env.region}' (env {env.name}) is {bucket_len} characters; S3 allows 63",
        )
