"""The ZooKeeper adapter: runs the core's ZooKeeper effects with kazoo, never blocking.

Every call is a kazoo `*_async` call whose result, or the passing of its deadline,
comes back as one event (see `Reply`). kazoo's listener and watch callbacks run on
kazoo's threads: they only put events on the loop's queue (and flip `connected`, which
the file writer reads as a last-moment gate).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
)
from kazoo.protocol.states import WatchedEvent

from election.core import effects as fx
from election.core import events as ev
from election.runtime.replies import Put, Reply
from election.runtime.timers import TimerService

log = logging.getLogger("election.zookeeper")


def make_client(servers: tuple[str, ...], session_timeout: float) -> KazooClient:
    """A kazoo client that reconnects forever (our Failover decides what to do meanwhile)
    and never retries a command on its own (our reducer decides)."""
    return KazooClient(
        hosts=",".join(servers),
        timeout=session_timeout,
        connection_retry={"max_tries": -1, "delay": 0.1, "backoff": 2, "max_delay": 2.0},
        command_retry=None,
    )


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


class ZooKeeperAdapter:
    """Handles Connect, CloseSession, EnsurePath, CreateNode, ReadNode and ReleaseNode."""

    def __init__(
        self,
        client: KazooClient,
        put: Put,
        timers: TimerService,
        deadline: float,
    ) -> None:
        self._client = client
        self._put = put
        self._timers = timers
        self._deadline = deadline
        self._started = False
        self._connect_replies: list[Reply] = []
        self._lock = threading.Lock()
        self.connected = False  # read by the file writer: no write while this is False
        client.add_listener(self._on_state)

    # --- kazoo's thread: enqueue only ---------------------------------------------------

    def _on_state(self, state: str) -> None:
        if state == KazooState.CONNECTED:
            self.connected = True
            session_id = self._client.client_id[0] if self._client.client_id else 0
            self._put(ev.SessionConnected(session_id=session_id, server=self._server()))
            with self._lock:
                replies, self._connect_replies = self._connect_replies, []
            for reply in replies:
                reply.ok()
        elif state == KazooState.SUSPENDED:
            self.connected = False
            self._put(ev.SessionSuspended())
        elif state == KazooState.LOST:
            self.connected = False
            self._put(ev.SessionLost())

    def _server(self) -> str:
        try:
            host, port = self._client._connection._socket.getpeername()[:2]
        except Exception:  # the socket may already be gone; the name is only for logs
            return ""
        return f"{host}:{port}"

    def _watch(self, event: WatchedEvent) -> None:
        self._put(ev.NodeWatchFired(path=event.path or "", kind=str(event.type)))

    # --- effects (loop thread) ---------------------------------------------------------

    def handles(self, effect: fx.Effect) -> bool:
        return isinstance(
            effect,
            fx.Connect
            | fx.CloseSession
            | fx.EnsurePath
            | fx.CreateNode
            | fx.ReadNode
            | fx.ReleaseNode,
        )

    def run(self, effect: fx.Effect) -> None:
        if isinstance(effect, fx.Connect):
            self._connect(effect)
        elif isinstance(effect, fx.CloseSession):
            self._close(effect)
        elif isinstance(effect, fx.EnsurePath):
            self._ensure_path(effect)
        elif isinstance(effect, fx.CreateNode):
            self._create(effect)
        elif isinstance(effect, fx.ReadNode):
            self._read(effect)
        elif isinstance(effect, fx.ReleaseNode):
            self._release(effect)

    def _reply(self, make: Callable[..., ev.Event], request: int) -> Reply:
        return Reply(self._put, make, request, self._timers, self._deadline)

    def _connect(self, effect: fx.Connect) -> None:
        reply = self._reply(ev.ConnectResult, effect.request)
        if self.connected:
            reply.ok()
            return
        with self._lock:
            self._connect_replies.append(reply)
        if not self._started:
            self._started = True
            try:
                self._client.start_async()
            except Exception as exc:  # e.g. a host name that does not resolve
                reply.failed(f"{type(exc).__name__}: {exc}")
        # Otherwise kazoo is already (re)connecting: the listener answers.

    def _close(self, effect: fx.CloseSession) -> None:
        reply = self._reply(ev.SessionClosed, effect.request)

        def close() -> None:
            try:
                self._client.stop()
                self._client.close()
            except Exception as exc:
                reply.failed(f"{type(exc).__name__}: {exc}")
            else:
                reply.ok()

        # stop() waits for kazoo's connection thread: not on the loop thread.
        threading.Thread(target=close, name="election-zk-close", daemon=True).start()

    def _ensure_path(self, effect: fx.EnsurePath) -> None:
        reply = self._reply(ev.PathEnsured, effect.request)
        parent = _parent(effect.path)
        if parent == "/":
            reply.ok()
            return

        def done(_: Any) -> None:
            reply.ok()

        self._call(reply, lambda: self._client.ensure_path_async(parent), done)

    def _create(self, effect: fx.CreateNode) -> None:
        reply = self._reply(ev.NodeCreated, effect.request)
        data = effect.replica.encode()

        def done(result: Any) -> None:
            _, stat = result
            reply.ok(token=stat.czxid)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, NodeExistsError):
                failure = ev.CreateFailure.NODE_EXISTS
            elif isinstance(exc, NoNodeError):
                failure = ev.CreateFailure.NO_PARENT
            elif isinstance(exc, ConnectionLoss | SessionExpiredError):
                failure = ev.CreateFailure.CONNECTION
            else:
                failure = ev.CreateFailure.OTHER
            reply.failed(_describe(exc), failure=failure)

        self._call(
            reply,
            lambda: self._client.create_async(effect.path, data, ephemeral=True, include_data=True),
            done,
            failed,
        )

    def _read(self, effect: fx.ReadNode) -> None:
        reply = self._reply(ev.NodeRead, effect.request)

        def done(stat: Any) -> None:
            if stat is None:
                reply.ok(exists=False)
            else:
                reply.ok(exists=True, owner=stat.ephemeralOwner, token=stat.czxid)

        self._call(reply, lambda: self._client.exists_async(effect.path, watch=self._watch), done)

    def _release(self, effect: fx.ReleaseNode) -> None:
        """Delete the node only if it is still the one of our term (its czxid), at the
        version we saw: a node created by someone else since is never deleted."""
        reply = self._reply(ev.NodeReleased, effect.request)

        def deleted(_: Any) -> None:
            reply.ok()

        def delete_failed(exc: BaseException) -> None:
            if isinstance(exc, NoNodeError):
                reply.ok(reason="already gone")
            else:
                reply.failed(_describe(exc))

        def seen(stat: Any) -> None:
            if stat is None:
                reply.ok(reason="already gone")
            elif stat.czxid != effect.token:
                reply.ok(reason=f"node is another term's (czxid {stat.czxid})")
            else:
                self._call(
                    reply,
                    lambda: self._client.delete_async(effect.path, version=stat.version),
                    deleted,
                    delete_failed,
                )

        self._call(reply, lambda: self._client.exists_async(effect.path), seen)

    def _call(
        self,
        reply: Reply,
        start: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Start an async kazoo call; route its result to `done` or `failed`."""

        def on_failure(exc: BaseException) -> None:
            if failed is not None:
                failed(exc)
            else:
                reply.failed(_describe(exc))

        def on_result(result: Any) -> None:
            exc = result.exception
            if exc is not None:
                on_failure(exc)
                return
            try:
                done(result.value)
            except Exception as error:  # a bug in a callback must still answer
                reply.failed(_describe(error))

        try:
            start().rawlink(on_result)
        except Exception as exc:  # kazoo raises at once when the session is closed
            on_failure(exc)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
