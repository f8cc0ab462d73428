"""The job runner: runs `StartChild` and `StopChild` for the core, each job under a
supervisor process of its own (`election.runtime.supervisor`).

- The supervisor starts the job in its own process group and stays its parent; it
  enforces the job's lease by itself: SIGTERM to the group at `lease - grace`, SIGKILL at
  `lease`, at once when this daemon dies. So a crashed, frozen or cut-off daemon cannot
  leave its job running into another replica's term.
- The lease is extended only by `election.runtime.lease`, after ZooKeeper has answered a
  heartbeat; this module passes each extension on to the supervisors of that term.
- One job at a time per election on this machine: the supervisor takes an exclusive
  `flock` on a lock file before it starts the job (which inherits it, as
  `ELECTION_LOCK_FD`) and frees it only once the job and its whole group are gone.
- Every job is reaped; its output is logged line by line with its pid.
"""

from __future__ import annotations

import concurrent.futures
import errno
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from election.core import effects as fx
from election.core import events as ev
from election.runtime.lease import LeaseSource
from election.runtime.replies import Put, Reply
from election.runtime.supervisor import supervisor_command
from election.runtime.timers import TimerService

log = logging.getLogger("election.job")

CLOSE_WAIT = 3.0  # seconds the daemon's exit waits for its supervisors to finish
ORPHAN_WAIT = 2.0  # seconds to wait for a job's group after its supervisor died


class _Run:
    """One job run: its supervisor process, the term it belongs to, what it told us."""

    def __init__(self, proc: subprocess.Popen[bytes], token: int, reply: Reply) -> None:
        self.proc = proc
        self.token = token
        self.reply = reply
        self.pid: int | None = None  # the job's, once started
        self.exited = False  # the supervisor said the job and its group are gone
        self.release: Callable[[], None] = lambda: None  # ends the lease extensions
        self._lock = threading.Lock()
        assert proc.stdin is not None
        self._control = proc.stdin.fileno()
        os.set_blocking(self._control, False)  # never wait on a supervisor

    def send(self, line: str) -> None:
        """One control line to the supervisor (dropped if its pipe is full or gone: a
        lease only grows, so the next one makes up for a lost one)."""
        with self._lock:
            try:
                os.write(self._control, line.encode() + b"\n")
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EPIPE, errno.EBADF):
                    log.warning("supervisor of job pid %s: %s", self.pid, exc.strerror)

    def extend(self, until: float) -> None:
        self.send(f"lease {until!r}")


class ChildSupervisor:
    """The effect handler of StartChild and StopChild."""

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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._put = put
        self._timers = timers
        self._lock_path = lock_path
        self._env = dict(env)
        self._start_deadline = start_deadline
        self._grace = grace
        self._leases = leases
        self._clock = clock
        # One long-lived thread starts every supervisor: the death signal a supervisor
        # asks for follows the thread that forked it, so it must outlive them.
        self._spawner = concurrent.futures.ThreadPoolExecutor(1, "election-job-spawner")
        self._runs: list[_Run] = []
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
            for run in self._find(effect.pid):
                run.send("stop")
            # Not known: already gone, and its ChildExited is on the way.

    def _find(self, pid: int) -> list[_Run]:
        with self._lock:
            return [run for run in self._runs if run.pid == pid and not run.exited]

    # --- start (spawner thread) ---------------------------------------------------------

    def _start(self, effect: fx.StartChild, reply: Reply) -> None:
        grace = self._leases.fitting_grace(self._grace)
        config = {
            "command": list(effect.command),
            "grace": grace,
            "lock": str(self._lock_path),
            # The supervisor gives up a little before our reply's deadline: then the core
            # hears why ("failed"), not just "unknown".
            "start_by": self._clock() + self._start_deadline - min(0.5, self._start_deadline / 2),
            "daemon": os.getpid(),
        }
        env = {**os.environ, **self._env, "ELECTION_LEADER": "1"}
        env["ELECTION_TOKEN"] = str(effect.token)
        try:
            self._lock_path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                if self._closed:
                    raise RuntimeError("supervisor closed")
                proc = subprocess.Popen(
                    supervisor_command(config),
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    # stderr: ours, so what it says after we died lands in our unit's log
                    start_new_session=True,  # no terminal signal reaches it; we decide
                )
                run = _Run(proc, effect.token, reply)
                self._runs.append(run)
        except (OSError, RuntimeError) as exc:
            reply.failed(f"cannot start the job's supervisor: {exc}")
            return
        run.release = self._leases.hold(effect.token, run.extend)
        threading.Thread(
            target=self._listen, args=(run,), name="election-job-status", daemon=True
        ).start()

    # --- what a supervisor says (one thread per run) ------------------------------------

    def _listen(self, run: _Run) -> None:
        assert run.proc.stdout is not None
        try:
            for raw in run.proc.stdout:
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.warning("supervisor said %r", raw[:200])
                    continue
                self._heard(run, message)
        finally:
            self._ended(run)

    def _heard(self, run: _Run, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "output":
            log.info("[job %d] %s", run.pid, message.get("line", ""))
        elif kind == "started":
            run.pid = int(message["pid"])
            wall = message.get("wall")
            started_at = float(wall) if isinstance(wall, int | float) else None
            if not run.reply.ok(pid=run.pid, started_at=started_at):
                # Too late: the core already counted this start as unknown. A job nobody
                # tracks must not run.
                run.send("stop")
        elif kind == "failed":
            run.reply.failed(str(message.get("reason", "")))
        elif kind == "lease-expired":
            # Logged from the journal's record, like every event.
            reason = str(message.get("reason", ""))
            self._put(ev.ChildLeaseExpired(pid=int(message["pid"]), reason=reason))
        elif kind == "exited":
            run.exited = True
            self._put(
                ev.ChildExited(
                    pid=int(message["pid"]),
                    code=int(message["code"]),
                    signal=str(message.get("signal", "")),
                    ran_for=float(message.get("ran_for", 0.0)),
                )
            )

    def _ended(self, run: _Run) -> None:
        """The supervisor's status pipe closed: it has exited (or died)."""
        run.release()
        code = run.proc.wait()
        with self._lock:
            if run in self._runs:
                self._runs.remove(run)
        if run.pid is None:
            run.reply.failed(f"the job's supervisor exited with code {code}")
        elif not run.exited:
            # The supervisor died (the OOM killer, a stray SIGKILL) with the job still
            # running: nothing enforces its lease now, so it goes at once.
            log.error("the supervisor of job pid %d died (%s): killing the job", run.pid, code)
            gone = _kill_group(run.pid, ORPHAN_WAIT)
            if not gone:
                log.error("job pid %d's group is still there after SIGKILL", run.pid)
            self._put(ev.ChildExited(pid=run.pid, code=137, signal="SIGKILL"))

    # --- the daemon's exit --------------------------------------------------------------

    def close(self) -> None:
        """The daemon is exiting: no job may outlive it. SIGKILL at once (a graceful stop
        has already let the job finish), then wait for the supervisors to report."""
        with self._lock:
            self._closed = True
            runs = list(self._runs)
        for run in runs:
            run.send("kill")
        deadline = self._clock() + CLOSE_WAIT
        for run in runs:
            try:
                run.proc.wait(timeout=max(0.0, deadline - self._clock()))
            except subprocess.TimeoutExpired:
                log.error("the supervisor of job pid %s did not finish: killing both", run.pid)
                run.proc.kill()
                if run.pid is not None:
                    _kill_group(run.pid, ORPHAN_WAIT)
        self._spawner.shutdown(wait=False, cancel_futures=True)


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
