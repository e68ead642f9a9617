"""Resource groups more than one stack uses, or that read better apart from their stack: alarms, KMS keys,
e-mail subscriptions, model-package events, delivery-failure alerts, analyst grants, the KPI dashboard.
Imports infra.iam, infra.cfn and infra.config; never a stack."""
