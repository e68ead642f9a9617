"""A CloudFormation resource's properties as the API request CloudFormation sends, checked against botocore's model.

CloudFormation passes most SageMaker, CloudWatch and Application Auto Scaling properties through to the API under
the same names, converting the template's strings to the API's numbers and booleans ("4" -> 4, "true" -> True).
`request` does that conversion along the operation's input shape, then validates the whole request as botocore
does before sending it: an unknown member (a misspelt property), a wrong type or a missing required member is a
ShapeError naming the operation and the field. Used where moto does not implement an operation (UpdateEndpoint)
and before calls moto accepts without looking at a member (CreateEndpoint's DeploymentConfig).
"""
from __future__ import annotations

import functools
import re

_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")


class ShapeError(ValueError):
    """The request does not fit the operation's input shape."""


@functools.lru_cache(maxsize=None)
def _service(service: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def _convert(shape, value):
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _convert(shape.members[k], v) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_convert(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _convert(shape.value, v) for k, v in value.items()}
    if kind in ("integer", "long") and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if kind in ("float", "double") and isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    if kind == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def request(service: str, operation: str, params: dict) -> dict:
    """`params` converted to the operation's types and validated; ShapeError (one line) when they do not fit."""
    from botocore.exceptions import ParamValidationError
    from botocore.validate import validate_parameters

    shape = _service(service).operation_model(operation).input_shape
    converted = _convert(shape, params)
    try:
        validate_parameters(converted, shape)
    except ParamValidationError as exc:
        report = " ".join(str(exc.kwargs.get("report", exc)).split())
        raise ShapeError(f"{service} {operation}: {report}") from None
    return converted
