"""Parse each botocore data file once per test process, not once per boto3 session.

moto's `mock_aws` gives every test a new default boto3 session, and every session a new botocore Loader, which
parses the service models again (SageMaker's alone is megabytes of JSON): most of a moto-backed test's time.
Within one session botocore already hands the same parsed model to every client; this shares it between
sessions with the same search paths too. What a client is built from is unchanged, so no test asserts less.
"""
from __future__ import annotations

import functools

from botocore import loaders

_CACHED = ("list_available_services", "determine_latest_version", "list_api_versions", "load_service_model", "load_data_with_path")
_shared: dict[tuple, object] = {}


def _shared_across_loaders(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        key = (method.__name__, tuple(self.search_paths), tuple(self.extras_types), args, tuple(sorted(kwargs.items())))
        if key not in _shared:
            _shared[key] = method(self, *args, **kwargs)
        return _shared[key]

    wrapper.shared_across_loaders = True
    return wrapper


def install() -> None:
    """Idempotent: conftest calls it at import."""
    for name in _CACHED:
        method = getattr(loaders.Loader, name)
        if not getattr(method, "shared_across_loaders", False):
            setattr(loaders.Loader, name, _shared_across_loaders(method))
