"""Talking to a ZooKeeper server without a client: free ports, four-letter words.

``four_letter_word`` sends ``ruok``, ``srvr``, ``mntr``... and returns the reply;
``server_mode`` reads ``srvr``'s ``Mode:`` line (leader, follower, standalone).
"""

from __future__ import annotations

import contextlib
import socket
import ssl


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct free TCP ports (bound to port 0 together, then released)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


def four_letter_word(host: str, port: int, word: str, timeout: float = 1.0) -> str:
    """Send a ZooKeeper 4lw command (``ruok``, ``srvr``, ``stat``, ``mntr``...) and
    return the reply. Raises OSError if the server is unreachable."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(word.encode("ascii"))
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_WR)
        chunks: list[bytes] = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def four_letter_word_tls(
    host: str, port: int, word: str, context: ssl.SSLContext, timeout: float = 1.0
) -> str:
    """``four_letter_word`` over TLS (a secureClientPort answers 4lw inside TLS only)."""
    chunks: list[bytes] = []
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as s,
    ):
        s.settimeout(timeout)
        s.sendall(word.encode("ascii"))
        while True:
            try:
                data = s.recv(65536)
            except ssl.SSLError:  # the server may close without a TLS close_notify
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def mode_of(reply: str) -> str | None:
    for line in reply.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


def server_mode(host: str, port: int, timeout: float = 1.0) -> str | None:
    """'leader' / 'follower' / 'standalone' / 'observer', or None if not serving."""
    try:
        reply = four_letter_word(host, port, "srvr", timeout)
    except OSError:
        return None
    for line in reply.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None
