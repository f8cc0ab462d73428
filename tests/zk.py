"""Run a real ZooKeeper (Debian's ``zookeeper`` package) for tests.

No kazoo.testing: it is broken with current pyOpenSSL.  We start the JVM ourselves:

    java -cp <conf>:zookeeper.jar:<log binding> org.apache.zookeeper.server.ZooKeeperServerMain cfg

``zookeeper.jar``'s manifest carries a ``Class-Path`` naming its runtime dependencies in
/usr/share/java (netty, jetty, slf4j-api, jute, metrics, snappy...), so only the jar itself is
needed on ``-cp``; we add an SLF4J binding (slf4j-log4j12 + log4j-1.2, both dependencies of
``libzookeeper-java``) so that the server's log lands in ``<workdir>/zookeeper.log`` instead
of being silently dropped by SLF4J's no-op logger.

Every JVM started here is killed at teardown (``stop()``/``kill()``/``close()``, the context
manager, an ``atexit`` hook, and PR_SET_PDEATHSIG when started from the main thread so that
even a SIGKILLed pytest leaves no java behind).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

JAVA_DIR = Path("/usr/share/java")
ZOOKEEPER_JAR = JAVA_DIR / "zookeeper.jar"
ZOOKEEPER_CONF_DIR = Path("/etc/zookeeper/conf")
# SLF4J -> log4j 1.2 binding; both jars are dependencies of Debian's libzookeeper-java.
LOGGING_JARS = ("slf4j-log4j12.jar", "log4j-1.2.jar")

STANDALONE_MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"
QUORUM_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

JVM_FLAGS = (
    "-Xms32m",
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",  # faster start-up; a test server never gets hot
    "-Djava.net.preferIPv4Stack=true",
    "-Dzookeeper.jmx.log4j.disable=true",
    "-Dzookeeper.admin.enableServer=false",
)

MISSING_HINT = "run `make zookeeper` (installs Debian's zookeeper package and a JRE)"

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


class ZooKeeperUnavailable(RuntimeError):
    """The ZooKeeper jar or java is not installed."""


class ZooKeeperStartError(RuntimeError):
    """The server did not come up in time (the message carries the tail of its log)."""


# --------------------------------------------------------------------------- helpers


def check_installed() -> None:
    """Raise ZooKeeperUnavailable with a helpful message if the server can't be started."""
    if not ZOOKEEPER_JAR.is_file():
        raise ZooKeeperUnavailable(f"{ZOOKEEPER_JAR} is missing: {MISSING_HINT}")
    if java_binary() is None:
        raise ZooKeeperUnavailable(f"no `java` on PATH: {MISSING_HINT}")


def java_binary() -> str | None:
    from shutil import which

    return which("java")


def classpath(extra_first: list[Path] | None = None, extra_last: list[Path] | None = None) -> str:
    entries: list[Path] = list(extra_first or [])
    if ZOOKEEPER_CONF_DIR.is_dir():
        entries.append(ZOOKEEPER_CONF_DIR)
    entries.append(ZOOKEEPER_JAR)
    entries.extend(JAVA_DIR / name for name in LOGGING_JARS if (JAVA_DIR / name).is_file())
    entries.extend(extra_last or [])
    return os.pathsep.join(str(e) for e in entries)


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


def _mode_of(reply: str) -> str | None:
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


LOG4J_PROPERTIES = """\
log4j.rootLogger={level}, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File={logfile}
log4j.appender.FILE.Append=true
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{{ISO8601}} %-5p [%t:%C{{1}}@%L] - %m%n
"""


# ------------------------------------------------------------- process bookkeeping

_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


def _kill_all_live() -> None:
    with _live_lock:
        procs = list(_live)
        _live.clear()
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=5)


atexit.register(_kill_all_live)

_PR_SET_PDEATHSIG = 1
_prctl: Callable[..., int] | None
try:  # resolved once in the parent: no dlopen between fork and exec
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - non-Linux
    _prctl = None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


