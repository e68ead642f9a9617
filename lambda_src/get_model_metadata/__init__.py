"""Approval notifier: SageMaker model package events -> one readable SNS message."""
