"""The metric the deployment pipeline publishes once production serves a version, and the KPI dashboard graphs.

Pure constants, no imports: the generator reads this module (infra/parts/kpi_dashboard.py), the function ships it.
Namespace: the project's (MetricsNamespace, "MLOps/<project>"), as the registry metrics.
"""

DEPLOYED_VERSION = "DeployedModelVersion"  # the version number production serves, one point per promotion
DIMENSION = "EndpointName"

# Published (1) by the rollout when the version it rolls out is rejected meanwhile; the production stack's rejected
# alarm watches it, and SageMaker rolls back on that alarm like on the others. Dimensions: EndpointName and
# EndpointConfigName (the candidate's).
REJECTED_METRIC = "RolloutVersionRejected"

# Published with DeployedModelVersion: 1 when the version production serves is Rejected now, else 0. The production
# stack's serves-rejected alarm watches it (Dimensions: EndpointName).
SERVES_REJECTED = "ServesRejectedVersion"
