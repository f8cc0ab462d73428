"""The daemon's side of its keeper (`election.keeper`): starts it with the daemon, tells
it the ZooKeeper session, runs `StartChild` and `StopChild` through it, and replaces it
should it die.

- The keeper is one process per daemon, started at once (in the background: the daemon's
  start does not wait for it) in a session of its own, so no terminal signal reaches it.
  It outlives the daemon: when the daemon dies it stops the job's whole group, then closes
  the daemon's session, so another replica leads at once.
- The session's id and password go to it over its stdin on every new session; they are
  written nowhere else.
- The job's lease is extended only by `election.runtime.lease`, after ZooKeeper answered
  a heartbeat; this module passes each extension on (with its term) to the keeper, which
  enforces it: SIGTERM at `lease - grace`, SIGKILL at `lease`.
- One job at a time per election on this machine: the keeper takes an exclusive `flock`
  on a lock file before it starts the job (which inherits it, as `ELECTION_LOCK_FD`), and
  removes the file once the job and its whole group are gone.
- Should the keeper die while the daemon lives, the job must not run unsupervised: its
  group is killed here at once, the core hears the job exited, and a new keeper starts.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import election.keeper
from election.core import effects as fx
from election.core import events as ev
from election.keeper import wire
from election.runtime.dispatch import EffectHandler
from election.runtime.lease import LeaseSource
from election.runtime.replies import Put, Reply
from election.runtime.timers import TimerService

log = logging.getLogger("election.job")

ORPHAN_WAIT = 2.0  # seconds to wait for a job's group after its keeper died
RESPAWN_AFTER = 1.0  # seconds between two starts of a keeper that keeps dying
KEEPER_MAIN = Path(election.keeper.__file__).with_name("__main__.py")


def keeper_command(config: Mapping[str, Any]) -> list[str]:
    """The command line of a keeper with `config` (`election.keeper.shell.Config`)."""
    return [sys.executable, "-I", "-S", str(KEEPER_MAIN), json.dumps(dict(config))]


class _Job:
    """The job asked of the keeper: its start's reply, and once started, its pid."""

    def __init__(self, request: int, token: int, reply: Reply) -> None:
        self.request = request
        self.token = token
        self.reply = reply
        self.pid: int | None = None
        self.release: Callable[[], None] = lambda: None  # ends the lease extensions


