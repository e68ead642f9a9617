"""JSON Schemas for config/project.yaml and config/<env>.yaml.

`x-expect` on a schema is the human phrase used when a value fails its pattern or format,
so errors read "expected an AWS region like eu-west-1" instead of a regular expression.
"""

LOWER_HYPHEN = {
    "type": "string",
    "pattern": r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$",
    "x-expect": "lower-case letters and digits in hyphen-joined words, starting with a letter",
}

REGION = {
    "type": "string",
    "pattern": r"^[a-z]+(-[a-z]+)+-[0-9]+$",  # the shape; infra/config/regions.py says which exist
    "x-expect": "an AWS region like eu-west-1",
}

ACCOUNT_ID = {"type": "string", "pattern": r"^[0-9]{12}$", "x-expect": "a 12-digit AWS account id in quotes"}

ENV_NAME = {**LOWER_HYPHEN, "maxLength": 10}

EMAIL = {
    "type": "string",
    "maxLength": 254,
    "pattern": r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$",
    "x-expect": "an email address like team@example.com",
}

BRANCH = {
    "type": "string",
    "minLength": 1,
    "maxLength": 250,
    "pattern": r"^[A-Za-z0-9._/-]+$",
    "x-expect": "a git branch name (letters, digits, . _ / -)",
}

TAGS = {
    "type": "object",
    "propertyNames": {
        "pattern": r"^(?!aws:)[A-Za-z0-9 _.:/=+@-]{1,128}$",
        "x-expect": "a tag key of 1-128 letters, digits, spaces or _ . : / = + @ - not starting with aws:",
    },
    "additionalProperties": {
        "type": "string",
        "pattern": r"^[A-Za-z0-9 _.:/=+@-]{0,256}$",
        "x-expect": "a tag value of up to 256 letters, digits, spaces or _ . : / = + @ -",
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
                "name": {**LOWER_HYPHEN, "minLength": 2, "maxLength": 40},
                "short_name": {**LOWER_HYPHEN, "minLength": 2, "maxLength": 12},
                "description": {"type": "string", "maxLength": 1000},
            },
        },
        "sagemaker_pipeline": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                # Model package group names allow [a-zA-Z0-9-]; we keep to lower case for S3 prefixes.
                "name": {**LOWER_HYPHEN, "minLength": 1},
            },
        },
        "environments": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": ENV_NAME,
        },
        "tags": TAGS,
    },
}

SOURCE_TYPES = ("codeconnections", "codecommit", "s3")

SOURCE = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": list(SOURCE_TYPES)}},
    # Each `if` requires `type`: otherwise a block without it matches every branch and the error names the wrong key.
    "allOf": [
        {
            "if": {"required": ["type"], "properties": {"type": {"const": "codeconnections"}}},
            "then": {
                "additionalProperties": False,
                "required": ["connection_arn", "repository", "branch"],
                "properties": {
                    "type": {},
                    "connection_arn": {
                        "type": "string",
                        "pattern": r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:[0-9]{12}:connection/[0-9a-f-]{36}$",
                        "x-expect": "a CodeConnections connection ARN",
                    },
                    "repository": {
                        "type": "string",
                        "pattern": r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$",
                        "x-expect": "a full repository id like owner/name",
                    },
                    "branch": BRANCH,
                },
            },
        },
        {
            "if": {"required": ["type"], "properties": {"type": {"const": "codecommit"}}},
            "then": {
                "additionalProperties": False,
                "required": ["repository", "branch"],
                "properties": {
                    "type": {},
                    "repository": {
                        "type": "string",
                        "pattern": r"^[A-Za-z0-9_.-]{1,100}$",
                        "x-expect": "a CodeCommit repository name (letters, digits, _ . -; up to 100)",
                    },
                    "branch": BRANCH,
                },
            },
        },
        {
            "if": {"required": ["type"], "properties": {"type": {"const": "s3"}}},
            "then": {
                "additionalProperties": False,
                "required": ["bucket", "key"],
                "properties": {
                    "type": {},
                    "bucket": {
                        "type": "string",
                        "pattern": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                        "x-expect": "an S3 bucket name",
                    },
                    "key": {
                        "type": "string",
                        "pattern": r"^[^\s]{1,1024}\.zip$",
                        "x-expect": "an S3 object key ending in .zip",
                    },
                },
            },
        },
    ],
}

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")

INSTANCE_TYPE = {"type": "string", "pattern": r"^ml\.[a-z0-9]+\.[a-z0-9]+$", "x-expect": "a SageMaker instance type like ml.m5.large"}

ROLLOUT_TYPES = ("canary", "linear", "all_at_once")

