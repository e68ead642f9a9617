"""The metric the deployment pipeline publishes once production serves a version, and the KPI dashboard graphs.

Pure constants, no imports: the generator reads this module (infra/parts/kpi_dashboard.py), the function ships it.
Namespace: the project's (MetricsNamespace, "MLOps/<project>"), as the registry metrics.
"""

DEPLOYED_VERSION = "DeployedModelVersion"  # the version number production serves, one point per promotion
DIMENSION = "EndpointName"
