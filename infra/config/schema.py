"""JSON Schemas for config/project.yaml and config/<env>.yaml: the one description of the config.

The loader validates against them and fills in each `default`; docs/configuration.md's key table is rendered
from each `description` (python -m infra.config.docs). `x-default` words a default the loader derives from another
key; `x-expect` is the phrase an error uses when a value fails its pattern ("expected an AWS region like eu-west-1").
"""

LOWER_HYPHEN = {"type": "string", "pattern": r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$",
                "x-expect": "lower-case letters and digits in hyphen-joined words, starting with a letter"}
# The shape; infra/config/regions.py says which exist.
REGION = {"type": "string", "pattern": r"^[a-z]+(-[a-z]+)+-[0-9]+$", "x-expect": "an AWS region like eu-west-1"}
ACCOUNT_ID = {"type": "string", "pattern": r"^[0-9]{12}$", "x-expect": "a 12-digit AWS account id in quotes"}
ENV_NAME = {**LOWER_HYPHEN, "maxLength": 10}
EMAIL = {"type": "string", "maxLength": 254, "x-expect": "an email address like team@example.com",
         "pattern": r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"}
EMAILS = {"type": "array", "minItems": 1, "maxItems": 20, "uniqueItems": True, "items": EMAIL}
# git check-ref-format --branch: no part starts with . or ends with .lock, no .., no empty part, no . at the end, no -
# at the start; and not refs/…, which some tools read as a full ref name (refs/tags/v1 is a tag, not a branch).
BRANCH = {"type": "string", "minLength": 1, "maxLength": 250,
          "pattern": r"^(?!refs/|-)(?!.*\.\.)(?!.*\.lock(/|$))[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*(?<!\.)$",
          "x-expect": "a git branch name (letters, digits, . _ / -; no .. or . starting a part, not refs/…)",
          "description": "the branch the delivery pipeline builds"}
TAGS = {
    "type": "object",
    "default": {},
    "propertyNames": {"pattern": r"^(?!aws:)[A-Za-z0-9 _.:/=+@-]{1,128}$",
                      "x-expect": "a tag key of 1-128 letters, digits, spaces or _ . : / = + @ - not starting with aws:"},
    "additionalProperties": {"type": "string", "pattern": r"^[A-Za-z0-9 _.:/=+@-]{1,256}$",
                             "x-expect": "a tag value of 1 to 256 letters, digits, spaces or _ . : / = + @ -"},
}

# The ID formats AWS::Chatbot::SlackChannelConfiguration and ::MicrosoftTeamsChannelConfiguration accept (their
# CloudFormation resource schemas). The workspace or team must be authorised once in the Chatbot console first.
UUID = r"^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$"
CHAT = {
    "type": "object",
    "additionalProperties": False,
    "default": {},
    "description": "optional: a Slack channel and/or a Microsoft Teams channel that hears both topics, through AWS Chatbot "
                   "(Amazon Q Developer in chat applications). Authorise the Slack workspace or the Microsoft team once in "
                   "that service's console first, and copy the IDs from there; one channel takes one configuration per "
                   "account, so two envs of one account need two channels; a change takes effect with `make deploy` and "
                   "[`CFN_ROLE_ARN`](operations.md#an-administrators-cloudformation-role-cfn_role_arn), not with a push "
                   "([chat](notifications.md#chat-slack-or-microsoft-teams))",
    "properties": {
        "slack": {"type": "object", "additionalProperties": False, "required": ["workspace_id", "channel_id"], "properties": {
            "workspace_id": {"type": "string", "pattern": r"^[0-9A-Z]{1,255}$", "x-expect": "a Slack workspace ID like T0123ABCD",
                             "description": "the authorised Slack workspace's ID (from the Chatbot console)"},
            "channel_id": {"type": "string", "pattern": r"^[A-Za-z0-9]{1,256}$", "x-expect": "a Slack channel ID like C0123ABCD",
                           "description": "the channel's ID (the end of its link); invite the Chatbot app to a private channel"},
        }},
        "teams": {"type": "object", "additionalProperties": False, "required": ["team_id", "tenant_id", "channel_id"], "properties": {
            "team_id": {"type": "string", "pattern": UUID, "x-expect": "a Microsoft Teams team ID (a UUID)",
                        "description": "the authorised team's ID (from the Chatbot console)"},
            "tenant_id": {"type": "string", "pattern": UUID, "x-expect": "a Microsoft Entra tenant ID (a UUID)",
                          "description": "the team's tenant ID (from the Chatbot console)"},
            "channel_id": {"type": "string", "maxLength": 256,
                           "pattern": r"^([a-zA-Z0-9-_=+/.,])*%3[aA]([a-zA-Z0-9-_=+/.,])*%40([a-zA-Z0-9-_=+/.,])*$",
                           "x-expect": "a Teams channel ID as its link gives it, URL-encoded (19%3a…%40thread.tacv2)",
                           "description": "the channel's ID from its link, URL-encoded"},
        }},
    },
}

PROJECT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["project", "sagemaker_pipeline", "environments"],
    "properties": {
        "project": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "short_name"],
            "properties": {
                "name": {**LOWER_HYPHEN, "minLength": 2, "maxLength": 40,
                         "description": "lower-case words joined by hyphens (2–40); prefixes stack and pipeline names"},
                "short_name": {**LOWER_HYPHEN, "minLength": 2, "maxLength": 12,
                               "description": "short form (2–12) for names with tight limits: roles, buckets, functions"},
                "description": {"type": "string", "maxLength": 1000, "default": "",
                                "description": "the SageMaker pipeline's description (≤ 1,000 characters)"},
            },
        },
        "sagemaker_pipeline": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                # Model package group names allow [a-zA-Z0-9-]; we keep to lower case for S3 prefixes.
                "name": {**LOWER_HYPHEN, "minLength": 1,
                         "description": "the SageMaker pipeline is `<name>-<env>`, its model package group `<name>-<env>-models`"},
            },
        },
        "environments": {"type": "array", "minItems": 1, "uniqueItems": True, "items": ENV_NAME,
                         "description": "list of environment names (≤ 10 chars); each needs `config/<env>.yaml`"},
        "tags": {**TAGS, "description": "tags on every stack in every environment; not `environment`, which each env gets from its name"},
    },
}


