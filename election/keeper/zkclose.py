"""Closing a dead daemon's ZooKeeper session: resume it with its id and password, then
ask the server to close it. ZooKeeper then deletes the session's ephemeral nodes at once
(the daemon's election and member nodes), and their watchers hear of it.

Two requests of ZooKeeper's wire protocol (jute), standard library only, so the keeper
stays small and starts in milliseconds (kazoo's import alone costs 80 ms and 12 MB; its
client a thread and a connection loop we do not need):

    ConnectRequest   {protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly}
    ConnectResponse  {protocolVersion, timeOut, sessionId, passwd[, readOnly]}
                     timeOut <= 0: the server does not know the session (expired, closed)
    closeSession     RequestHeader {xid, type = -11}, no body
    reply            ReplyHeader {xid, zxid, err}

Every frame is preceded by its length (a big-endian int). Resuming a session needs no
credential: ZooKeeper checks ACLs on nodes, not on a session's close. TLS, when the daemon
uses it, with the same CA, client certificate and key.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

CLOSE_SESSION = -11
CLOSE_XID = 1
NOTIFICATION_XID = -1  # a watch event: not our answer
PING_XID = -2
MAX_FRAME = 1 << 20


@dataclass(frozen=True)
class Tls:
    ca: str | None = None
    cert: str | None = None
    key: str | None = None


def split_server(server: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` (as `election.values.format_address` writes them)."""
    host, _, port = server.rpartition(":")
    return host.strip("[]"), int(port)


def close_session(
    servers: Sequence[str],
    session_id: int,
    password: bytes,
    timeout: float,
    *,
    tls: Tls | None = None,
    within: float = 5.0,
) -> str:
    """Resume the session on the first server that answers, and close it. Returns
    "closed", "expired" (the server no longer knows it: nothing left to close), or
    "failed: <why>" after every server failed within `within` seconds."""
    deadline = time.monotonic() + within
    problems = []
    for server in servers:
        left = deadline - time.monotonic()
        if left <= 0:
            problems.append("out of time")
            break
        try:
            return _close_on(server, session_id, password, timeout, tls, left)
        except (OSError, ValueError, struct.error) as exc:
            problems.append(f"{server}: {exc}")
    return "failed: " + "; ".join(problems or ["no server"])


def _close_on(
    server: str, session_id: int, password: bytes, timeout: float, tls: Tls | None, within: float
) -> str:
    host, port = split_server(server)
    # Connect with a share of the time left: a server that does not answer must leave
    # room for the next one.
    sock = socket.create_connection((host, port), timeout=min(within, max(within / 2, 0.5)))
    try:
        sock.settimeout(within)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            sock = _wrap(sock, host, tls)
        connect = struct.pack("!iqiq", 0, 0, int(timeout * 1000), session_id)
        connect += struct.pack("!i", len(password)) + password + b"\x00"
        _send(sock, connect)
        answer = _receive(sock)
        _, granted, answered_id = struct.unpack_from("!iiq", answer)
        if granted <= 0 or answered_id != session_id:
            return "expired"
        _send(sock, struct.pack("!ii", CLOSE_XID, CLOSE_SESSION))
        while True:
            xid, _, err = struct.unpack_from("!iqi", _receive(sock))
            if xid in (NOTIFICATION_XID, PING_XID):
                continue
            if err != 0:
                raise ValueError(f"closeSession answered error {err}")
            return "closed"
    finally:
        sock.close()


def _wrap(sock: socket.socket, host: str, tls: Tls) -> socket.socket:
    import ssl  # only with TLS: its import costs a few MB

    context = ssl.create_default_context(cafile=tls.ca)
    if tls.cert is not None:
        context.load_cert_chain(tls.cert, tls.key)
    return context.wrap_socket(sock, server_hostname=host)


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack("!i", len(payload)) + payload)


def _receive(sock: socket.socket) -> bytes:
    (length,) = struct.unpack("!i", _exactly(sock, 4))
    if not 0 < length <= MAX_FRAME:
        raise ValueError(f"bad frame length {length}")
    return _exactly(sock, length)


def _exactly(sock: socket.socket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return bytes(data)
