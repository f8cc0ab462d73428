"""A TCP proxy for fault injection between a client and ZooKeeper.

    proxy = TcpProxy("127.0.0.1", zk.port)
    client = KazooClient(proxy.connect_string)
    proxy.blackhole()   # silent partition: sockets stay open, bytes vanish
    proxy.heal()        # relaying resumes (connections that lost bytes are reset)
    proxy.close()

Every thread is a daemon and all of them end on ``close()`` (each loop wakes at least
every ``POLL_S`` seconds to check).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType

POLL_S = 0.1
CHUNK = 65536


class _Pair:
    """One accepted client connection and (unless it arrived while blackholed) its
    upstream connection, relayed by one thread in both directions."""

    def __init__(self, proxy: TcpProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.lost_bytes = False  # bytes were dropped: the stream is now corrupt
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tcpproxy-pair", daemon=True)

    def close(self) -> None:
        self.closed.set()
        for s in (self.client, self.upstream):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.close()

    def _connect_upstream(self) -> bool:
        try:
            self.upstream = socket.create_connection(
                (self.proxy.target_host, self.proxy.target_port), timeout=2.0
            )
            self.upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return True
        except OSError:
            return False

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        try:
            if not self.proxy.blackholed and not self._connect_upstream():
                return  # target down: close the client side, like a refused connect
            sel.register(self.client, selectors.EVENT_READ, "client")
            if self.upstream is not None:
                sel.register(self.upstream, selectors.EVENT_READ, "upstream")
            while not self.closed.is_set() and not self.proxy._closed.is_set():
                if self.proxy.blackholed:
                    # Silent partition: keep reading so nothing backs up, drop it all.
                    for key, _ in sel.select(POLL_S):
                        data = key.fileobj.recv(CHUNK)  # type: ignore[union-attr]
                        if not data:
                            return
                        self.lost_bytes = True
                    continue
                if self.lost_bytes or self.upstream is None:
                    return  # healed, but this connection lost data: reset it
                for key, _ in sel.select(POLL_S):
                    src = key.fileobj
                    dst = self.upstream if key.data == "client" else self.client
                    data = src.recv(CHUNK)  # type: ignore[union-attr]
                    if not data:
                        return
                    if self.proxy.blackholed:  # partition began while we waited
                        self.lost_bytes = True
                        continue
                    dst.sendall(data)
        except (OSError, ValueError):  # ValueError: a socket closed under us (fd -1)
            pass
        finally:
            sel.close()
            self.close()
            self.proxy._forget(self)


class TcpProxy:
    """Listens on 127.0.0.1:<free port> and relays to ``target_host:target_port``."""

    def __init__(self, target_host: str, target_port: int, listen_port: int = 0) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self._blackholed = threading.Event()
        self._closed = threading.Event()
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", listen_port))
        self._listener.listen(64)
        self._listener.settimeout(POLL_S)
        self.host = "127.0.0.1"
        self.port: int = self._listener.getsockname()[1]
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"tcpproxy-accept-{self.port}", daemon=True
        )
        self._accept_thread.start()

    @property
    def connect_string(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def blackholed(self) -> bool:
        return self._blackholed.is_set()

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._pairs)

    def blackhole(self) -> None:
        """Silently drop every byte both ways; connections stay open (no FIN, no RST).
        New connections are accepted but go nowhere."""
        self._blackholed.set()

    def heal(self) -> None:
        """Relay again. Connections that dropped bytes during the blackhole are reset
        (their stream is corrupt); the client reconnects through the proxy."""
        self._blackholed.clear()

    def reset(self) -> None:
        """Close every current connection (both sides) at once; keep listening."""
        with self._lock:
            pairs = list(self._pairs)
        for p in pairs:
            p.close()

    def close(self, timeout: float = 2.0) -> None:
        """Stop listening, close every connection and join the threads (bounded)."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            pairs = list(self._pairs)
        for p in pairs:
            p.close()
        self._accept_thread.join(timeout)
        for p in pairs:
            p.thread.join(timeout)

    def _forget(self, pair: _Pair) -> None:
        with self._lock:
            self._pairs.discard(pair)

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._closed.is_set():
                client.close()
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.setblocking(True)
            pair = _Pair(self, client)
            with self._lock:
                self._pairs.add(pair)
            pair.thread.start()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "blackholed" if self.blackholed else "relaying"
        return f"<TcpProxy {self.connect_string} -> {self.target_host}:{self.target_port} {state}>"
