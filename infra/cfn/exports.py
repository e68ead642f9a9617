"""Cross-stack values: one naming rule for Export names, used by exporters and importers alike.

An export is named "<exporting stack name>-<Key>"; an importer knows the exporting stack's name from
its own parameter (IamStackName, PipelineStackName…), so the pair cannot drift.
"""
from __future__ import annotations

from troposphere import Export, ImportValue, Output, Sub, Template


def export(template: Template, key: str, value, description: str, condition: str | None = None) -> Output:
    """Add Output `key` exported as "${AWS::StackName}-<key>" (only where `condition` holds, if given)."""
    kwargs = {"Condition": condition} if condition else {}
    return template.add_output(
        Output(key, Description=description, Value=value, Export=Export(Sub(f"${{AWS::StackName}}-{key}")), **kwargs)
    )


def import_value(stack_name_parameter: str, key: str) -> ImportValue:
    """Import the export `key` of the stack whose name is in parameter `stack_name_parameter`."""
    return ImportValue(Sub(f"${{{stack_name_parameter}}}-{key}"))
