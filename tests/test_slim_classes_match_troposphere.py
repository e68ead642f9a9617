"""infra/cfn/slim/* define troposphere's classes as troposphere does: same type, same checks, same output."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from troposphere import AWSObject, AWSProperty

import infra.cfn.slim

MODULES = [importlib.import_module(f"infra.cfn.slim.{m.name}") for m in pkgutil.iter_modules(infra.cfn.slim.__path__)]
CLASSES = [(module, cls) for module in MODULES for _, cls in inspect.getmembers(module, inspect.isclass)
           if cls.__module__ == module.__name__]


def _theirs(module, cls):
    return getattr(importlib.import_module(f"troposphere.{module.__name__.rsplit('.', 1)[1]}"), cls.__name__)


def _same_type(ours, theirs) -> bool:
    if ours is theirs:
        return True
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) == 1 and _same_type(ours[0], theirs[0])
    if inspect.isclass(ours) and ours.__module__.startswith("infra.cfn.slim."):
        return inspect.isclass(theirs) and ours.__name__ == theirs.__name__  # that class is checked on its own
    return False


@pytest.mark.parametrize("module,cls", CLASSES, ids=[f"{m.__name__}.{c.__name__}" for m, c in CLASSES])
def test_slim_class_matches_troposphere(module, cls):
    theirs = _theirs(module, cls)
    for kind in (AWSObject, AWSProperty):
        assert issubclass(cls, kind) == issubclass(theirs, kind)
    assert getattr(cls, "resource_type", None) == getattr(theirs, "resource_type", None)
    for name, (kind, required) in cls.props.items():
        assert name in theirs.props, f"{cls.__name__}.{name} is not a property in troposphere"
        their_kind, their_required = theirs.props[name]
        assert required == their_required, f"{cls.__name__}.{name}: required {required}, troposphere {their_required}"
        assert _same_type(kind, their_kind), f"{cls.__name__}.{name}: {kind!r} is not troposphere's {their_kind!r}"
    missing = sorted(name for name, (_, required) in theirs.props.items() if required and name not in cls.props)
    assert not missing, f"{cls.__name__} lacks required properties {missing}"


@pytest.mark.parametrize("module", MODULES, ids=[m.__name__ for m in MODULES])
def test_other_names_come_from_troposphere(module):
    service = importlib.import_module(f"troposphere.{module.__name__.rsplit('.', 1)[1]}")
    other = next(name for name, value in vars(service).items()
                 if inspect.isclass(value) and issubclass(value, AWSObject) and name not in vars(module))
    assert getattr(module, other) is getattr(service, other)


def test_a_slim_class_refuses_what_troposphere_refuses():
    from infra.cfn.slim import quicksight

    with pytest.raises(TypeError):
        quicksight.ResourcePermission(Principal="arn:aws:quicksight:eu-west-1:111111111111:user/default/x", Actions="not-a-list")
    with pytest.raises(AttributeError):
        quicksight.DataSource("Ds", Name="x", Type="ATHENA", NotAProperty=1)
    with pytest.raises(ValueError):
        quicksight.DataSource("Ds", Name="x").to_dict()  # Type is required