def _source(source_type: str, **keys: dict) -> dict:
    """The keys of one source type, each required. The `if` requires `type`: otherwise a block without it matches
    every source type and the error names the wrong key."""
    return {"if": {"required": ["type"], "properties": {"type": {"const": source_type}}},
            "then": {"additionalProperties": False, "required": list(keys), "properties": {"type": {}, **keys}}}


SOURCE = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": ["codeconnections", "codecommit", "s3"],
                            "description": "`codeconnections`, `codecommit` or `s3` ([source types](delivery-pipeline.md#source-types))"}},
    "allOf": [
        _source("codeconnections",
                connection_arn={"type": "string", "x-expect": "a CodeConnections connection ARN", "description": "the connection's ARN",
                                "pattern": r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:[0-9]{12}:connection/[0-9a-f-]{36}$"},
                repository={"type": "string", "pattern": r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$",
                            "x-expect": "a full repository id like owner/name", "description": "the repository as `owner/name`"},
                branch=BRANCH),
        _source("codecommit",
                repository={"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,100}$", "description": "an existing repository's name",
                            "x-expect": "a CodeCommit repository name (letters, digits, _ . -; up to 100)"},
                branch=BRANCH),
        _source("s3",
                bucket={"type": "string", "pattern": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", "x-expect": "an S3 bucket name",
                        "description": "a versioned bucket"},
                key={"type": "string", "pattern": r"^[^\s]{1,1024}\.zip$", "x-expect": "an S3 object key ending in .zip",
                     "description": "the `.zip` object's key"}),
    ],
}

# An IAM role (any path) or user; an IAM Identity Center role named by its permission set, its suffix as *.
PRINCIPAL_ROLE_OR_USER = (r"^arn:aws[a-z-]*:iam::[0-9]{12}:(role/(([\w+=,.@-]+/)*[\w+=,.@-]{1,64}"
                          r"|aws-reserved/sso\.amazonaws\.com/([a-z0-9-]+/)?AWSReservedSSO_[\w+=,.@-]+_\*)"
                          r"|user/([\w+=,.@-]+/)*[\w+=,.@-]{1,64})$")

INSTANCE_TYPE = {"type": "string", "pattern": r"^ml\.[a-z0-9]+\.[a-z0-9]+$", "x-expect": "a SageMaker instance type like ml.m5.large"}

ROLLOUT_TYPES = ("canary", "linear", "all_at_once")


def _integer(low: int, high: int, default: int, description: str) -> dict:
    return {"type": "integer", "minimum": low, "maximum": high, "default": default, "description": description}


def _arns(most: int, pattern: str, expect: str, description: str, **item) -> dict:
    """An optional list of up to `most` distinct ARNs, each matching `pattern`."""
    return {"type": "array", "uniqueItems": True, "maxItems": most, "default": [], "description": description,
            "items": {"type": "string", "pattern": pattern, "x-expect": expect, **item}}


