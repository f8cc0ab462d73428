"""Membership: each replica keeps an ephemeral member node telling its state.

`<parent of election-path>/members/<replica-id>` holds `members.member_document`. It is
an observer: it watches records and never feeds the core. It must never delay or
endanger the election, so it only ever calls kazoo's `*_async` API and reacts in kazoo's
callbacks; at most one request is in flight, and updates coalesce (only the latest state
matters). A failure is logged (rate-limited) and retried on the next change or
reconnect, never fatal.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import NodeExistsError, NoNodeError

from election.core.record import Record
from election.observe.members import member_document, members_path

log = logging.getLogger("election.membership")

_LOG_EVERY = 10.0  # seconds between two failure lines; the others are counted
_TAKEOVERS_PER_CHANGE = 2  # stale node of our own earlier session: delete and re-create


class Membership:
    """Keeps `<members>/<replica>` up to date; call it with every record (loop thread)."""

    def __init__(
        self,
        client: KazooClient,
        election_path: str,
        replica: str,
        *,
        version: str,
        metrics_address: str | None = None,
        host: str | None = None,
        pid: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.path = f"{members_path(election_path)}/{replica}"
        self._replica = replica
        self.metrics_address = metrics_address  # may be set before the first record
        self._host = host if host is not None else socket.gethostname()
        self._pid = pid if pid is not None else os.getpid()
        self._version = version
        self._clock = clock
        self._lock = threading.Lock()
        self._state = ""
        self._since = 0.0
        self._token: int | None = None
        self._connected = bool(client.connected)  # a client started before us counts
        self._session: int | None = None  # the session our node belongs to, if made
        self._in_flight = False
        self._dirty = False  # the node does not show the latest state yet
        self._takeovers = 0
        self._generation = 0  # connections seen; a request spanning a reconnect is redone
        self._issued_in = 0
        self._last_log = float("-inf")
        self._suppressed = 0
        self.failures = 0  # for tests and curiosity
        client.add_listener(self._on_session)

    # --- the loop's thread --------------------------------------------------------------

    def __call__(self, record: Record) -> None:
        if record.state == "Stopping":
            # The member node goes with the session in a moment; an update now would sit
            # in front of the session's close on the wire and delay the hand-over.
            return
        with self._lock:
            if record.changed or not self._state or record.token != self._token:
                self._state = record.state
                if record.changed or not self._since:
                    self._since = record.wall
                self._token = record.token
                self._dirty = True
                self._takeovers = 0
        self._kick()

    # --- kazoo's thread: flags and async calls only --------------------------------------

    def _on_session(self, state: str) -> None:
        with self._lock:
            if state == KazooState.CONNECTED:
                self._connected = True
                self._takeovers = 0
                self._generation += 1
                if self._session is not None and self._session != self._current_session():
                    self._session = None  # a new session: our ephemeral node is gone
            else:
                self._connected = False
                if state == KazooState.LOST:
                    self._session = None
        if state == KazooState.CONNECTED:
            self._kick()

    def _current_session(self) -> int | None:
        client_id = self._client.client_id
        return client_id[0] if client_id else None

    def _document(self) -> bytes:
        return member_document(
            replica=self._replica,
            state=self._state,
            since=self._since,
            token=self._token,
            metrics=self.metrics_address,
            host=self._host,
            pid=self._pid,
            version=self._version,
        )

    def _kick(self) -> None:
        """Start the next request if none is in flight and there is something to say."""
        with self._lock:
            if self._in_flight or not self._connected or not self._state:
                return
            session = self._current_session()
            if self._session is not None and self._session == session and not self._dirty:
                return
            create = self._session is None or self._session != session
            data = self._document()
            self._dirty = False
            self._in_flight = True
            self._issued_in = self._generation
        try:
            if create:
                result = self._client.create_async(self.path, data, ephemeral=True, makepath=True)
                result.rawlink(lambda r: self._created(r, session))
            else:
                self._client.set_async(self.path, data).rawlink(self._updated)
        except Exception as exc:  # kazoo refuses at once when the session is closed
            self._done(exc, retry=False)

    def _created(self, result: Any, session: int | None) -> None:
        exc = result.exception
        if exc is None:
            with self._lock:
                self._session = session
            self._done(None, retry=True)
        elif isinstance(exc, NodeExistsError):
            self._take_over(session)
        else:
            self._done(exc, retry=False)

    def _updated(self, result: Any) -> None:
        exc = result.exception
        if isinstance(exc, NoNodeError):  # someone deleted it: make it again, once
            with self._lock:
                self._session = None
                retry = self._takeovers < _TAKEOVERS_PER_CHANGE
                self._takeovers += 1
            self._done(exc, retry=retry)
        else:
            self._done(exc, retry=exc is None)

    def _take_over(self, session: int | None) -> None:
        """The node exists: ours (a create that raced a reconnect) or left by an earlier
        session of this replica id (a restart after a crash). Adopt or replace it."""

        def seen(result: Any) -> None:
            stat = None if result.exception else result.value
            if stat is not None and stat.ephemeralOwner == session:
                with self._lock:
                    self._session = session
                    self._dirty = True  # its data may be older than ours
                self._done(None, retry=True)
                return
            with self._lock:
                allowed = self._takeovers < _TAKEOVERS_PER_CHANGE
                self._takeovers += 1
            if stat is None or not allowed:  # gone meanwhile: create again (bounded)
                self._done(result.exception or NodeExistsError(), retry=stat is None and allowed)
                return
            try:
                self._client.delete_async(self.path, version=stat.version).rawlink(
                    lambda r: self._done(r.exception, retry=True)
                )
            except Exception as exc:
                self._done(exc, retry=False)

        try:
            self._client.exists_async(self.path).rawlink(seen)
        except Exception as exc:
            self._done(exc, retry=False)

    def _done(self, exc: BaseException | None, retry: bool) -> None:
        with self._lock:
            self._in_flight = False
            if exc is not None:
                self._dirty = True  # say it all again on the next change or reconnect
                self.failures += 1
                # The reconnect's kick found us busy: this failure is its retry.
                retry = retry or (self._connected and self._generation != self._issued_in)
        if exc is not None:
            self._log_failure(exc)
        if retry:
            self._kick()

    def _log_failure(self, exc: BaseException) -> None:
        now = self._clock()
        with self._lock:
            if now - self._last_log < _LOG_EVERY:
                self._suppressed += 1
                return
            self._last_log, suppressed, self._suppressed = now, self._suppressed, 0
        more = f" ({suppressed} similar since)" if suppressed else ""
        log.warning(
            "member node %s not updated: %s%s; retrying on the next change",
            self.path,
            type(exc).__name__ + (f": {exc}" if str(exc) else ""),
            more,
        )
