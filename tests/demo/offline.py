"""Make sure nothing in the demo can reach AWS: fake credentials, no endpoints, no sockets off the machine."""
from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from unittest import mock

# Variables that could point boto3 at a real account or endpoint; all removed for the run.
_REMOVED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL")
_LOOPBACK = ("127.", "::1", "localhost")


class NetworkBlocked(RuntimeError):
    pass


@contextmanager
def environment(region: str, account: str):
    """Fake credentials in `region`; moto answers as `account`. Restored afterwards (tests run us in-process)."""
    values = {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_SESSION_TOKEN": "demo",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,  # a user's ~/.aws/config could name endpoints or profiles
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "MOTO_ACCOUNT_ID": account,
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    }
    with mock.patch.dict(os.environ, values):
        for name in list(os.environ):
            if name in _REMOVED or name.startswith("AWS_ENDPOINT_URL_"):
                del os.environ[name]
        yield


@contextmanager
def network_blocked():
    """Any connection that leaves the machine raises: a demo that needed AWS would fail loudly.

    Yields the list of refused addresses, so an attempt some library caught and hid is still seen.
    """
    real_connect = socket.socket.connect
    refused: list[str] = []

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if sock.family == socket.AF_UNIX or str(host).startswith(_LOOPBACK):
            return real_connect(sock, address)
        refused.append(repr(address))
        raise NetworkBlocked(f"the demo tried to reach the network: {address!r}")

    def refuse(address, *_args, **_kwargs):
        refused.append(repr(address))
        raise NetworkBlocked(f"the demo tried to reach the network: {address!r}")

    with mock.patch.object(socket.socket, "connect", guarded), mock.patch.object(socket, "create_connection", refuse):
        yield refused
