"""The job supervisor: runs `StartChild` and `StopChild` for the core.

- The job runs in its own session and process group, so a stop reaches its
  grandchildren too: SIGTERM to the group at once, SIGKILL to the group after the grace.
- It dies with the daemon (PR_SET_PDEATHSIG, via `childwrap`), so a SIGKILLed daemon
  does not leave its job running while another replica's job starts.
- One job at a time per election on this machine: the job inherits a descriptor holding
  an exclusive `flock` on a lock file; the lock is free only when the job and every
  descendant that kept the descriptor are gone. A new job (of this daemon or of another
  replica on this machine) starts only once it gets the lock.
- Every job is reaped (no zombie); its output is logged line by line with its pid.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from election.core import effects as fx
from election.core import events as ev
from election.runtime.childwrap import wrapped
from election.runtime.replies import Put, Reply
from election.runtime.timers import TimerHandle, TimerService

log = logging.getLogger("election.job")

LOCK_POLL = 0.05  # seconds between tries for the lock of a job still stopping


class ChildSupervisor:
    def __init__(
        self,
        put: Put,
        timers: TimerService,
        *,
        lock_path: Path,
        env: Mapping[str, str],
        start_deadline: float,
        grace: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._put = put
        self._timers = timers
        self._lock_path = lock_path
        self._env = dict(env)
        self._start_deadline = start_deadline
        self._grace = grace
        self._clock = clock
        # One long-lived thread forks every job: the death signal follows the forking
        # thread, so it must outlive the jobs.
        self._spawner = concurrent.futures.ThreadPoolExecutor(1, "election-job-spawner")
        self._jobs: dict[int, subprocess.Popen[bytes]] = {}
        self._kill_timers: dict[int, TimerHandle] = {}
        self._lock = threading.Lock()
        self._closed = False

    def handles(self, effect: fx.Effect) -> bool:
        return isinstance(effect, fx.StartChild | fx.StopChild)

    def run(self, effect: fx.Effect) -> None:
        if isinstance(effect, fx.StartChild):
            reply = Reply(
                self._put, ev.ChildStarted, effect.request, self._timers, self._start_deadline
            )
            try:
                self._spawner.submit(self._start, effect, reply)
            except RuntimeError:
                reply.failed("supervisor closed")
        elif isinstance(effect, fx.StopChild):
            self._stop(effect.pid, effect.grace)

    # --- start (spawner thread) ---------------------------------------------------------

    def _acquire_lock(self, reply: Reply) -> int | None:
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        while not reply.done:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                time.sleep(LOCK_POLL)  # an earlier job (maybe another replica's) still runs
        os.close(fd)
        return None  # the deadline answered "unknown" meanwhile

    def _start(self, effect: fx.StartChild, reply: Reply) -> None:
        try:
            lock_fd = self._acquire_lock(reply)
        except OSError as exc:
            reply.failed(f"lock {self._lock_path}: {exc.strerror}")
            return
        if lock_fd is None:
            return
        env = {**os.environ, **self._env, "ELECTION_LEADER": "1"}
        env["ELECTION_TOKEN"] = str(effect.token)
        env["ELECTION_LOCK_FD"] = str(lock_fd)
        command = wrapped(effect.command)
        try:
            with self._lock:
                if self._closed:
                    raise RuntimeError("supervisor closed")
                proc = subprocess.Popen(
                    command,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,  # its own process group: stops reach it all
                    pass_fds=(lock_fd,),  # the job holds the lock while it (or kin) lives
                )
                self._jobs[proc.pid] = proc
        except (OSError, RuntimeError) as exc:
            reply.failed(f"cannot start {effect.command[0]!r}: {exc}")
            return
        finally:
            os.close(lock_fd)  # ours only; the job's inherited copy keeps the lock
        started = self._clock()
        if not reply.ok(pid=proc.pid):
            # Too late: the core already counted this start as unknown. A job nobody
            # tracks must not run: stop it at once.
            self._stop(proc.pid, 0.0)
        for stream in (proc.stdout, proc.stderr):
            assert stream is not None
            threading.Thread(
                target=_relay, args=(stream, proc.pid), name="election-job-output", daemon=True
            ).start()
        threading.Thread(
            target=self._reap, args=(proc, started), name="election-job-reaper", daemon=True
        ).start()

    def _reap(self, proc: subprocess.Popen[bytes], started: float) -> None:
        code = proc.wait()
        ran_for = self._clock() - started
        with self._lock:
            self._jobs.pop(proc.pid, None)
            stopping = self._kill_timers.pop(proc.pid, None) is not None
        if not stopping:
            # It ended on its own; kin it left in its group hold the lock and would keep
            # the next job from starting: the group is stopped as a whole, with a grace.
            # (A stop already under way keeps its scheduled SIGKILL for the stragglers.)
            _signal_group(proc.pid, signal.SIGTERM)
            self._timers.call_later(self._grace, lambda: _signal_group(proc.pid, signal.SIGKILL))
        name = ""
        if code < 0:
            name = signal.Signals(-code).name
            code = 128 - code  # as a shell reports a signalled process
        self._put(ev.ChildExited(pid=proc.pid, code=code, signal=name, ran_for=ran_for))

    # --- stop ----------------------------------------------------------------------

    def _stop(self, pid: int, grace: float) -> None:
        with self._lock:
            known = pid in self._jobs
        if not known:
            return  # already reaped: its ChildExited is on the way
        _signal_group(pid, signal.SIGTERM)
        handle = self._timers.call_later(grace, lambda: _signal_group(pid, signal.SIGKILL))
        with self._lock:
            if pid in self._jobs:
                self._kill_timers[pid] = handle
            else:
                handle.cancel()

    def close(self) -> None:
        """The daemon is exiting: no job may outlive it."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
        for proc in jobs:
            _signal_group(proc.pid, signal.SIGKILL)
        for proc in jobs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2.0)
        self._spawner.shutdown(wait=False, cancel_futures=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _relay(stream: IO[bytes], pid: int) -> None:
    with stream:
        for raw in stream:
            log.info("[job %d] %s", pid, raw.decode(errors="replace").rstrip())
