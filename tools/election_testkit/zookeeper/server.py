"""A standalone ZooKeeper on loopback, optionally TLS-only (``ServerTls``)."""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from election_testkit.zookeeper.jvm import (
    JAVA_DIR,
    STANDALONE_MAIN,
    JavaProcess,
    ZooKeeperStartError,
)
from election_testkit.zookeeper.probes import (
    four_letter_word,
    four_letter_word_tls,
    free_port,
    mode_of,
    server_mode,
)

# TLS needs the Netty connection factory; zookeeper.jar's manifest names netty-handler,
# -transport, -buffer, -common and -transport-native-epoll but not these, which they need.
NETTY_FACTORY = "org.apache.zookeeper.server.NettyServerCnxnFactory"
TLS_EXTRA_JARS = ("netty-codec.jar", "netty-resolver.jar", "netty-transport-native-unix-common.jar")


@dataclass(frozen=True)
class ServerTls:
    """TLS for a test server: a TLS-only ``secureClientPort`` with PEM key and trust stores.

    ``keystore``: the server's PEM private key followed by its certificate chain;
    ``truststore``: PEM CA certificate(s) that sign client certificates;
    ``client_auth``: ZooKeeper's ``ssl.clientAuth`` (need, want or none).
    ``probe_cert``/``probe_key``: a client certificate the fixture's own ``srvr`` probe
    presents (needed when ``client_auth`` is ``need``); ``probe_ca`` verifies the server.
    """

    keystore: Path
    truststore: Path
    probe_ca: Path
    probe_cert: Path | None = None
    probe_key: Path | None = None
    client_auth: str = "need"

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.probe_ca))
        context.check_hostname = False  # the probe dials 127.0.0.1; the SAN check is the
        if self.probe_cert is not None:  # daemon's business, tested there
            context.load_cert_chain(str(self.probe_cert), str(self.probe_key))
        return context


class ZooKeeperServer:
    """A standalone ZooKeeper on 127.0.0.1 with its data in ``workdir``.

    ``with ZooKeeperServer(tmp_path) as zk: KazooClient(zk.connect_string)``

    With ``tls=ServerTls(...)`` it listens only on a TLS ``secureClientPort`` (``port``),
    through Netty: clients need ``use_ssl``; the ``srvr`` probes speak TLS too.
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        tick_ms: int = 200,
        *,
        min_session_ms: int | None = None,
        max_session_ms: int | None = None,
        log_level: str = "INFO",
        start_timeout: float = 20.0,
        tls: ServerTls | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.tls = tls
        self.port = port if port is not None else free_port(self.host)
        self.tick_ms = tick_ms
        # ZooKeeper clamps a client's requested session timeout to [min, max]; its defaults
        # are 2*tickTime and 20*tickTime (only 4 s with tick 200 ms), so widen the top.
        self.min_session_ms = min_session_ms if min_session_ms is not None else 2 * tick_ms
        self.max_session_ms = (
            max_session_ms if max_session_ms is not None else max(10_000, 20 * tick_ms)
        )
        self.start_timeout = start_timeout
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self._proc = JavaProcess(self.workdir, STANDALONE_MAIN, log_level)
        if tls is not None:
            self._proc.extra_jvm_flags = (f"-Dzookeeper.serverCnxnFactory={NETTY_FACTORY}",)
            self._proc.extra_classpath = [JAVA_DIR / name for name in TLS_EXTRA_JARS]
        self.started_in: float | None = None  # seconds the last start() took

    # -- accessors
    @property
    def connect_string(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._proc.log_path

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc.running

    def write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cfg = {
            "tickTime": self.tick_ms,
            "dataDir": self.data_dir,
            "clientPort": self.port,
            "clientPortAddress": self.host,
            "maxClientCnxns": 0,
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "*",
            "minSessionTimeout": self.min_session_ms,
            "maxSessionTimeout": self.max_session_ms,
            "autopurge.purgeInterval": 0,
        }
        if self.tls is not None:
            del cfg["clientPort"], cfg["clientPortAddress"]
            cfg.update(
                {
                    "secureClientPort": self.port,
                    "secureClientPortAddress": self.host,
                    "serverCnxnFactory": NETTY_FACTORY,
                    "ssl.keyStore.location": self.tls.keystore,
                    "ssl.keyStore.type": "PEM",
                    "ssl.trustStore.location": self.tls.truststore,
                    "ssl.trustStore.type": "PEM",
                    "ssl.clientAuth": self.tls.client_auth,
                }
            )
        self._proc.cfg_path.write_text("".join(f"{k}={v}\n" for k, v in cfg.items()))

    # -- lifecycle
    def start(self) -> ZooKeeperServer:
        t0 = time.monotonic()
        self.write_config()
        self._proc.spawn()
        try:
            self._wait_serving(self.start_timeout)
        except BaseException:
            self._proc.kill()
            raise
        self.started_in = time.monotonic() - t0
        return self

    def _wait_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self._proc.running:
                raise ZooKeeperStartError(
                    f"ZooKeeper exited during start-up; log {self.log_path}:\n"
                    + self._proc.log_tail()
                )
            if self.is_serving():
                return
            if time.monotonic() > deadline:
                raise ZooKeeperStartError(
                    f"ZooKeeper on {self.connect_string} not serving after {timeout}s;"
                    f" log {self.log_path}:\n{self._proc.log_tail()}"
                )
            time.sleep(0.05)

    def is_serving(self) -> bool:
        """True once ``srvr`` reports a mode (``ruok`` answers imok even before that)."""
        if self.tls is not None:
            try:
                return mode_of(self.four_letter_word("srvr", timeout=0.5)) is not None
            except OSError:
                return False
        return server_mode(self.host, self.port, timeout=0.5) is not None

    def four_letter_word(self, word: str, timeout: float = 1.0) -> str:
        if self.tls is not None:
            context = self.tls.client_context()
            return four_letter_word_tls(self.host, self.port, word, context, timeout)
        return four_letter_word(self.host, self.port, word, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        self._proc.stop(timeout)

    def kill(self) -> None:
        self._proc.kill()

    def restart(self, *, hard: bool = False) -> ZooKeeperServer:
        """Stop (or kill if ``hard``) and start again on the same port and data dir."""
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def pause(self) -> None:
        self._proc.pause()

    def resume(self) -> None:
        self._proc.resume()

    def close(self) -> None:
        """Always-safe teardown: resumes a paused JVM and kills it."""
        self._proc._resume_quietly()
        self._proc.kill()

    def __enter__(self) -> ZooKeeperServer:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ZooKeeperServer {self.connect_string} {state} {self.workdir}>"