class _JavaProcess:
    """One JVM with its config, data dir and log file in ``workdir``."""

    def __init__(self, workdir: Path, main_class: str, log_level: str) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.main_class = main_class
        self.cfg_path = self.workdir / "zoo.cfg"
        self.log_path = self.workdir / "zookeeper.log"
        self.log4j_path = self.workdir / "log4j.properties"
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None
        self.extra_jvm_flags: tuple[str, ...] = ()  # e.g. -D system properties
        self.extra_classpath: list[Path] = []

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        check_installed()
        if self.running:
            raise RuntimeError(f"ZooKeeper in {self.workdir} is already running")
        self.log4j_path.write_text(
            LOG4J_PROPERTIES.format(level=self.log_level, logfile=self.log_path)
        )
        java = java_binary()
        assert java is not None
        cmd = [
            java,
            *JVM_FLAGS,
            *self.extra_jvm_flags,
            f"-Dlog4j.configuration=file:{self.log4j_path}",
            f"-Dzookeeper.log.dir={self.workdir}",
            "-cp",
            classpath(extra_last=self.extra_classpath),
            self.main_class,
            str(self.cfg_path),
        ]
        # stdout/stderr (JVM crashes, SLF4J warnings) go to the same log file.
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== {time.strftime('%H:%M:%S')} start: {' '.join(cmd)}\n".encode())
            log.flush()
            in_main_thread = threading.current_thread() is threading.main_thread()
            proc = subprocess.Popen(
                cmd,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches pytest, which then tears us down
                # PDEATHSIG fires when the *thread* that forked dies, so only from main.
                preexec_fn=_die_with_parent if in_main_thread else None,
            )
        self.proc = proc
        with _live_lock:
            _live.add(proc)

    def _forget(self) -> None:
        if self.proc is not None:
            with _live_lock:
                _live.discard(self.proc)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait (bounded), then SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._resume_quietly()
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._forget()

    def kill(self) -> None:
        """SIGKILL: the crash case, nothing is flushed or closed gracefully."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait(timeout=10)
        self._forget()

    def pause(self) -> None:
        """SIGSTOP: the JVM freezes (a GC pause / hung host). Sockets stay open."""
        if not self.running:
            raise RuntimeError("ZooKeeper is not running")
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if not self.running:
            raise RuntimeError("ZooKeeper is not running")
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def _resume_quietly(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGCONT)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


# ------------------------------------------------------------------ standalone server


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
        self._proc = _JavaProcess(self.workdir, STANDALONE_MAIN, log_level)
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
                return _mode_of(self.four_letter_word("srvr", timeout=0.5)) is not None
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


# --------------------------------------------------------------------------- ensemble


class ZooKeeperEnsemble:
    """``size`` QuorumPeerMain nodes on loopback, each in ``workdir/node<i>``.

    Node indices are 0-based; ZooKeeper's ``myid`` is ``index + 1``.
    """

    def __init__(
        self,
        workdir: Path,
        size: int = 3,
        tick_ms: int = 200,
        *,
        min_session_ms: int | None = None,
        max_session_ms: int | None = None,
        log_level: str = "INFO",
        start_timeout: float = 30.0,
    ) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.host = "127.0.0.1"
        self.size = size
        self.tick_ms = tick_ms
        self.min_session_ms = min_session_ms if min_session_ms is not None else 2 * tick_ms
        self.max_session_ms = (
            max_session_ms if max_session_ms is not None else max(10_000, 20 * tick_ms)
        )
        self.start_timeout = start_timeout
        self.workdir = Path(workdir)
        ports = free_ports(3 * size, self.host)
        self.client_ports = ports[0:size]
        self.quorum_ports = ports[size : 2 * size]
        self.election_ports = ports[2 * size : 3 * size]
        self._nodes = [
            _JavaProcess(self.workdir / f"node{i}", QUORUM_MAIN, log_level) for i in range(size)
        ]
        self.started_in: float | None = None

    # -- accessors
    @property
    def connect_string(self) -> str:
        return ",".join(f"{self.host}:{p}" for p in self.client_ports)

    def node_connect_string(self, i: int) -> str:
        return f"{self.host}:{self.client_ports[i]}"

    def node_workdir(self, i: int) -> Path:
        return self._nodes[i].workdir

    def node_log_path(self, i: int) -> Path:
        return self._nodes[i].log_path

    def node_pid(self, i: int) -> int | None:
        return self._nodes[i].pid

    def node_running(self, i: int) -> bool:
        return self._nodes[i].running

    def node_mode(self, i: int) -> str | None:
        if not self._nodes[i].running:
            return None
        return server_mode(self.host, self.client_ports[i], timeout=0.5)

    def modes(self) -> list[str | None]:
        return [self.node_mode(i) for i in range(self.size)]

    def leader_index(self) -> int | None:
        """Index of the node whose ``srvr`` says ``Mode: leader`` (None if none does)."""
        for i in range(self.size):
            if self.node_mode(i) == "leader":
                return i
        return None

    def _write_config(self, i: int) -> None:
        node = self._nodes[i]
        data_dir = node.workdir / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "myid").write_text(f"{i + 1}\n")
        cfg: dict[str, object] = {
            "tickTime": self.tick_ms,
            "initLimit": 10,
            "syncLimit": 5,
            "dataDir": data_dir,
            "clientPort": self.client_ports[i],
            "clientPortAddress": self.host,
            "maxClientCnxns": 0,
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "*",
            "minSessionTimeout": self.min_session_ms,
            "maxSessionTimeout": self.max_session_ms,
            "autopurge.purgeInterval": 0,
            "standaloneEnabled": "false",
            "reconfigEnabled": "false",
        }
        lines = [f"{k}={v}\n" for k, v in cfg.items()]
        lines += [
            f"server.{j + 1}={self.host}:{self.quorum_ports[j]}:{self.election_ports[j]}\n"
            for j in range(self.size)
        ]
        node.cfg_path.write_text("".join(lines))

    # -- lifecycle
    def start(self) -> ZooKeeperEnsemble:
        """Start every node and wait (bounded) until all serve and one is leader."""
        t0 = time.monotonic()
        try:
            for i in range(self.size):
                self._write_config(i)
                self._nodes[i].spawn()
            self.wait_for_quorum(self.start_timeout, all_nodes=True)
        except BaseException:
            self.close()
            raise
        self.started_in = time.monotonic() - t0
        return self

    def wait_for_quorum(self, timeout: float = 20.0, *, all_nodes: bool = False) -> int:
        """Wait until a leader serves (and, with ``all_nodes``, every running node serves).
        Returns the leader's index."""
        deadline = time.monotonic() + timeout
        while True:
            for i, node in enumerate(self._nodes):
                if node.proc is not None and node.proc.poll() is not None and all_nodes:
                    raise ZooKeeperStartError(
                        f"ensemble node {i} exited (rc={node.proc.returncode});"
                        f" log {node.log_path}:\n{node.log_tail()}"
                    )
            modes = self.modes()
            leader = [i for i, m in enumerate(modes) if m == "leader"]
            running = [i for i in range(self.size) if self._nodes[i].running]
            ok = len(leader) == 1 and (not all_nodes or all(modes[i] is not None for i in running))
            if ok:
                return leader[0]
            if time.monotonic() > deadline:
                tails = "\n".join(
                    f"--- node {i} ({self._nodes[i].log_path}):\n{self._nodes[i].log_tail(15)}"
                    for i in range(self.size)
                )
                raise ZooKeeperStartError(
                    f"ensemble has no serving leader after {timeout}s (modes={modes})\n{tails}"
                )
            time.sleep(0.05)

    def start_node(self, i: int, *, wait: bool = True, timeout: float = 20.0) -> None:
        self._write_config(i)
        self._nodes[i].spawn()
        if wait:
            deadline = time.monotonic() + timeout
            while self.node_mode(i) is None:
                if not self._nodes[i].running:
                    raise ZooKeeperStartError(f"node {i} exited; log:\n{self._nodes[i].log_tail()}")
                if time.monotonic() > deadline:
                    raise ZooKeeperStartError(
                        f"node {i} not serving after {timeout}s; log:\n{self._nodes[i].log_tail()}"
                    )
                time.sleep(0.05)

    def stop_node(self, i: int, timeout: float = 10.0) -> None:
        self._nodes[i].stop(timeout)

    def kill_node(self, i: int) -> None:
        self._nodes[i].kill()

    def pause_node(self, i: int) -> None:
        self._nodes[i].pause()

    def resume_node(self, i: int) -> None:
        self._nodes[i].resume()

    def stop(self) -> None:
        for node in self._nodes:
            node.stop()

    def close(self) -> None:
        for node in self._nodes:
            node._resume_quietly()
            node.kill()

    def __enter__(self) -> ZooKeeperEnsemble:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.size))

    def __repr__(self) -> str:
        return f"<ZooKeeperEnsemble {self.connect_string} modes={self.modes()}>"
