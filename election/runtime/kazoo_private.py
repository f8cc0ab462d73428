"""kazoo's non-public surface, in one place, with a check that it is still there.

The daemon needs two things kazoo keeps to itself:

- the session timeout the server *granted*. kazoo keeps what it asked for
  (`KazooClient._session_timeout`, milliseconds) and drops the answer. The granted one is
  in the handshake's reply (`kazoo.protocol.serialization.Connect.time_out`), which passes
  through the connection handler's `_invoke` (used only while connecting): we wrap that
  method of one client's handler before it connects. (Its `_connect` returns the timeout
  too, but only after it has told the listeners CONNECTED, and after any authentication
  round trips.) The job's lease is reckoned from it: without it no heartbeat proves the
  session, and every job would be stopped by its lease.
- the server a connection reached, for the logs (`_connection._socket`).

Nothing else in the project may touch a private name of kazoo's (a test greps for them).
`check()` says what is missing in the kazoo installed: `election run --exec` refuses to
start on it (exit 2), and a daemon without a job runs on, the granted timeout unknown.
Written against kazoo 2.10 and 2.11; pyproject.toml keeps kazoo below 3 and
requirements.lock pins the version `make test` checks this against.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient


def _handshake() -> Any:
    """kazoo's handshake request and reply (a namedtuple), from a module kazoo does not
    document; None if it is not there."""
    try:
        module = importlib.import_module("kazoo.protocol.serialization")
    except ImportError:
        return None
    return getattr(module, "Connect", None)


Connect: Any = _handshake()

__all__ = ["KazooIncompatible", "asked_timeout", "check", "peer", "watch_granted_timeout"]


class KazooIncompatible(Exception):
    """The kazoo installed lacks a part of its inside this module relies on."""


def check(client: KazooClient | None = None) -> str | None:
    """None when every part of kazoo's inside this module uses is there, in the shape it
    expects; else what is missing, as a phrase. Without `client`, looks at a client that
    is made for the purpose and never started (no connection, no thread)."""
    client = client if client is not None else KazooClient(hosts="127.0.0.1:1")
    try:
        asked_timeout(client)
        handler = _handler(client)
        _invoke_of(handler)
        if not hasattr(handler, "_socket"):
            raise KazooIncompatible("kazoo's connection handler has no _socket")
        fields = getattr(Connect, "_fields", ())
        if "time_out" not in fields:
            raise KazooIncompatible("kazoo's handshake reply (Connect) has no time_out field")
    except KazooIncompatible as exc:
        return str(exc)
    return None


def asked_timeout(client: KazooClient) -> float:
    """The session timeout `client` asks the server for, in seconds."""
    asked = getattr(client, "_session_timeout", None)
    if not isinstance(asked, int | float) or asked <= 0:
        raise KazooIncompatible("KazooClient has no _session_timeout in milliseconds")
    return asked / 1000.0


def watch_granted_timeout(client: KazooClient, record: Callable[[float], None]) -> None:
    """Call `record(seconds)` with the session timeout the server grants, on every
    connection of `client`, before kazoo announces the connection. Call it before the
    client starts. Raises KazooIncompatible when it cannot attach."""
    handler = _handler(client)
    invoke = _invoke_of(handler)
    if Connect is None:
        raise KazooIncompatible("kazoo has no kazoo.protocol.serialization.Connect")

    def _invoke(timeout: float, request: Any, xid: int | None = None) -> Any:
        answer = invoke(timeout, request, xid)
        if isinstance(request, Connect):
            result = answer[0]
            if result.time_out > 0:  # 0 or less: the session expired (kazoo raises)
                record(result.time_out / 1000.0)
        return answer

    handler._invoke = _invoke


def peer(client: KazooClient) -> str:
    """`host:port` of the server `client` is connected to; '' when it cannot tell (the
    socket already gone, or a kazoo without it). Only for logs."""
    try:
        host, port = client._connection._socket.getpeername()[:2]
    except Exception:
        return ""
    return f"{host}:{port}"


def _handler(client: KazooClient) -> Any:
    handler = getattr(client, "_connection", None)
    if handler is None:
        raise KazooIncompatible("KazooClient has no _connection (its connection handler)")
    return handler


def _invoke_of(handler: Any) -> Callable[..., Any]:
    invoke: Callable[..., Any] | None = getattr(handler, "_invoke", None)
    if not callable(invoke):
        raise KazooIncompatible("kazoo's connection handler has no _invoke")
    try:
        params = list(inspect.signature(invoke).parameters)
    except (TypeError, ValueError):
        params = []
    if params[:3] != ["timeout", "request", "xid"]:
        raise KazooIncompatible(
            f"kazoo's connection handler's _invoke takes ({', '.join(params)}), "
            "not (timeout, request, xid)"
        )
    return invoke
