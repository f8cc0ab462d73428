"""Reaching ZooKeeper from an operator's command: one session, every call bounded by
`--timeout`, every failure one of the contract's exit codes with its real cause.

kazoo's own log lines never reach the terminal: the client logs to a private logger
whose only handler (`election.runtime.connection_log`) keeps, per server, the last
reason a connection attempt failed, so that "cannot reach ZooKeeper" says why
("connection refused", a name that does not resolve, a TLS error) rather than only that
time ran out, and says it at once when every server refused.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from kazoo.client import KazooClient
from kazoo.exceptions import (
    AuthFailedError,
    BadVersionError,
    ConnectionClosedError,
    ConnectionLoss,
    KazooException,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KeeperState

from election.config import Connection
from election.runtime.connection_log import ConnectionLog, resolved
from election.runtime.zookeeper import make_client

__all__ = [
    "EXIT_NOT_DONE",
    "EXIT_REFUSED",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "CommandFailed",
    "OperatorSession",
    "format_seconds",
    "open_session",
]

EXIT_NOT_DONE: Final = 1  # no leader (status), not done in time (handover)
EXIT_USAGE: Final = 2  # invalid usage or arguments; nothing was changed
EXIT_UNREACHABLE: Final = 3  # ZooKeeper not reachable within --timeout
EXIT_REFUSED: Final = 4  # refused by ZooKeeper's ACL (NoAuth), or the credential refused

# A command's session: long enough not to expire under a slow machine, short enough that
# a hand-over request of a command killed with SIGKILL goes within seconds.
MIN_SESSION: Final = 4.0
# ZooKeeper's answers about a node itself: the command that asked decides what they mean.
_NODE_ANSWERS: Final = (NoNodeError, NodeExistsError, BadVersionError, NotEmptyError)


def format_seconds(seconds: float) -> str:
    """`29ms`, `1.25s`, `5s`, `90s`: a duration as an operator would type it."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.3g}s" if seconds < 10 else f"{seconds:.0f}s"


class CommandFailed(Exception):
    """What ends a command early: its exit code and the one line it prints on stderr."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


def _quiet_kazoo() -> None:
    """kazoo's modules that log through their own loggers (not the client's) stay quiet
    too: a command's terminal shows its own lines only."""
    kazoo = logging.getLogger("kazoo")
    kazoo.propagate = False
    if not kazoo.handlers:
        kazoo.addHandler(logging.NullHandler())


class OperatorSession:
    """A started kazoo client and the deadline of each call (`timeout` seconds)."""

    def __init__(self, client: KazooClient, connection: Connection, timeout: float) -> None:
        self.client = client
        self.connection = connection
        self.timeout = timeout

    @property
    def session_id(self) -> int | None:
        client_id = self.client.client_id
        return client_id[0] if client_id else None

    def call(self, start: Callable[[], Any], what: str) -> Any:
        """The result of one asynchronous kazoo call, within the timeout. ZooKeeper's
        refusals and silences raise CommandFailed; its answers about the nodes
        themselves (NoNodeError, NodeExistsError, ...) are the caller's."""
        with self.guarded(what):
            return start().get(timeout=self.timeout)

    @contextlib.contextmanager
    def guarded(self, what: str) -> Iterator[None]:
        """ZooKeeper's refusals and silences within, raised as CommandFailed (see
        `failure`); anything else as it was raised."""
        try:
            yield
        except Exception as exc:
            failed = self.failure(exc, what)
            if failed is None:
                raise
            raise failed from None

    def failure(self, exc: BaseException, what: str) -> CommandFailed | None:
        """The CommandFailed that `exc`, raised doing `what`, means; None for an answer
        about a node, which the caller handles."""
        auth = self.connection.auth
        if isinstance(exc, _NODE_ANSWERS):
            return None
        if isinstance(exc, NoAuthError):
            if auth is None:
                hint = "give the election's credential with --zk-auth or --zk-auth-file"
            else:
                hint = f"the credential {auth.redacted} may not do this"
            refused = f"{what}: refused by ZooKeeper's ACL (NoAuth); {hint}"
            return CommandFailed(EXIT_REFUSED, refused)
        if isinstance(exc, AuthFailedError) or (
            isinstance(exc, ConnectionLoss | ConnectionClosedError)
            and self.client.client_state == KeeperState.AUTH_FAILED
        ):
            return _refused(self.connection)
        if isinstance(exc, KazooTimeoutError):
            return CommandFailed(
                EXIT_UNREACHABLE,
                f"{what}: ZooKeeper did not answer within {format_seconds(self.timeout)}",
            )
        if isinstance(exc, ConnectionLoss | ConnectionClosedError | SessionExpiredError):
            return CommandFailed(
                EXIT_UNREACHABLE, f"{what}: lost the connection to ZooKeeper ({_named(exc)})"
            )
        if isinstance(exc, KazooException):
            return CommandFailed(EXIT_NOT_DONE, f"{what}: {_named(exc)}")
        return None