def _section(**properties: dict) -> dict:
    """An optional block of optional keys: absent, each key takes its default."""
    return {"type": "object", "additionalProperties": False, "default": {}, "properties": properties}


DEPLOYMENT = {
    "type": "object",
    "additionalProperties": False,
    "description": "serve approved models: a staging endpoint, a smoke test, a person's approval, a guarded rollout to "
                   "production ([deployment](deployment.md)). Absent: no endpoints and no deployment pipeline in this env",
    "properties": {
        "instance_type": {**INSTANCE_TYPE, "default": "ml.m5.large", "description": "production's instance type"},
        "staging_instance_type": {**INSTANCE_TYPE, "x-default": "`instance_type`", "description": "the staging endpoint's instance type"},
        "min_instances": _integer(1, 20, 2, "production starts with this many; a canary or linear rollout needs at least 2"),
        "max_instances": _integer(1, 20, 4, "target tracking scales production between `min_instances` and this"),
        "invocations_per_instance": _integer(1, 100000, 100, "the scaling target: invocations per instance per minute"),
        "rollout": _section(
            type={"enum": list(ROLLOUT_TYPES), "default": "canary", "description": "`canary`, `linear` or `all_at_once`"},
            traffic_percent={"type": "integer", "minimum": 1, "maximum": 50,
                             "x-default": "one whole instance at `min_instances` ([endpoints](endpoints.md#rollouts))",
                             "description": "canary: the share of traffic the canary takes; linear: the share each step shifts"},
            wait_seconds=_integer(0, 3600, 300, "how long each step is watched before the next (SageMaker: 0–3600)"),
        ),
        "latency_threshold_ms": _integer(1, 600000, 1000, "the rollout rolls back when model latency (a minute's average) exceeds this"),
        "data_capture_percent": _integer(0, 100, 10, "share of production requests and responses saved to the artifact bucket (0: none)"),
        "smoke_test_latency_ms": _integer(1, 60000, 2000, "the smoke test fails when staging answers slower than this (median)"),
        "approval": {"type": "boolean", "default": True, "description": "a person approves each version before it reaches production"},
        "keep_staging": {"type": "boolean", "default": False, "description": "`true`: the staging endpoint stays up after the smoke "
                                                                             "test (endpoints bill per hour)"},
        "models_from": {**ENV_NAME, "x-default": "this env's own registry",
                        "description": "serve the versions approved in that env's model registry, in its own account "
                                       "([promotion](promotion.md)): both envs pin different `account_id` values in one region; "
                                       "an env gives its models to at most one other"},
    },
}

