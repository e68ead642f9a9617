"""The metric contract between this function and the KPI dashboard (infra/kpi.py imports it).

Pure constants, no imports: the generator reads this module without boto3, and the function ships it.
Namespace is per project ("MLOps/<project>", the MetricsNamespace parameter); every metric carries
the model package group, so one namespace can hold every environment.
"""

DIMENSION = "ModelPackageGroup"

# ModelApprovalStatus in a "SageMaker Model Package State Change" event -> count metric.
# PendingManualApproval is the status a version is registered with, so it counts registrations.
STATUS_METRICS = {
    "PendingManualApproval": "ModelsRegistered",
    "Approved": "ModelsApproved",
    "Rejected": "ModelsRejected",
}
MODELS_REGISTERED = STATUS_METRICS["PendingManualApproval"]
MODELS_APPROVED = STATUS_METRICS["Approved"]
MODELS_REJECTED = STATUS_METRICS["Rejected"]
COUNT_UNIT = "Count"

# One datapoint per registered version and evaluation metric (auc, accuracy…), from its quality report.
QUALITY_METRIC = "ModelQuality"
QUALITY_METRIC_DIMENSION = "Metric"
QUALITY_DIMENSIONS = (DIMENSION, QUALITY_METRIC_DIMENSION)
QUALITY_UNIT = "None"

# Which status carries the quality report: the registration (the report does not change on approval).
QUALITY_ON_STATUS = "PendingManualApproval"
