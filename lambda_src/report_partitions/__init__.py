"""Makes a finished SageMaker pipeline execution's evaluation report queryable in Athena within minutes."""
