"""A troposphere Template as plain data, in one pass: what Template.to_dict() returns, validated the same way.

troposphere encodes each object and then walks the result again at every level above it, so a policy
nested five deep is walked five times. Here each object is validated as to_dict() validates it and its
data encoded once. tests/test_encoder_matches_troposphere.py checks the result equals to_dict() for every stack.
"""
from __future__ import annotations

from troposphere import AWSHelperFn, BaseAWSObject, Template


def template_data(template: Template) -> dict:
    """Template.to_dict(), section for section."""
    sections = {
        "Description": template.description,
        "Metadata": template.metadata,
        "Conditions": template.conditions,
        "Mappings": template.mappings,
        "Outputs": template.outputs,
        "Parameters": template.parameters,
        "AWSTemplateFormatVersion": template.version,
        "Transform": template.transform,
        "Rules": template.rules,
        "Globals": template.globals,
    }
    data = {key: value for key, value in sections.items() if value}
    data["Resources"] = template.resources
    return plain(data)


def plain(obj):
    """troposphere.encode_to_dict(obj), without re-encoding what an object's to_dict() already encoded."""
    kind = type(obj)
    if kind is str or obj is None or kind is int or kind is bool or kind is float:
        return obj
    if kind is dict:
        return {key: plain(value) for key, value in obj.items()}
    if kind is list or kind is tuple:
        return [plain(item) for item in obj]
    if isinstance(obj, BaseAWSObject) and kind.to_dict is BaseAWSObject.to_dict:
        if obj.do_validation:
            obj._validate_props()
            obj.validate()
        if obj.properties:
            return plain(obj.resource)
        if hasattr(obj, "resource_type"):
            return {key: plain(value) for key, value in obj.resource.items() if key != "Properties"}
        return {}
    if isinstance(obj, AWSHelperFn) and kind.to_dict is AWSHelperFn.to_dict:
        return plain(obj.data)
    if hasattr(obj, "to_dict"):
        return plain(obj.to_dict())
    if isinstance(obj, (list, tuple)):
        return [plain(item) for item in obj]
    if isinstance(obj, dict):
        return {key: plain(value) for key, value in obj.items()}
    if hasattr(obj, "JSONrepr"):
        return plain(obj.JSONrepr())
    return obj
