"""One ZooKeeper JVM (Debian's ``zookeeper`` package), started and killed for sure.

No kazoo.testing: it is broken with current pyOpenSSL.  We start the JVM ourselves:

    java -cp <conf>:zookeeper.jar:<log binding> org.apache.zookeeper.server.ZooKeeperServerMain cfg

``zookeeper.jar``'s manifest carries a ``Class-Path`` naming its runtime dependencies in
/usr/share/java (netty, jetty, slf4j-api, jute, metrics, snappy...), so only the jar itself is
needed on ``-cp``; we add an SLF4J binding (slf4j-log4j12 + log4j-1.2, both dependencies of
``libzookeeper-java``) so that the server's log lands in ``<workdir>/zookeeper.log`` instead
of being silently dropped by SLF4J's no-op logger.

Every JVM started here is killed at teardown (``stop()``/``kill()``/``close()``, the context
manager, an ``atexit`` hook, and PR_SET_PDEATHSIG when started from the main thread so that
even a SIGKILLed parent leaves no java behind).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

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


class JavaProcess:
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

    def pause(self, timeout: float = 5.0) -> None:
        """SIGSTOP: the JVM freezes (a GC pause / hung host). Sockets stay open. Returns
        once every thread of it has stopped: the signal is taken by each thread when it
        next runs, and on a loaded machine a request sent at once could still be served."""
        if not self.running:
            raise RuntimeError("ZooKeeper is not running")
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        deadline = time.monotonic() + timeout
        while not _all_threads_stopped(self.proc.pid):
            if time.monotonic() > deadline:
                raise ZooKeeperStartError(f"ZooKeeper (pid {self.proc.pid}) did not stop")
            time.sleep(0.005)

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


def _all_threads_stopped(pid: int) -> bool:
    """Every thread of `pid` is stopped (state T) or gone."""
    states = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            states.append((task / "stat").read_bytes().rsplit(b")", 1)[1].split()[0])
        except OSError:  # the thread ended meanwhile
            continue
    return bool(states) and all(state in (b"T", b"t", b"Z", b"X") for state in states)