ENVIRONMENT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["region", "source", "notifications"],
    "properties": {
        "region": {**REGION, "description": "AWS region of this environment; one that botocore's partition data knows "
                                            "(`infra/config/regions.py`) and where the pinned SageMaker SDK names AWS's registry of the "
                                            "built-in scikit-learn and XGBoost images (`infra/config/image_registries.py`)"},
        "account_id": {**ACCOUNT_ID, "description": "quoted 12-digit account id: `make deploy` refuses credentials of another account; principals in "
                                        "config and the connection must be of it, and naming principals needs it"},
        "source": SOURCE,
        "notifications": {
            "type": "object",
            "additionalProperties": False,
            "required": ["emails"],
            "properties": {
                "emails": {**EMAILS, "description": "1–20 addresses subscribed to the approval topic "
                           "([notifications](notifications.md#configure-who-hears-about-what)); a change takes effect with `make deploy` "
                           "(an administrator; with [`CFN_ROLE_ARN`](operations.md#an-administrators-cloudformation-role-cfn_role_arn) too "
                           "when `operations.emails` is not set, since the operations topic then mails the same addresses), not with a push"},
                "chat": CHAT,
                "statuses": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": ["Approved", "Rejected", "PendingManualApproval"]},
                             "default": ["Approved"], "description": "which of `Approved`, `Rejected`, `PendingManualApproval` notify"},
            },
        },
        "sagemaker": _section(
            processing_instance_type={**INSTANCE_TYPE, "default": "ml.m5.large", "description": "instance type of the processing steps"},
            training_instance_type={**INSTANCE_TYPE, "default": "ml.m5.large", "description": "instance type of the training step"},
            model_approval_threshold={"type": "number", "minimum": 0, "maximum": 1, "default": 0.7,
                                      "description": "minimum AUC for registration, 0–1"},
            start_on_upsert={"type": "boolean", "default": False,
                             "description": "the upsert build starts an execution after creating or updating the pipeline"},
            sample_data={"type": "boolean", "default": True,
                         "description": "the upsert puts the generated sample dataset into an empty input location"},
            data_uploaders=_arns(10, r"^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]{1,512}$",
                                 "an IAM role or user ARN (no wildcards)",
                                 "IAM role/user ARNs of this account that may upload to the input location (≤ 10; named in the bucket and key policy, "
                                 "nothing broader; [docs/data.md](data.md))"),
            # In the model package group's policy, which denies every other principal approval (infra/parts/approvers.py).
            approvers=_arns(20, PRINCIPAL_ROLE_OR_USER, "an IAM role or user ARN (no wildcards, but an IAM Identity Center role may "
                                                        "end in _* after its permission set name)",
                            "IAM role/user ARNs of this account (an Identity Center role may end in `_*`; ≤ 20): the only principals "
                            "that may approve, reject or otherwise update a version of the env's model package group (its resource "
                            "policy denies everyone else); required where `deployment` is set; a change takes effect with `make deploy` "
                            "and [`CFN_ROLE_ARN`](operations.md#an-administrators-cloudformation-role-cfn_role_arn), not with a push "
                            "([security](security.md#who-approves-a-model-version))", maxLength=512),
        ),
        "kpi": _section(
            crawler_schedule={"type": "string", "pattern": r"^cron\([^()]+\)$", "x-expect": "a schedule like cron(0 6 * * ? *)",
                              "default": "cron(0 6 * * ? *)", "description": "the Glue crawler's cron schedule"},
            athena_bytes_scanned_cutoff={"type": "integer", "minimum": 10485760, "maximum": 9223372036854775807,  # Athena: a long
                                         "default": 1073741824, "description": "per-query scan limit in bytes (≥ 10 MiB; the default is 1 GiB)"},
            # Each is in the key and bucket policies, which have size limits. An IAM Identity Center role is named by its
            # permission set, with the suffix as *.
            analyst_principals=_arns(20, r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/(([\w+=,.@-]+/)*[\w+=,.@-]{1,64}"
                                         r"|aws-reserved/sso\.amazonaws\.com/([a-z0-9-]+/)?AWSReservedSSO_[\w+=,.@-]+_\*)$",
                                     "an IAM role ARN (an IAM Identity Center role may end in _* after its permission set name)",
                                     "IAM role ARNs of this account (an Identity Center role may end in `_*`; ≤ 20) that may read the "
                                     "evaluation reports and Athena results: granted in the artifact key's and bucket's policies "
                                     "([docs/analysts.md](analysts.md))", maxLength=512),
            # One permission each on the KPI stack's data source, which takes 64 (QuickSight API reference, ResourcePermission).
            quicksight_principals=_arns(64, r"^arn:aws[a-z-]*:quicksight:[a-z0-9-]+:[0-9]{12}:(user|group)/[^*?\s]+$",
                                        "a QuickSight user or group ARN (no wildcards)",
                                        "QuickSight user/group ARNs of this account (≤ 64); when empty no QuickSight data source is created; "
                                        "needs QuickSight's service role in `analyst_principals`, which QuickSight queries as"),
        ),
        "operations": _section(
            emails={**EMAILS, "x-default": "`notifications.emails`",
                    "description": "1–20 addresses: who hears about alarms and releases waiting for approval; a change takes effect with "
                                   "`make deploy` (an administrator, with "
                                   "[`CFN_ROLE_ARN`](operations.md#an-administrators-cloudformation-role-cfn_role_arn)), not with a push"},
            release_approval={"type": "boolean", "default": False,
                              "description": "`true`: a person approves each release before any stack of the env changes"},
            # In the notifications key's policy, through SQS only (infra/stacks/messaging.py).
            dead_letter_readers=_arns(10, r"^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]{1,512}$",
                                      "an IAM role or user ARN (no wildcards)",
                                      "IAM role/user ARNs of this account (≤ 10) that may read the dead-letter queues encrypted with the "
                                      "notifications key (the notifier's and the deployment functions'), through SQS only, to redrive "
                                      "them ([dashboard](dashboard.md#redriving-a-dead-letter-queue)); their own policies grant the "
                                      "queue actions; a change takes effect with `make deploy`, not with a push"),
        ),
        "deployment": DEPLOYMENT,
        "log_retention_days": {
            "enum": [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653],
            "default": 30,
            "description": "how long CloudWatch Logs keeps this env's logs, in days (a value RetentionInDays accepts)",
        },
        "tags": {**TAGS, "description": "tags for this environment's stacks (merged over the project's). Every stack gets "
                                        "`environment: <env name>` from the file's name, so a file copied from another env needs no "
                                        "edit; an explicit `environment` tag that differs from the name is refused"},
    },
}
