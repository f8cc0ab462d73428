"""The job's supervisor: one small process per job run, between the daemon and the job.

    python -I -S supervisor.py CONFIG_JSON      (stdin: control, stdout: status)

It is what keeps the promise of `--exec` when the daemon cannot: **no job outlives its
lease**. The lease is a deadline on the machine's monotonic clock (shared by every process
on Linux) that only the daemon extends, and only after ZooKeeper has answered a heartbeat
(`election.runtime.lease`). When the lease runs out — the daemon died, froze, or lost
ZooKeeper — the supervisor sends SIGTERM to the job's process group at `lease - grace`
and SIGKILL at `lease`, reaps, and exits. The daemon's death (EOF on stdin, or the death
signal asked with PR_SET_PDEATHSIG) starts the same stop at once; so does a stop asked by
the daemon. SIGKILL never comes later than the lease.

Like tini or runit's `runsv`: one loop, no threads, the job in its own process group,
every descendant reaped (the supervisor is a child subreaper, so orphans come back to
it). It imports only the standard library and runs with `-I -S`, so it starts in a few
milliseconds and no kazoo or project code runs between the daemon and the job.

Control lines (daemon → supervisor, stdin):
    lease UNTIL     the lease now ends at monotonic UNTIL (it only ever grows)
    stop            end of the term: SIGTERM now, SIGKILL after the grace (or at the lease)
    kill            SIGKILL now (the daemon is exiting in a hurry)

Status lines (supervisor → daemon, stdout), JSON objects tagged by "type":
    started {pid, wall}         the job runs as `pid`, leader of its own process group;
                                `wall`: the wall clock at the instant `ran_for` counts from
    failed {reason}             the job was not started (the supervisor then exits)
    lease-expired {pid, reason} SIGTERM sent because the lease ran out
    output {pid, stream, line}  one line the job wrote
    exited {pid, code, signal, ran_for}   the job and every process of its group are gone
                                (ran_for: seconds from the job's start until then)

After the daemon is gone, the supervisor's own actions and the job's output go to stderr
(the daemon's, so the unit's log).
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
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
LOCK_POLL = 0.05  # seconds between tries for the lock of a job still stopping
KILL_REPEAT = 0.05  # seconds between two SIGKILL rounds while stragglers remain
IDLE = 1.0  # the longest the loop sleeps without a reason to wake
MAX_LINE = 65536  # a longer line of job output is passed on in pieces
REPORT_WAIT = 1.0  # seconds a status line may wait for a daemon that does not read
# Ignored by Python itself, and an ignored signal stays ignored across exec: the job gets
# them back at their defaults, as from a shell.
RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
DEATH_SIGNAL = signal.SIGHUP  # what Linux sends us when the daemon's spawning thread dies


def supervisor_command(config: dict[str, Any]) -> list[str]:
    """The command line that runs a supervisor with `config` (see `Config.parse`)."""
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), json.dumps(config)]


def exit_code(status: int) -> tuple[int, str]:
    """A wait status as a shell reports it: (code, "") or (128 + N, "SIGNAME")."""
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        return code, ""
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return 128 - code, name


class Config:
    """What the daemon tells a supervisor at its start (argv[1], a JSON object)."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.command: list[str] = [str(word) for word in raw["command"]]
        self.grace = float(raw["grace"])  # SIGTERM this long before SIGKILL (≤ the lease)
        self.lock: str | None = raw.get("lock")  # one job at a time on this machine
        self.start_by = float(raw["start_by"])  # monotonic: give up starting after this
        self.daemon = int(raw["daemon"])  # the daemon's pid
        if not self.command:
            raise ValueError("no command")

    @classmethod
    def parse(cls, text: str) -> Config:
        return cls(json.loads(text))


