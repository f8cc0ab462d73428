"""The keeper's process: the I/O around `election.keeper.machine`.

    python -I -S .../election/keeper/__main__.py CONFIG_JSON    (stdin: control, stdout: status)

Like tini or runit's `runsv`: one loop, no threads, the job in its own process group,
every descendant reaped (the keeper is a child subreaper, so the job's orphans come back
to it). It starts with the daemon and outlives it: when the daemon dies, the job's whole
group is stopped, then the daemon's session is closed (`zkclose`), and what happened is
appended to the record file beside the journal for `election-replay`.

How the daemon's death is known: its end of our stdin closes (the kernel closes a dead
process's files; nobody else holds that end), and its process is seen to have exited,
through a pidfd (or, without one, our parent changing). Its exit status is read from its
zombie's /proc entry while its own parent has not collected it yet.

CONFIG_JSON (no secret in it: it is on our command line):
    daemon    the daemon's pid          record   the record file's path
    replica   its replica id            run      its journal run's `started_wall`
    servers   ZooKeeper `host:port`s    tls      {ca, cert, key} or null
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import select
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from election.keeper import machine as m
from election.keeper import wire
from election.keeper.zkclose import Tls, close_session

PR_SET_CHILD_SUBREAPER = 36
MAX_LINE = 65536  # a longer line of job output is passed on in pieces
REPORT_WAIT = 1.0  # seconds a status line may wait for a daemon that does not read
CLOSE_WITHIN = 5.0  # seconds for the session's close, over every server
STATUS_SPIN = 0.005  # seconds to look for the dead daemon's exit status when its pipe closes
# An ignored signal stays ignored across exec: the job gets these back at their defaults.
RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# A stray SIGTERM (a unit's whole cgroup, say) must not end the keeper before its daemon:
# it would take the job's supervision with it.
IGNORED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Config:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.daemon = int(raw["daemon"])
        self.record: str | None = raw.get("record")
        self.replica = str(raw.get("replica", ""))
        self.run = raw.get("run")
        self.servers: list[str] = [str(s) for s in raw.get("servers", [])]
        tls = raw.get("tls")
        self.tls = None if tls is None else Tls(tls.get("ca"), tls.get("cert"), tls.get("key"))


class Keeper:
    """The loop. `control` and `status` are the file descriptors of the two pipes."""

    def __init__(
        self,
        config: Config,
        *,
        control: int = 0,
        status: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.state = m.State()
        self._control: int | None = control
        self._status: int | None = status
        self._clock = clock
        self._buffer = b""
        self._lock_fd: int | None = None
        self._lock_path: str | None = None
        self._outputs: dict[int, tuple[str, bytearray]] = {}
        self._pidfd: int | None = None
        self._record_fd: int | None = None
        self._wall_offset: float | None = None
        self._events: deque[m.Event] = deque()
        self._exit: int | None = None
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w, status):
            os.set_blocking(fd, False)

    # --- set-up -------------------------------------------------------------------------

    def install(self) -> None:
        """Signals, the subreaper flag and the daemon's pidfd (the real process only)."""
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in IGNORED:
            signal.signal(sig, signal.SIG_IGN)
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        with contextlib.suppress(OSError, AttributeError):
            self._pidfd = os.pidfd_open(self.config.daemon)

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> int:
        """Until the machine asks to exit: the daemon gone, its job gone, its session closed."""
        self._feed(m.Tick(self._clock()))
        while self._exit is None:
            now = self._clock()
            self._wait(m.next_wake(self.state, now))
            self._reap()
            self._look_for_the_daemon()
            self._feed(m.Tick(self._clock()))
        if self._record_fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._record_fd)
        return self._exit

    def _feed(self, event: m.Event) -> None:
        """Step the machine on `event` and carry out its actions; their results are fed
        back in turn, before anything else."""
        self._events.append(event)
        while self._events:
            self.state, actions = m.step(self.state, self._events.popleft())
            for action in actions:
                self._do(action)

    def _do(self, action: m.Action) -> None:
        now = self._clock
        if isinstance(action, m.TryLock):
            self._events.append(self._try_lock(action.path))
        elif isinstance(action, m.ReleaseLock):
            self._release_lock()
        elif isinstance(action, m.Spawn):
            self._events.append(self._spawn(action.spec))
        elif isinstance(action, m.SignalGroup):
            self._signal_all(action.pid, signal.Signals[action.signal])
        elif isinstance(action, m.Report):
            if not self._report(dict(action.fields)):
                self._events.append(m.PipeClosed(now()))
        elif isinstance(action, m.Record):
            self._record(action.at, dict(action.fields))
        elif isinstance(action, m.CloseSession):
            self._events.append(self._close(action.session))
        elif isinstance(action, m.Exit):
            self._exit = action.code
        else:  # pragma: no cover - a new action without its I/O is a bug
            raise TypeError(f"no I/O for {type(action).__name__}")

    def _wait(self, until: float) -> None:
        fds = [self._wake_r, *self._outputs]
        if self._control is not None:
            fds.append(self._control)
        if self._pidfd is not None:
            fds.append(self._pidfd)
        try:
            ready, _, _ = select.select(fds, [], [], max(0.0, until - self._clock()))
        except InterruptedError:  # pragma: no cover - PEP 475 retries select itself
            return
        for fd in ready:
            if fd == self._wake_r:
                _drain(fd)
            elif fd == self._control:
                self._read_control()
            elif fd != self._pidfd:
                self._drain_output(fd)

    # --- the daemon -----------------------------------------------------------------------

    def _read_control(self) -> None:
        assert self._control is not None
        try:
            data = os.read(self._control, 65536)
        except OSError:
            data = b""
        if not data:
            self._control = None
            closed_at = self._clock()
            # The kernel closes a dying process's files just before it becomes a zombie:
            # its exit status is there to read for a moment, until its parent collects it.
            status = _zombie_status(self.config.daemon, within=STATUS_SPIN)
            self._feed(m.PipeClosed(closed_at))
            if status is not None:
                self._feed(m.DaemonExited(self._clock(), status))
            return
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            message = wire.decode(line)
            event = None if message is None else _told(message, self._clock())
            if event is not None:
                self._feed(event)

    def _look_for_the_daemon(self) -> None:
        """Has the daemon's process exited? Only this lets the machine close its session."""
        if self.state.daemon is m.Daemon.GONE:
            return
        if self._pidfd is not None:
            ready, _, _ = select.select([self._pidfd], [], [], 0)
            if not ready:
                return
        elif os.getppid() == self.config.daemon:  # without a pidfd: we were handed on
            return
        status = _zombie_status(self.config.daemon)
        # What it told us before it died comes first (its session, above all).
        while self._control is not None:
            self._read_control()
        self._feed(m.DaemonExited(self._clock(), status))

    # --- the job --------------------------------------------------------------------------

    def _try_lock(self, path: str) -> m.LockTried:
        """The machine-wide lock of this election's jobs (an earlier job, of this replica
        or another one here, may still be stopping). The file is removed when the job is
        done; a lock taken on a file removed meanwhile is not the lock, so try again."""
        now = self._clock()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            return m.LockTried(now, False, f"lock {path}: {exc.strerror}")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino != os.stat(path).st_ino:
                raise BlockingIOError  # removed (and maybe made again) before we locked it
        except OSError:
            os.close(fd)
            return m.LockTried(now, False)
        self._lock_fd, self._lock_path = fd, path
        return m.LockTried(now, True)

    def _release_lock(self) -> None:
        fd, path = self._lock_fd, self._lock_path
        if fd is None or path is None:
            return
        with contextlib.suppress(OSError):  # removed while held: no lock file piles up
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                os.unlink(path)
        os.close(fd)  # the next job on this machine may start
        self._lock_fd = self._lock_path = None

    def _spawn(self, spec: m.JobSpec) -> m.Event:
        env = {**os.environ, **dict(spec.env)}
        if self._lock_fd is not None:
            # The job holds the lock too: any kin that outlive us keep it taken.
            os.set_inheritable(self._lock_fd, True)
            env["ELECTION_LOCK_FD"] = str(self._lock_fd)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        actions: list[tuple[Any, ...]] = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, err_w, 2),
        ]
        now = self._clock()
        try:
            pid = os.posix_spawnp(
                spec.command[0],
                list(spec.command),
                env,
                file_actions=actions,
                setpgroup=0,  # its own process group: a stop reaches all of it
                setsigdef=RESET_SIGNALS,
                setsigmask=(),
            )
        except OSError as exc:
            for fd in (out_r, err_r):
                os.close(fd)
            return m.SpawnFailed(now, f"cannot run {spec.command[0]!r}: {exc.strerror}")
        finally:
            os.close(out_w)
            os.close(err_w)
            if self._lock_fd is not None:
                os.set_inheritable(self._lock_fd, False)
        # The same instant on the wall clock: a post-mortem dates the job's start by it.
        wall = time.time() - (self._clock() - now)
        for fd, stream in ((out_r, "stdout"), (err_r, "stderr")):
            os.set_blocking(fd, False)
            self._outputs[fd] = (stream, bytearray())
        return m.Spawned(now, pid, wall)

    def _signal_all(self, pgid: int, sig: signal.Signals) -> None:
        """`sig` to the job's process group, and to any descendant that left the group
        and came back to us as an orphan."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
        for child in _children():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, sig)
        if self.state.daemon is not m.Daemon.ALIVE:
            self._log(f"{sig.name} to job pid {pgid}'s group")

    def _reap(self) -> None:
        """Collect every child that exited (the job, and orphans handed to us); once the
        job's own process is collected and no child is left, its group is gone."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                job = self.state.job
                if job is not None and job.status is not None:
                    self._drain_all()
                    self._feed(m.GroupGone(self._clock()))
                return
            if pid == 0:
                return
            job = self.state.job
            if job is not None and pid == job.pid:
                self._feed(m.JobReaped(self._clock(), status))

    def _drain_all(self) -> None:
        for fd in list(self._outputs):
            self._drain_output(fd, final=True)

    def _drain_output(self, fd: int, final: bool = False) -> None:
        """Pass on every whole line the job wrote to `fd` (and, at its end, the rest)."""
        stream, buffer = self._outputs[fd]
        eof = False
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                eof = True
                break
            buffer += chunk
        while True:
            cut = buffer.find(b"\n")
            if cut < 0 and len(buffer) < MAX_LINE:
                break
            end = cut if 0 <= cut < MAX_LINE else MAX_LINE
            self._output(stream, bytes(buffer[:end]))
            del buffer[: end + 1 if end == cut else end]
        if (eof or final) and buffer:
            self._output(stream, bytes(buffer))
            buffer.clear()
        if eof:  # the job, and all that shared its output, closed it
            os.close(fd)
            del self._outputs[fd]

    def _output(self, stream: str, raw: bytes) -> None:
        line = raw.decode(errors="replace").rstrip("\r")
        job = self.state.job
        pid = None if job is None else job.pid
        if not self._report({"type": "output", "pid": pid, "stream": stream, "line": line}):
            self._log(f"[job {pid}] {line}")

    # --- the session and the record ---------------------------------------------------------

    def _close(self, session: m.Session) -> m.SessionCloseDone:
        outcome = close_session(
            self.config.servers,
            session.id,
            session.password,
            session.timeout,
            tls=self.config.tls,
            within=min(CLOSE_WITHIN, session.timeout),
        )
        self._log(f"the dead daemon's session 0x{session.id:x}: {outcome}")
        return m.SessionCloseDone(self._clock(), outcome)

    def _record(self, at: float, fields: dict[str, Any]) -> None:
        """One line in the record file: what a post-mortem needs of the daemon's death."""
        cfg = self.config
        if self._wall_offset is None:  # one offset for all records: they keep their order
            self._wall_offset = time.time() - self._clock()
        wall = at + self._wall_offset
        line = {
            "keeper": 1,
            "replica": cfg.replica,
            "host": socket.gethostname(),
            "daemon": cfg.daemon,
            "run": cfg.run,
            "wall": wall,
            **fields,
        }
        if cfg.record is None:
            return
        try:
            if self._record_fd is None:
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
                self._record_fd = os.open(cfg.record, flags, 0o600)
            os.write(self._record_fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())
        except OSError as exc:
            self._log(f"cannot record in {cfg.record}: {exc.strerror}: {line}")

    # --- talking ------------------------------------------------------------------------------

    def _report(self, fields: dict[str, Any]) -> bool:
        """One status line to the daemon; False when it could not be told. A frozen
        daemon does not read: job output then goes to stderr rather than wait, and
        anything else waits at most REPORT_WAIT for room in the pipe."""
        if self._status is None:
            return False
        kind = fields.pop("type")
        data = wire.encode(kind, **fields)
        deadline = self._clock() + (0.0 if kind == "output" else REPORT_WAIT)
        try:
            while data:
                try:
                    data = data[os.write(self._status, data) :]
                except BlockingIOError:
                    left = deadline - self._clock()
                    if left <= 0:
                        return False
                    select.select([], [self._status], [], left)
        except OSError as exc:  # the daemon is gone: from now on, our stderr tells
            if exc.errno not in (errno.EPIPE, errno.EBADF):
                self._log(f"status pipe: {exc.strerror}")
            self._status = None
            return False
        return True

    def _log(self, message: str) -> None:
        line = f"election keeper[{os.getpid()}]: {message}\n".encode(errors="replace")
        with contextlib.suppress(OSError):
            os.write(2, line)