def _refused(connection: Connection) -> CommandFailed:
    shown = connection.auth.redacted if connection.auth is not None else "the credential"
    return CommandFailed(EXIT_REFUSED, f"ZooKeeper refused {shown} (AUTH_FAILED)")


def _named(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def open_session(connection: Connection, timeout: float) -> Iterator[OperatorSession]:
    """A session to `connection`'s ZooKeeper, made within `timeout` seconds, closed on
    the way out (which also removes the ephemeral nodes it made). Raises CommandFailed:
    exit 3 when no server answers in time (with each server's reason), 4 when the
    server refuses the credential."""
    _quiet_kazoo()
    causes = ConnectionLog()
    logger = logging.Logger("election.operate.kazoo", logging.INFO)  # outside the tree
    logger.addHandler(causes)
    client = make_client(
        connection.servers,
        max(timeout, MIN_SESSION),
        auth=connection.auth,
        tls=connection.tls,
        logger=logger,
    )
    _start(client, causes, connection, timeout)
    session = OperatorSession(client, connection, timeout)
    try:
        # The credential is sent after the handshake: a scheme the server refuses shows
        # on the first request, before the command changes anything.
        session.call(lambda: client.exists_async("/"), "connecting")
        yield session
    finally:
        _close(client, timeout)


# How often a command starting its session looks whether every server has said no.
_LOOK_EVERY: Final = 0.02


def _start(
    client: KazooClient, causes: ConnectionLog, connection: Connection, timeout: float
) -> None:
    """The session, made within `timeout` seconds; CommandFailed (exit 3) otherwise: at
    once when every server refused the connection or does not resolve (nothing is
    listening: waiting cannot help), at `timeout` while any server has not answered;
    exit 4 when the server refused the credential."""
    servers = connection.servers
    shown = ",".join(servers)
    live = client.start_async()
    deadline = time.monotonic() + timeout
    refused = False
    while not live.wait(max(0.0, min(_LOOK_EVERY, deadline - time.monotonic()))):
        if causes.auth_failed:
            break
        if causes.all_said_no(servers, resolved):
            refused = True
            break
        if time.monotonic() >= deadline:
            break
    if client.connected:
        return
    with contextlib.suppress(Exception):  # as kazoo's own start() does on a time-out
        client.stop()
        client.close()
    # kazoo announces the connection before it sends the credential: on a loaded machine
    # the refusal can come before we look, and is a refusal, not a silence.
    if causes.auth_failed:
        raise _refused(connection)
    if refused:
        raise CommandFailed(
            EXIT_UNREACHABLE, f"cannot reach ZooKeeper at {shown}: {causes.describe()}"
        )
    why = causes.describe() or "no answer"
    raise CommandFailed(
        EXIT_UNREACHABLE,
        f"cannot reach ZooKeeper at {shown} within {format_seconds(timeout)}: {why}",
    )


def _close(client: KazooClient, wait: float) -> None:
    """Close the session (its ephemeral nodes go at once) without hanging on a server
    that stopped answering."""

    def close() -> None:
        with contextlib.suppress(Exception):
            client.stop()
        with contextlib.suppress(Exception):
            client.close()

    closer = threading.Thread(target=close, name="election-close", daemon=True)
    closer.start()
    closer.join(wait)
