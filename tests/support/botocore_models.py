"""Parse each botocore data file once per test process, not once per boto3 session.

moto's `mock_aws` gives every test a new default boto3 session, and every session a new botocore Loader, which
parses the service models again (SageMaker's alone is megabytes of JSON): most of a moto-backed test's time.
Within one session botocore already hands the same parsed model to every client; this shares it between
sessions with the same search paths too. Likewise a client's operation methods (one small function per
operation, which calls `self._make_api_call(operation_name, kwargs)`) are built once per parsed model, not once per
client: each client still gets its own class, endpoint, event handlers and credentials, so no test asserts less.
"""
from __future__ import annotations

import functools

from botocore import client, loaders

_CACHED = ("list_available_services", "determine_latest_version", "list_api_versions", "load_service_model",
           "load_data_with_path")
_shared: dict[tuple, object] = {}
_methods: dict[tuple, tuple[object, dict]] = {}


def _shared_across_loaders(name: str, method):
    # Keyed by the attribute's name: botocore's instance_cache wrappers are all called "_wrapper".
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        key = (name, tuple(self.search_paths), tuple(self.extras_types), args, tuple(sorted(kwargs.items())))
        if key not in _shared:
            _shared[key] = method(self, *args, **kwargs)
        return _shared[key]

    wrapper.shared_across_loaders = True
    return wrapper


def _methods_per_model(create_methods):
    @functools.wraps(create_methods)
    def wrapper(self, service_model):
        description = service_model._service_description  # the parsed model, shared by the loader cache above
        key = (service_model.service_name, id(description))
        held = _methods.get(key)
        if held is None or held[0] is not description:  # the description is held, so its id is never reused
            held = _methods[key] = (description, create_methods(self, service_model))
        return dict(held[1])  # a copy: 'creating-client-class' handlers add to the class attributes

    wrapper.shared_across_loaders = True
    return wrapper


def install() -> None:
    """Idempotent: conftest calls it at import."""
    for name in _CACHED:
        method = getattr(loaders.Loader, name)
        if not getattr(method, "shared_across_loaders", False):
            setattr(loaders.Loader, name, _shared_across_loaders(name, method))
    if not getattr(client.ClientCreator._create_methods, "shared_across_loaders", False):
        client.ClientCreator._create_methods = _methods_per_model(client.ClientCreator._create_methods)
