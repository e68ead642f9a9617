"""The metric contract between this function and the KPI dashboard (infra/stacks/kpi.py imports it).

Pure constants, no imports: the generator reads this module without boto3, and the function ships it.
Namespace is per project ("MLOps/<project>", the MetricsNamespace parameter); every metric carries
the model package group, so one namespace can hold every environment.
"""

DIMENSION = "ModelPackageGroup"

# Each version counts once as registered (the first event SageMaker sends for it, whatever its approval
# status: a pipeline may register a version already Approved) and at most once per decision.
MODELS_REGISTERED = "ModelsRegistered"
MODELS_APPROVED = "ModelsApproved"
MODELS_REJECTED = "ModelsRejected"
COUNT_METRICS = (MODELS_REGISTERED, MODELS_APPROVED, MODELS_REJECTED)
# ModelApprovalStatus in a "SageMaker Model Package State Change" event -> the decision it counts.
DECISION_METRICS = {"Approved": MODELS_APPROVED, "Rejected": MODELS_REJECTED}
# Every status the function reads (PendingManualApproval: registered, no decision yet).
COUNTED_STATUSES = ("Approved", "PendingManualApproval", "Rejected")
# Only events of a finished package count (ModelPackageStatus; InProgress, Failed and Deleting do not).
PACKAGE_COMPLETED = "Completed"
COUNT_UNIT = "Count"

# One datapoint per registered version and evaluation metric (auc, accuracy…), from its quality report,
# published with its registration.
QUALITY_METRIC = "ModelQuality"
QUALITY_METRIC_DIMENSION = "Metric"
QUALITY_DIMENSIONS = (DIMENSION, QUALITY_METRIC_DIMENSION)
QUALITY_UNIT = "None"

# One record per decision on a version (decisions.py): the columns of the KPI stack's `decisions` table, in order,
# with their Athena types. Times are ISO 8601 UTC text (from_iso8601_timestamp reads them); who is an IAM ARN or a
# Studio user profile, null when SageMaker no longer says (the version changed again before the record was made).
DECISION_COLUMNS = (
    ("model_package_group", "string"),
    ("model_version", "bigint"),
    ("model_package_arn", "string"),
    ("execution_id", "string"),  # the pipeline execution that registered it: partition_0 of the evaluation table
    ("decision", "string"),  # Approved | Rejected
    ("decided_by", "string"),
    ("decided_at", "string"),
    ("registered_at", "string"),
    ("description", "string"),  # the ApprovalDescription given with the decision
)
