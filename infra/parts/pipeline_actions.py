"""One way to write a CodePipeline action, for both pipelines (delivery and model deployment)."""
from __future__ import annotations

from troposphere import codepipeline


def action(name, category, provider, configuration, inputs=(), outputs=(), run_order=1, role_arn_value=None, namespace=None):
    kwargs = dict(
        Name=name,
        ActionTypeId=codepipeline.ActionTypeId(Category=category, Owner="AWS", Provider=provider, Version="1"),
        Configuration=dict(sorted(configuration.items())),
        RunOrder=run_order,
    )
    if namespace:
        kwargs["Namespace"] = namespace
    if inputs:
        kwargs["InputArtifacts"] = [codepipeline.InputArtifacts(Name=i) for i in inputs]
    if outputs:
        kwargs["OutputArtifacts"] = [codepipeline.OutputArtifacts(Name=o) for o in outputs]
    if role_arn_value is not None:
        kwargs["RoleArn"] = role_arn_value
    return codepipeline.Actions(**kwargs)