DEPLOYMENT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "instance_type": INSTANCE_TYPE,
        "staging_instance_type": INSTANCE_TYPE,
        # Production's instances: it starts with min_instances; target tracking scales between the two.
        "min_instances": {"type": "integer", "minimum": 1, "maximum": 20},
        "max_instances": {"type": "integer", "minimum": 1, "maximum": 20},
        # The target of the scaling policy: invocations per instance per minute.
        "invocations_per_instance": {"type": "integer", "minimum": 1, "maximum": 100000},
        "rollout": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "type": {"enum": list(ROLLOUT_TYPES)},
                # canary: the share of traffic the canary takes; linear: the share each step shifts.
                "traffic_percent": {"type": "integer", "minimum": 1, "maximum": 50},
                # How long each step is watched before the next (SageMaker: 0 to 3600 seconds).
                "wait_seconds": {"type": "integer", "minimum": 0, "maximum": 3600},
            },
        },
        # The rollout rolls back when the model's latency (average over a minute) exceeds this.
        "latency_threshold_ms": {"type": "integer", "minimum": 1, "maximum": 600000},
        # Share of production requests and responses saved to the artifact bucket (0: no data capture).
        "data_capture_percent": {"type": "integer", "minimum": 0, "maximum": 100},
        # The smoke test fails when the staging endpoint answers slower than this (median of its requests).
        "smoke_test_latency_ms": {"type": "integer", "minimum": 1, "maximum": 60000},
        # A person approves each version before it reaches production.
        "approval": {"type": "boolean"},
        # Keep the staging endpoint after the smoke test (by default its stage deletes it: endpoints bill per hour).
        "keep_staging": {"type": "boolean"},
    },
}

ENVIRONMENT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["region", "source", "notifications"],
    "properties": {
        "region": REGION,
        "account_id": ACCOUNT_ID,
        "source": SOURCE,
        "notifications": {
            "type": "object",
            "additionalProperties": False,
            "required": ["emails"],
            "properties": {
                "emails": {"type": "array", "minItems": 1, "maxItems": 20, "uniqueItems": True, "items": EMAIL},
                "statuses": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"enum": list(APPROVAL_STATUSES)},
                },
            },
        },
        "sagemaker": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "processing_instance_type": INSTANCE_TYPE,
                "training_instance_type": INSTANCE_TYPE,
                "model_approval_threshold": {"type": "number", "minimum": 0, "maximum": 1},
                # The upsert starts an execution after creating or updating the pipeline.
                "start_on_upsert": {"type": "boolean"},
                # The upsert puts the generated sample dataset into the input location when it is empty.
                "sample_data": {"type": "boolean"},
                # Who may upload data to the input location (bucket and key policy name them, nothing broader).
                "data_uploaders": {
                    "type": "array",
                    "uniqueItems": True,
                    "maxItems": 10,
                    "items": {
                        "type": "string",
                        "pattern": r"^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]{1,512}$",
                        "x-expect": "an IAM role or user ARN (no wildcards)",
                    },
                },
            },
        },
        "kpi": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "crawler_schedule": {
                    "type": "string",
                    "pattern": r"^cron\([^()]+\)$",
                    "x-expect": "a schedule like cron(0 6 * * ? *)",
                },
                "athena_bytes_scanned_cutoff": {"type": "integer", "minimum": 10485760, "maximum": 9223372036854775807},  # Athena: a long
                "analyst_principals": {
                    "type": "array",
                    "uniqueItems": True,
                    "maxItems": 20,  # each is in the key and bucket policies, which have size limits
                    "items": {
                        "type": "string",
                        "maxLength": 512,
                        # A role, or an IAM Identity Center role named by its permission set with the suffix as *.
                        "pattern": r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/(([\w+=,.@-]+/)*[\w+=,.@-]{1,64}"
                                   r"|aws-reserved/sso\.amazonaws\.com/([a-z0-9-]+/)?AWSReservedSSO_[\w+=,.@-]+_\*)$",
                        "x-expect": "an IAM role ARN (an IAM Identity Center role may end in _* after its permission set name)",
                    },
                },
                "quicksight_principals": {
                    "type": "array",
                    "uniqueItems": True,
                    "maxItems": 5,  # the KPI stack's QuickSight data source has 5 permission slots
                    "items": {
                        "type": "string",
                        "pattern": r"^arn:aws[a-z-]*:quicksight:[a-z0-9-]+:[0-9]{12}:(user|group)/.+$",
                        "x-expect": "a QuickSight user or group ARN",
                    },
                },
            },
        },
        # Who hears about operations (alarms, releases waiting for approval), and whether a person approves
        # each release before any stack of the env changes.
        "operations": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "emails": {"type": "array", "minItems": 1, "maxItems": 20, "uniqueItems": True, "items": EMAIL},
                "release_approval": {"type": "boolean"},
            },
        },
        # Serving approved models (docs/deployment.md): absent, the env has no endpoints and no deployment pipeline.
        "deployment": DEPLOYMENT,
        # The values CloudWatch Logs accepts for RetentionInDays.
        "log_retention_days": {
            "enum": [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]
        },
        "tags": TAGS,
    },
}