class _Process:
    """One keeper process and the pipe we write to it."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        assert proc.stdin is not None
        self.control = proc.stdin.fileno()
        os.set_blocking(self.control, False)  # never wait on a keeper
        self.lock = threading.Lock()
        self.closed = False  # our end is closed: its fd number may be another file's now

    def close(self) -> None:
        """Our end of its stdin: it reads EOF (and stops its job, if any, at once)."""
        with self.lock, contextlib.suppress(OSError):
            self.closed = True
            assert self.proc.stdin is not None
            self.proc.stdin.close()

    def send(self, line: bytes) -> bool:
        """One control line (dropped if the pipe is full or gone: a lease only grows, so
        the next one makes up for a lost one; a gone keeper is replaced)."""
        with self.lock:
            if self.closed:
                return False
            try:
                os.write(self.control, line)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EPIPE, errno.EBADF):
                    log.warning("keeper pid %d: %s", self.proc.pid, exc.strerror)
                return False
        return True


class Keeper(EffectHandler):
    """The effect handler of StartChild and StopChild, through this daemon's keeper."""

    def __init__(
        self,
        put: Put,
        timers: TimerService,
        *,
        lock_path: Path,
        env: Mapping[str, str],
        start_deadline: float,
        grace: float,
        leases: LeaseSource,
        config: Mapping[str, Any],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`config`: the keeper's own (`election.keeper.shell.Config`) less `daemon`."""
        self._put = put
        self._timers = timers
        self._lock_path = lock_path
        self._env = dict(env)
        self._start_deadline = start_deadline
        self._grace = grace
        self._leases = leases
        self._config = {**config, "daemon": os.getpid()}
        self._clock = clock
        self._lock = threading.Lock()
        self._process: _Process | None = None
        self._session: bytes | None = None  # the last session line, for a new keeper
        self._job: _Job | None = None
        self._closing = False
        self._started_at = float("-inf")
        self.replaced = 0  # keepers that died and were replaced (for the metrics)

    # --- the keeper process ----------------------------------------------------------

    def start(self) -> None:
        """Start the keeper (at once; it is ready in tens of milliseconds)."""
        with self._lock:
            if self._closing or self._process is not None:
                return
            self._started_at = self._clock()
            try:
                proc = subprocess.Popen(
                    keeper_command(self._config),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    # stderr: ours, so what it says after we died lands in our unit's log
                    start_new_session=True,  # no terminal signal reaches it; we decide
                )
            except OSError as exc:
                log.error("cannot start the keeper: %s; trying again in %gs", exc, RESPAWN_AFTER)
                self._timers.call_later(RESPAWN_AFTER, self.start)
                return
            process = self._process = _Process(proc)
            if self._session is not None:
                process.send(self._session)
        threading.Thread(
            target=self._listen, args=(process,), name="election-keeper", daemon=True
        ).start()

    @property
    def pid(self) -> int | None:
        """The keeper's pid (None while there is none)."""
        process = self._process
        return None if process is None else process.proc.pid

    def session(self, session_id: int, password: bytes, timeout: float) -> None:
        """A new ZooKeeper session (kazoo's thread, on connecting): the keeper closes it
        should we die. Its password goes over the pipe only."""
        line = wire.encode("session", id=session_id, password=password.hex(), timeout=timeout)
        with self._lock:
            self._session = line
            process = self._process
        if process is not None:
            process.send(line)

    def _send(self, line: bytes) -> bool:
        process = self._process
        return process is not None and process.send(line)

    # --- effects (loop thread) ---------------------------------------------------------

    RUNS: ClassVar[Mapping[type[fx.Effect], str]] = {
        fx.StartChild: "_start_job",
        fx.StopChild: "_stop_job",
    }

    def _stop_job(self, effect: fx.StopChild) -> None:
        job = self._job
        if job is not None and job.pid == effect.pid:
            self._send(wire.encode("stop"))
        # Otherwise already gone, and its ChildExited is on the way.

    def _start_job(self, effect: fx.StartChild) -> None:
        reply = Reply(
            self._put, ev.ChildStarted, effect.request, self._timers, self._start_deadline
        )
        with self._lock:
            if self._job is not None:
                reply.failed("a job of this daemon is still running")
                return
            job = self._job = _Job(effect.request, effect.token, reply)
        env = {**self._env, "ELECTION_LEADER": "1", "ELECTION_TOKEN": str(effect.token)}
        line = wire.encode(
            "start",
            request=effect.request,
            token=effect.token,
            command=list(effect.command),
            env=env,
            grace=self._leases.fitting_grace(self._grace),
            lock=str(self._lock_path),
            # The keeper gives up a little before our reply's deadline: then the core
            # hears why ("failed"), not just "unknown".
            start_by=self._clock() + self._start_deadline - min(0.5, self._start_deadline / 2),
        )
        with contextlib.suppress(OSError):
            self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        if not self._send(line):
            self._forget(job)
            reply.failed("no keeper to start the job (it is being replaced)")
            return

        def extend(until: float) -> None:
            self._send(wire.encode("lease", token=effect.token, until=until))

        job.release = self._leases.hold(effect.token, extend)

    def _forget(self, job: _Job) -> None:
        job.release()
        with self._lock:
            if self._job is job:
                self._job = None

    # --- what the keeper says (one thread per keeper) ---------------------------------

    def _listen(self, process: _Process) -> None:
        assert process.proc.stdout is not None
        try:
            for raw in process.proc.stdout:
                message = wire.decode(raw)
                if message is None:
                    log.warning("keeper said %r", raw[:200])
                    continue
                self._heard(message)
        finally:
            self._ended(process)

    def _heard(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        job = self._job
        if kind == "output":
            log.info("[job %s] %s", message.get("pid"), message.get("line", ""))
        elif kind == "started" and job is not None and message.get("request") == job.request:
            job.pid = int(message["pid"])
            wall = message.get("wall")
            started_at = float(wall) if isinstance(wall, int | float) else None
            if not job.reply.ok(pid=job.pid, started_at=started_at):
                # Too late: the core already counted this start as unknown. A job nobody
                # tracks must not run.
                self._send(wire.encode("stop"))
        elif kind == "failed" and job is not None and message.get("request") == job.request:
            self._forget(job)
            job.reply.failed(str(message.get("reason", "")))
        elif kind == "lease-expired":
            # Logged from the journal's record, like every event.
            reason = str(message.get("reason", ""))
            self._put(ev.ChildLeaseExpired(pid=int(message["pid"]), reason=reason))
        elif kind == "exited":
            if job is not None and job.pid == message.get("pid"):
                self._forget(job)
            self._put(
                ev.ChildExited(
                    pid=int(message["pid"]),
                    code=int(message["code"]),
                    signal=str(message.get("signal", "")),
                    ran_for=float(message.get("ran_for", 0.0)),
                )
            )

    def _ended(self, process: _Process) -> None:
        """The keeper's status pipe closed: it exited, or died."""
        code = process.proc.wait()
        with self._lock:
            if self._process is process:
                self._process = None
            closing, job = self._closing, self._job
        if closing:
            return
        log.error("the keeper (pid %d) died (%s): replacing it", process.proc.pid, code)
        self.replaced += 1
        if job is not None:
            self._forget(job)
            if job.pid is None:
                job.reply.failed(f"the keeper died ({code}) before the job started")
            else:
                # Nothing enforces the job's lease now: it goes at once, with its group.
                if not _kill_group(job.pid, ORPHAN_WAIT):
                    log.error("job pid %d's group is still there after SIGKILL", job.pid)
                self._put(ev.ChildExited(pid=job.pid, code=137, signal="SIGKILL"))
        wait = RESPAWN_AFTER - (self._clock() - self._started_at)
        if wait > 0:  # one that dies at once is not started again and again
            self._timers.call_later(wait, self.start)
        else:
            self.start()

    # --- the daemon's exit --------------------------------------------------------------

    def close(self, code: int, graceful: bool) -> bool:
        """The daemon exits with `code` (`graceful`: its reducer decided it; else an
        internal error): tell the keeper, and let it go on alone. It stops a job still
        running — at once after a graceful exit (a forced one: the job had its chance),
        SIGTERM first otherwise, as for any death — and once this process has exited,
        closes the session. False when there is no keeper to do that."""
        with self._lock:
            self._closing = True
            process, job = self._process, self._job
        if job is not None:
            job.release()
        if process is None:
            if job is not None and job.pid is not None:
                _kill_group(job.pid, ORPHAN_WAIT)
            return False
        told = process.send(wire.encode("exit", code=code, graceful=graceful))
        if graceful and job is not None and job.pid is not None:
            process.send(wire.encode("kill"))
        process.close()
        return told

    def wait(self, timeout: float) -> bool:
        """After `close`: True once the keeper has exited (within `timeout` s)."""
        process = self._process
        if process is None:
            return True
        try:
            process.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True


def _kill_group(pgid: int, wait: float) -> bool:
    """SIGKILL the process group `pgid`; True once it is empty (within `wait` s)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