class Supervisor:
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
        self._control: int | None = control
        self._status: int | None = status
        self._clock = clock
        self._control_buffer = b""
        self.lease = float("-inf")  # monotonic end of the lease; only grows
        self._lease_granted_at: float | None = None
        self._lock_fd: int | None = None
        self.pid: int | None = None  # the job (leader of its process group)
        self._started_at = 0.0
        self._status_of_job: int | None = None  # its wait status once reaped
        self._outputs: dict[int, tuple[str, bytearray]] = {}  # read fd -> (stream, buffer)
        self._stop_why = ""  # set once the stop began (SIGTERM sent)
        self._kill_at = float("inf")
        self._last_kill = float("-inf")
        self._stop_asked = ""  # why a stop was asked for, before it is carried out
        self._daemon_gone = False
        self._signalled: int | None = None
        self._no_children = False
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w, status):
            os.set_blocking(fd, False)

    # --- set-up -------------------------------------------------------------------------

    def install(self) -> None:
        """Signals, the death signal and the subreaper flag (the real process only)."""
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, self._on_signal)
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
            libc.prctl(PR_SET_PDEATHSIG, int(DEATH_SIGNAL), 0, 0, 0)
        except (OSError, AttributeError):  # not Linux: EOF on stdin still tells
            pass
        if os.getppid() != self.config.daemon:  # it died before the death signal was asked
            self._daemon_died("the daemon was gone before the supervisor started")

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum != signal.SIGCHLD:
            self._signalled = signum

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> int:
        """Start the job under a lease, supervise it until it and its group are gone."""
        if not self._start():
            return 1
        while True:
            self._reap()
            now = self._clock()
            self._enforce(now)
            if self._status_of_job is not None and self._no_children:
                return self._finish()
            self._wait(self._next_wake(now))

    def _start(self) -> bool:
        """Wait for the lock and a lease that leaves room for the grace; then spawn."""
        while True:
            self._take_signals()
            now = self._clock()
            if self._daemon_gone or self._stop_asked:
                self._report(type="failed", reason=self._stop_asked or "the daemon is gone")
                return False
            if self._lock_fd is None:
                try:
                    self._lock_fd = self._take_lock()
                except OSError as exc:
                    self._report(type="failed", reason=f"lock {self.config.lock}: {exc.strerror}")
                    return False
            if self._lock_fd is not None and now < self.lease - self.config.grace:
                return self._spawn(now)
            if now >= self.config.start_by:
                why = "no lease from the daemon in time"
                if self._lock_fd is None:
                    why = f"the lock {self.config.lock} stayed held by an earlier job"
                self._report(type="failed", reason=why)
                return False
            self._wait(min(self.config.start_by, now + LOCK_POLL))

    def _take_lock(self) -> int | None:
        """The machine-wide lock of this election's jobs, or None while another holds it
        (an earlier job, of this replica or another one here, still stopping)."""
        if self.config.lock is None:
            return -1
        fd = os.open(self.config.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def _spawn(self, now: float) -> bool:
        env = dict(os.environ)
        if self._lock_fd is not None and self._lock_fd >= 0:
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
        try:
            self.pid = os.posix_spawnp(
                self.config.command[0],
                self.config.command,
                env,
                file_actions=actions,
                setpgroup=0,  # its own process group: a stop reaches all of it
                setsigdef=RESET_SIGNALS,
                setsigmask=(),
            )
        except OSError as exc:
            self._report(
                type="failed", reason=f"cannot run {self.config.command[0]!r}: {exc.strerror}"
            )
            return False
        finally:
            os.close(out_w)
            os.close(err_w)
        self._started_at = now
        # The same instant on the wall clock: a post-mortem dates the job's start by it
        # (and its end, with `ran_for`), however late a frozen daemon journals this.
        wall = time.time() - (self._clock() - now)
        for fd, stream in ((out_r, "stdout"), (err_r, "stderr")):
            os.set_blocking(fd, False)
            self._outputs[fd] = (stream, bytearray())
        self._report(type="started", pid=self.pid, wall=wall)
        return True

    def _take_signals(self) -> None:
        """A stop signal, or the death signal: the daemon is gone, or wants us gone."""
        if self._signalled is None or self._daemon_gone:
            return
        if self._signalled == DEATH_SIGNAL:
            self._daemon_died("the daemon is gone (death signal)")
        else:
            self._daemon_died(f"{signal.Signals(self._signalled).name} received")

    def _enforce(self, now: float) -> None:
        """Carry out whatever is due: the lease's SIGTERM and SIGKILL, a stop asked for,
        the daemon's death, stragglers of a job that exited by itself."""
        self._take_signals()
        alive = not (self._status_of_job is not None and self._no_children)
        if not alive:
            return
        if not self._stop_why:
            if now >= self.lease - self.config.grace:
                reason = self._lease_reason(now)
                self._report(type="lease-expired", pid=self.pid, reason=reason)
                self._begin_stop(now, f"lease: {reason}")
            elif self._stop_asked:
                self._begin_stop(now, self._stop_asked)
            elif self._status_of_job is not None:  # it exited; its group may not have
                self._begin_stop(now, "the job exited")
        if now >= min(self._kill_at, self.lease) and now - self._last_kill >= KILL_REPEAT:
            self._last_kill = now
            self._signal_all(signal.SIGKILL)

    def _lease_reason(self, now: float) -> str:
        if self._daemon_gone:
            return "the daemon is gone"
        if self._lease_granted_at is None:
            return "never extended"
        return f"not extended for {now - self._lease_granted_at:.2f}s"

    def _begin_stop(self, now: float, why: str) -> None:
        self._stop_why = why
        self._kill_at = min(self._kill_at, now + self.config.grace, self.lease)
        if self._daemon_gone:  # nobody else will tell
            self._log(
                f"stopping job pid {self.pid} ({why}): SIGTERM to its group now, "
                f"SIGKILL in {max(0.0, self._kill_at - now):.2f}s at the latest"
            )
        self._signal_all(signal.SIGTERM)

    def _signal_all(self, sig: signal.Signals) -> None:
        """`sig` to the job's process group, and to any descendant that left the group
        and has come back to us as an orphan."""
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
        for child in _children():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, sig)

    def _reap(self) -> None:
        """Collect every child that has exited (the job, and orphans handed to us)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self._no_children = True
                return
            if pid == 0:
                self._no_children = False
                return
            if pid == self.pid:
                self._status_of_job = status

    def _finish(self) -> int:
        """Everything of the job is gone: free the lock, then say so. `ran_for` is on
        the supervisor's clock, from the job's start to now, when the last process of its
        group is gone: a post-mortem dates the job's end by it, however late a frozen
        daemon reads this line."""
        assert self._status_of_job is not None
        ran_for = self._clock() - self._started_at
        for fd in list(self._outputs):
            self._drain(fd, final=True)
        if self._lock_fd is not None and self._lock_fd >= 0:
            os.close(self._lock_fd)  # the next job on this machine may start
            self._lock_fd = None
        code, name = exit_code(self._status_of_job)
        self._report(type="exited", pid=self.pid, code=code, signal=name, ran_for=ran_for)
        if self._daemon_gone:
            how = f"signal {name}" if name else f"code {code}"
            self._log(f"job pid {self.pid} and its group are gone ({how}); exiting")
        return code

    def _next_wake(self, now: float) -> float:
        wake = now + IDLE
        if self._status_of_job is not None or self._stop_why:
            wake = min(wake, now + KILL_REPEAT)  # watch for stragglers and the kill time
        if not self._stop_why:
            wake = min(wake, self.lease - self.config.grace)
        return min(wake, self._kill_at, self.lease)

    # --- waiting and reading --------------------------------------------------------------

    def _wait(self, until: float) -> None:
        fds = [self._wake_r, *self._outputs]
        if self._control is not None:
            fds.append(self._control)
        timeout = max(0.0, until - self._clock())
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:  # pragma: no cover - PEP 475 retries select itself
            return
        for fd in ready:
            if fd == self._wake_r:
                _drain_wakeups(fd)
            elif fd == self._control:
                self._read_control()
            else:
                self._drain(fd)

    def _read_control(self) -> None:
        assert self._control is not None
        try:
            data = os.read(self._control, 4096)
        except OSError:
            data = b""
        if not data:
            self._control = None
            self._daemon_died("")
            return
        self._control_buffer += data
        *lines, self._control_buffer = self._control_buffer.split(b"\n")
        for line in lines:
            self._command(line.decode(errors="replace").split())

    def _command(self, words: Sequence[str]) -> None:
        if not words:
            return
        if words[0] == "lease" and len(words) == 2:
            try:
                until = float(words[1])
            except ValueError:
                return
            if until > self.lease:
                self.lease = until
                self._lease_granted_at = self._clock()
        elif words[0] == "stop":
            self._stop_asked = self._stop_asked or "asked by the daemon"
        elif words[0] == "kill":
            self._stop_asked = self._stop_asked or "killed by the daemon"
            self._kill_at = float("-inf")

    def _daemon_died(self, how: str) -> None:
        """The daemon is gone (or a signal told us to stop): stop at once; SIGTERM first
        so the job can clean up, SIGKILL after the grace (never after the lease)."""
        self._daemon_gone = True
        how = how or f"the daemon (pid {self.config.daemon}) is gone"
        self._stop_asked = self._stop_asked or how
        self._log(f"{how}: stopping the job" if self.pid else f"{how}: not starting the job")

    def _drain(self, fd: int, final: bool = False) -> None:
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
        if not self._report(type="output", pid=self.pid, stream=stream, line=line):
            self._log(f"[job {self.pid}] {line}")

    # --- talking --------------------------------------------------------------------------

    def _report(self, **fields: Any) -> bool:
        """One status line to the daemon; False when it could not be told. A frozen
        daemon does not read: job output then goes to stderr rather than wait, and
        anything else waits at most REPORT_WAIT for room in the pipe."""
        if self._status is None:
            return False
        data = (json.dumps(fields, separators=(",", ":")) + "\n").encode()
        deadline = self._clock() + (0.0 if fields["type"] == "output" else REPORT_WAIT)
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
            if not self._daemon_gone:
                self._daemon_died("")
            return False
        return True

    def _log(self, message: str) -> None:
        line = f"election supervisor[{os.getpid()}]: {message}\n".encode(errors="replace")
        with contextlib.suppress(OSError):
            os.write(2, line)


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


def _drain_wakeups(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: supervisor.py CONFIG_JSON (run by election's daemon)", file=sys.stderr)
        return 2
    try:
        config = Config.parse(argv[0])
    except (ValueError, KeyError, TypeError) as exc:
        print(f"election supervisor: bad configuration: {exc}", file=sys.stderr)
        return 2
    supervisor = Supervisor(config)
    supervisor.install()
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
