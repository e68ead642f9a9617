"""tests/support/botocore_models.py shares what botocore's Loader parsed between sessions: every cached method must
answer exactly what an uncached Loader answers, whatever was asked before (its keys must never collide)."""
from __future__ import annotations

import itertools

import botocore.session
from botocore import loaders

from tests.support import botocore_models

SERVICES = ("sagemaker", "s3")
TYPES = ("service-2", "paginators-1", "waiters-2")


def _calls():
    """(method name, args) for each cached method, over services and model types that share argument tuples."""
    calls = [("list_available_services", (t,)) for t in TYPES]
    for service, type_name in itertools.product(SERVICES, TYPES):
        calls += [("determine_latest_version", (service, type_name)), ("list_api_versions", (service, type_name)),
                  ("load_service_model", (service, type_name))]
    calls += [("load_data_with_path", (name,)) for name in ("endpoints", "partitions", "_retry")]
    assert {name for name, _ in calls} == set(botocore_models._CACHED), "a cached method this check does not ask"
    return calls


def _uncached(name: str, args: tuple):
    fresh = loaders.create_loader()
    return getattr(loaders.Loader, name).__wrapped__(fresh, *args)


def test_each_cached_answer_is_what_an_uncached_loader_gives_in_any_order(monkeypatch):
    botocore_models.install()  # conftest did; idempotent
    calls = _calls()
    for order in (calls, calls[::-1]):
        monkeypatch.setattr(botocore_models, "_shared", {})  # an empty cache, not the one the other tests share
        for name, args in order:
            loader = botocore.session.get_session().get_component("data_loader")
            try:
                expected = _uncached(name, args)
            except Exception as exc:  # noqa: BLE001 - e.g. a service without waiters: the cache must raise alike
                expected = type(exc)
            try:
                got = getattr(loader, name)(*args)
            except Exception as exc:  # noqa: BLE001
                got = type(exc)
            assert got == expected, (name, args)


def test_each_client_gets_the_operation_methods_of_its_own_service():
    from botocore import client

    session = botocore.session.get_session()
    for service in ("sagemaker", "s3", "sagemaker", "sqs"):
        built = session.create_client(service, region_name="us-east-1")
        creator = client.ClientCreator(None, None, None, session.get_component("event_emitter"), None, None)
        expected = client.ClientCreator._create_methods.__wrapped__(creator, built.meta.service_model)
        got = {name: getattr(type(built), name) for name in expected}
        assert sorted(built.meta.method_to_api_mapping) == sorted(expected), service
        assert all(fn.__name__ == name for name, fn in got.items()), service
