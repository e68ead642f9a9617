"""Evaluate a resolved resource policy (a key or bucket policy) for one request, as AWS would, as far as we use it.

What a resource policy grants by itself: a statement whose principal is an account root only delegates to
that account's IAM policies, so it grants nothing here. Any condition operator this module does not know
raises, so a new one in a template cannot pass a test by being ignored.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    principal_arn: str  # the role the caller's session belongs to (aws:PrincipalArn)
    action: str
    resource: str
    context: dict = field(default_factory=dict)  # request keys: s3:prefix, kms:ViaService…
    service: str | None = None  # a service principal's request (e.g. cloudwatch.amazonaws.com): no principal ARN
    # The caller is of another account than the resource's: a grant to its account root lets that account's IAM
    # decide (the caller's own identity policy must allow the request too, which this module does not see).
    other_account: bool = False

    @property
    def account(self) -> str:
        return self.principal_arn.split(":")[4]

    def keys(self) -> dict:
        if self.service:  # a service's request carries its name, never a principal ARN; SourceArn etc. in context
            return {"aws:PrincipalServiceName": self.service, "aws:SecureTransport": "true", **self.context}
        return {"aws:PrincipalArn": self.principal_arn, "aws:PrincipalAccount": self.account,
                "kms:CallerAccount": self.account, "aws:SecureTransport": "true", **self.context}


def _glob(pattern: str, text: str, case: bool = True) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, 0 if case else re.IGNORECASE) is not None


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal, request: Request) -> bool:
    if principal == "*":
        return True
    if request.service:
        return isinstance(principal, dict) and request.service in _list(principal.get("Service", []))
    for arn in _list(principal.get("AWS", [])) if isinstance(principal, dict) else []:
        if arn == "*" or arn == request.principal_arn:
            return True
        if request.other_account and isinstance(arn, str) and re.fullmatch(rf"arn:[a-z-]+:iam::{request.account}:root", arn):
            return True
    return False  # account roots delegate to IAM; services are not callers here


_OPERATORS = {
    "StringEquals": lambda want, got: want == got,
    "StringLike": lambda want, got: _glob(want, got),
    "ArnEquals": lambda want, got: want == got,
    "ArnLike": lambda want, got: _glob(want, got),
    "Bool": lambda want, got: str(want).lower() == str(got).lower(),
}


def _conditions_hold(conditions: dict, request: Request) -> bool:
    keys = request.keys()
    for operator, pairs in conditions.items():
        if operator.startswith("ForAnyValue:"):  # a multi-valued key (kms:ResourceAliases): any of its values matches
            base = operator.split(":", 1)[1]
            if not all(key in keys and any(_OPERATORS[base](str(w), str(v)) for w in _list(wanted) for v in _list(keys[key]))
                       for key, wanted in pairs.items()):
                return False
            continue
        if operator.startswith("ForAllValues:"):  # every value the request carries matches; none carried holds too
            base = operator.split(":", 1)[1]
            if not all(all(any(_OPERATORS[base](str(w), str(v)) for w in _list(wanted)) for v in _list(keys.get(key, [])))
                       for key, wanted in pairs.items()):
                return False
            continue
        if operator not in _OPERATORS and operator not in ("StringNotEquals", "ArnNotLike", "ArnNotEquals", "Null"):
            raise NotImplementedError(f"condition operator {operator} is not evaluated by tests/support/policy_eval.py")
        for key, wanted in pairs.items():
            if operator == "Null":  # "true": the request lacks the key; "false": it carries it
                if (key not in keys) != (str(_list(wanted)[0]).lower() == "true"):
                    return False
                continue
            if operator == "StringNotEquals":  # a negated operator holds for a key the request lacks
                if key in keys and str(keys[key]) in {str(w) for w in _list(wanted)}:
                    return False
                continue
            if operator in ("ArnNotLike", "ArnNotEquals"):
                match = _glob if operator == "ArnNotLike" else (lambda w, v: w == v)
                if key in keys and any(match(str(w), str(keys[key])) for w in _list(wanted)):
                    return False
                continue
            if key not in keys:
                return False  # a key the request does not carry never matches (no …IfExists here)
            if not any(_OPERATORS[operator](str(w), str(keys[key])) for w in _list(wanted)):
                return False
    return True


def _applies(statement: dict, request: Request) -> bool:
    return (
        _principal_matches(statement.get("Principal"), request)
        and any(_glob(a, request.action, case=False) for a in _list(statement["Action"]))
        and (any(_glob(r, request.resource) for r in _list(statement["Resource"])) if "Resource" in statement
             else not any(_glob(r, request.resource) for r in _list(statement["NotResource"])))
        and _conditions_hold(statement.get("Condition", {}), request)
    )


def denied(document: dict, request: Request) -> bool:
    """Whether the policy refuses the request, whatever any identity policy allows."""
    return any(s["Effect"] == "Deny" and _applies(s, request) for s in _list(document["Statement"]))


def allowed(document: dict, request: Request) -> bool:
    """Whether the policy alone allows the request: an applicable Allow and no applicable Deny."""
    statements = _list(document["Statement"])
    if any(s["Effect"] == "Deny" and _applies(s, request) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _applies(s, request) for s in statements)