def _told(message: dict[str, Any], now: float) -> m.Event | None:
    """A control line as the machine's event (None for one this keeper does not know)."""
    kind = message["type"]
    try:
        if kind == "session":
            password = bytes.fromhex(str(message["password"]))
            session = m.Session(int(message["id"]), password, float(message["timeout"]))
            return m.SessionTold(now, session)
        if kind == "start":
            spec = m.JobSpec(
                request=int(message["request"]),
                token=int(message["token"]),
                command=tuple(str(word) for word in message["command"]),
                env=tuple((str(k), str(v)) for k, v in dict(message.get("env", {})).items()),
                grace=float(message["grace"]),
                lock=message.get("lock"),
                start_by=float(message["start_by"]),
            )
            return m.StartAsked(now, spec) if spec.command else None
        if kind == "lease":
            return m.LeaseGranted(now, int(message["token"]), float(message["until"]))
        if kind == "stop":
            return m.StopAsked(now)
        if kind == "kill":
            return m.KillAsked(now)
        if kind == "exit":
            return m.ExitSaid(now, int(message["code"]), bool(message.get("graceful")))
    except (KeyError, TypeError, ValueError):
        return None
    return None


def _zombie_status(pid: int, within: float = 0.0) -> int | None:
    """The wait status of process `pid`, a zombie not yet collected by its parent
    (/proc/PID/stat's last field, Linux 3.5+): looked for until `within` seconds have
    passed while the process is still exiting; None once it is collected (or alive)."""
    deadline = time.monotonic() + within
    while True:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            return None  # collected (or never ours to see)
        if fields and fields[0] == b"Z":
            try:
                return int(fields[-1])
            except ValueError:
                return None
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.0002)


def _children() -> list[int]:
    """Our live children (the job, and orphans re-parented to us), from /proc."""
    pids: list[int] = []
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return pids
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            continue
    return pids


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: keeper CONFIG_JSON (run by election's daemon)", file=sys.stderr)
        return 2
    try:
        config = Config(json.loads(argv[0]))
    except (ValueError, KeyError, TypeError) as exc:
        print(f"election keeper: bad configuration: {exc}", file=sys.stderr)
        return 2
    keeper = Keeper(config)
    keeper.install()
    return keeper.run()
