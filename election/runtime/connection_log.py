"""kazoo's connection log, read rather than shown: why each server could not be reached.

kazoo tells why a connection attempt failed only in its log ("Connection dropped: socket
connection error: Connection refused", "Cannot resolve zk3: [Errno -2] Name or service
not known"), once per attempt, again and again while it retries. A `ConnectionLog` is
the only handler of a kazoo client's private logger: it keeps, per server, the last
reason an attempt failed, and the addresses that answered "no" (refused, or a name that
does not resolve). The daemon says each reason once, until it changes or the session is
back, and shows it on /readyz; an operator's command says it in its one line of error,
at once when every server said no.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Final

__all__ = ["REFUSED", "ConnectionLog", "cause_of", "resolved"]

REFUSED: Final = "connection refused"
_CONNECTED: Final = "Zookeeper connection established"

Announce = Callable[[str, str], None]  # (server, cause): said once per change
Addresses = Callable[[str, int], list[str]]


class ConnectionLog(logging.Handler):
    """The last failure per server. `announce` hears each new one (a server's first, or
    a different one) until a session is made; `passthrough` gets kazoo's other records
    (at its level), so that nothing but the repetition is lost."""

    def __init__(
        self, announce: Announce | None = None, passthrough: logging.Logger | None = None
    ) -> None:
        super().__init__(logging.INFO)
        self._announce = announce
        self._passthrough = passthrough
        self._lock = threading.Lock()
        self._server = ""
        self._attempt: tuple[str, str, int] | None = None
        self._causes: dict[str, str] = {}
        self._refused: set[tuple[str, str, int]] = set()  # (host, address, port)
        self._unresolved: set[str] = set()  # host names
        # The server refused our credential: kazoo stops connecting (and its state moves
        # on to CLOSED at once, so only this line of its log keeps it).
        self.auth_failed = False

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        message = record.getMessage()
        said: tuple[str, str] | None = None
        with self._lock:
            if message.startswith("AUTH_FAILED"):
                self.auth_failed = True
            if message.startswith("Connecting to ") and len(args) >= 3:
                self._server = f"{args[0]}:{args[2]}"
                self._attempt = (str(args[0]), str(args[1]), _port(args[2]))
                return
            if message.startswith(_CONNECTED):
                self._causes.clear()  # a later failure is news again
                self._refused.clear()
                self._unresolved.clear()
                return
            server, cause = "", ""
            if message.startswith("Cannot resolve ") and args:
                server, cause = str(args[0]), cause_of(message)
                self._unresolved.add(server)
            elif record.levelno >= logging.WARNING and self._server:
                server, cause = self._server, cause_of(message)
                if cause == REFUSED and self._attempt is not None:
                    self._refused.add(self._attempt)
            if cause:
                if self._causes.get(server) != cause:
                    said = (server, cause)
                self._causes[server] = cause
        if said is not None:
            if self._announce is not None:
                self._announce(*said)
        elif (
            not cause
            and self._passthrough is not None
            and record.levelno >= self._passthrough.getEffectiveLevel()
        ):
            self._passthrough.handle(record)

    def describe(self) -> str:
        """`127.0.0.1:2181: connection refused`, one per server that failed; '' if none."""
        with self._lock:
            return "; ".join(f"{server}: {cause}" for server, cause in self._causes.items())

    def all_said_no(self, servers: tuple[str, ...], addresses: Addresses) -> bool:
        """Every server answered "no": its name does not resolve, or every address it
        resolves to (`addresses`) refused the connection. A server that has not answered
        yet, or does not answer at all, is still waited for."""
        with self._lock:
            refused, unresolved = set(self._refused), set(self._unresolved)
        if not servers:
            return False
        for server in servers:
            host, port = _host_port(server)
            if host in unresolved:
                continue
            if not any(h == host and p == port for h, _, p in refused):
                return False  # not refused yet: no need to resolve it ourselves
            tried = addresses(host, port)
            if not tried or any((host, address, port) not in refused for address in tried):
                return False
        return True


def cause_of(message: str) -> str:
    """The reason in one of kazoo's connection warnings, as an operator reads it; '' for
    the warnings that are not a reason (a retry, a state change)."""
    for prefix in ("Connection dropped: socket connection error: ", "Connection dropped: "):
        if message.startswith(prefix):
            reason = message.removeprefix(prefix)
            return reason[:1].lower() + reason[1:]
    if message.startswith("Connection time-out"):
        return "no answer (timed out)"
    if message.startswith("Cannot resolve "):
        host, _, reason = message.removeprefix("Cannot resolve ").partition(": ")
        return f"cannot resolve {host}: {reason.split('] ', 1)[-1]}"
    if message.startswith("Session has expired"):
        return "session expired"
    return ""


def resolved(host: str, port: int) -> list[str]:
    """The addresses kazoo tries for `host:port` (it resolves them the same way)."""
    try:
        found = socket.getaddrinfo(host, port, 0, 0, socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in found]


def _port(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1


def _host_port(server: str) -> tuple[str, int]:
    """`host:port` as kazoo logs it: `[::1]:2181` is host `::1`."""
    host, _, port = server.rpartition(":")
    return host.strip().strip("[]"), _port(port)
