"""The keeper's decisions: `step(state, event) -> (state, actions)`, a pure function.

The keeper (one process per `election run`, `election.keeper.shell` around this module)
holds what a dead daemon cannot let go of by itself: the job's process group and its
lease, and the daemon's ZooKeeper session. Everything it decides is here, as the daemon's
reducer decides for the daemon; the shell does the I/O (pipes, signals, spawning,
reaping, the machine's job lock, the session's close, the record file) and feeds back
what happened as events. Standard library only: the keeper runs under `python -I -S`.

The job, at most one at a time::

    IDLE ──start──► STARTING ──the lock, and a lease with room for the grace──► RUNNING
     ▲                 │ a stop asked, the daemon gone, or `start_by` passed:          │
     ├────── failed ◄──┘                                                               │
     │                                  the lease's end less the grace, a stop asked,  │
     │                                  the daemon gone, or the job exited by itself   ▼
     └── its process reaped and no process of its group left ◄────────────── STOPPING
                                SIGTERM to the group now; SIGKILL at min(now + grace, lease)

SIGKILL never comes later than the lease: a lease is a span in which ZooKeeper cannot
have given leadership to another replica (`election.runtime.lease`).

The daemon::

    ALIVE ──its pipe closes──► LEAVING ──its process has exited──► GONE

LEAVING already stops the job (a daemon that closed its pipe cannot supervise it). Only
GONE, the process seen to have exited, lets the keeper close the daemon's session — and
only once no process of the job is left: a frozen or cut-off daemon never closes its
pipe, so nothing is released early for it (the lease handles it). The close is tried
after a graceful stop too (its own close may not have reached a server that was down;
an already closed session answers at once); only a death is recorded, and a close that
closed something.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

LOCK_POLL = 0.05  # seconds between two tries for the lock while an earlier job still stops
KILL_REPEAT = 0.05  # seconds between two SIGKILL rounds while stragglers remain
IDLE_WAKE = 1.0  # the longest the keeper sleeps without a reason to wake
EXIT_POLL = 0.01  # while the daemon's pipe is closed, how often to look for its exit


class Phase(enum.Enum):
    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"


class Daemon(enum.Enum):
    ALIVE = "alive"
    LEAVING = "leaving"  # its pipe closed: it cannot supervise the job any more
    GONE = "gone"  # its process has exited: its session may be closed


class Closing(enum.Enum):
    NOT_YET = "not-yet"
    ASKED = "asked"
    DONE = "done"


# --- what the daemon asks for, and what the keeper holds --------------------------------


@dataclass(frozen=True)
class JobSpec:
    """A job as the daemon asked for it (`start`)."""

    request: int
    token: int
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    grace: float = 3.0  # SIGTERM this long before SIGKILL (at most the lease)
    lock: str | None = None  # the machine's job lock: one job of this election at a time
    start_by: float = math.inf  # monotonic: give up starting after this


@dataclass(frozen=True)
class Job:
    spec: JobSpec
    locked: bool = False
    lock_tried_at: float = -math.inf
    spawning: bool = False  # Spawn asked, its answer not yet in
    pid: int | None = None  # leader of its own process group, once spawned
    started_at: float = 0.0  # monotonic
    started_wall: float = 0.0
    status: int | None = None  # its own wait status, once reaped
    stop_why: str = ""  # set when SIGTERM went to its group
    kill_at: float = math.inf
    last_kill: float = -math.inf


@dataclass(frozen=True)
class Session:
    """The daemon's ZooKeeper session: anyone holding these may resume and close it."""

    id: int
    password: bytes = field(repr=False)  # never printed, logged or recorded
    timeout: float = 10.0


@dataclass(frozen=True)
class Exited:
    """A job that has gone, as reported: for the record of a daemon that died before it
    could journal the report."""

    pid: int
    token: int
    code: int
    signal: str
    ran_for: float
    started_wall: float


@dataclass(frozen=True)
class State:
    phase: Phase = Phase.IDLE
    job: Job | None = None
    lease: float = -math.inf  # monotonic end of the current job's lease; only grows
    lease_granted_at: float | None = None
    stop_asked: str = ""  # a stop asked for the current job, not yet carried out
    daemon: Daemon = Daemon.ALIVE
    left_at: float | None = None  # monotonic: when its pipe closed (the first evidence)
    said: int | None = None  # the exit code the daemon said it exits with
    graceful: bool = False  # it said it stopped gracefully: its journal tells it all
    session: Session | None = None
    closing: Closing = Closing.NOT_YET
    close_sent: float | None = None  # monotonic: when the close went out
    last_exit: Exited | None = None
    exited: bool = False  # Exit has been asked for


# --- events: what the shell tells the machine ------------------------------------------


@dataclass(frozen=True)
class Event:
    at: float  # monotonic seconds


@dataclass(frozen=True)
class SessionTold(Event):
    session: Session


@dataclass(frozen=True)
class StartAsked(Event):
    spec: JobSpec


@dataclass(frozen=True)
class LeaseGranted(Event):
    """ZooKeeper proved the node of term `token` ours until `until` (monotonic)."""

    token: int
    until: float


@dataclass(frozen=True)
class StopAsked(Event):
    pass


@dataclass(frozen=True)
class KillAsked(Event):
    pass


@dataclass(frozen=True)
class ExitSaid(Event):
    """The daemon's last words: it exits with `code`; `graceful`: its reducer decided so
    (a stop), rather than an internal error."""

    code: int
    graceful: bool


@dataclass(frozen=True)
class PipeClosed(Event):
    """The daemon's control pipe closed: it exited, or is about to."""


@dataclass(frozen=True)
class DaemonExited(Event):
    """The daemon's process has certainly exited (the shell saw it, not merely its pipe
    close); `status` its wait status when it could be read (None: its parent collected
    it first)."""

    status: int | None


@dataclass(frozen=True)
class LockTried(Event):
    taken: bool
    error: str = ""  # the lock file could not be opened: the start fails


@dataclass(frozen=True)
class Spawned(Event):
    pid: int
    wall: float


@dataclass(frozen=True)
class SpawnFailed(Event):
    reason: str


@dataclass(frozen=True)
class JobReaped(Event):
    status: int


@dataclass(frozen=True)
class GroupGone(Event):
    """No process of the job is left (its own was reaped and we have no child left)."""


@dataclass(frozen=True)
class Tick(Event):
    """Time passed (a wake-up the machine asked for, or any other)."""


@dataclass(frozen=True)
class SessionCloseDone(Event):
    outcome: str  # "closed", "expired" (already), or "failed: why"


# --- actions: what the machine asks the shell to do ------------------------------------


@dataclass(frozen=True)
class Action:
    pass


@dataclass(frozen=True)
class TryLock(Action):
    path: str


@dataclass(frozen=True)
class ReleaseLock(Action):
    pass


@dataclass(frozen=True)
class Spawn(Action):
    spec: JobSpec


@dataclass(frozen=True)
class SignalGroup(Action):
    """`signal` ("SIGTERM", "SIGKILL") to the job's process group `pid`, and to every
    orphan of it handed back to the keeper."""

    pid: int
    signal: str


@dataclass(frozen=True)
class Report(Action):
    """A status line to the daemon."""

    fields: Mapping[str, Any]


@dataclass(frozen=True)
class Record(Action):
    """A line in the record file, for `election-replay` (at: monotonic, made wall)."""

    at: float
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class CloseSession(Action):
    session: Session


@dataclass(frozen=True)
class Exit(Action):
    code: int = 0


# --- the transition function ------------------------------------------------------------


def step(state: State, event: Event) -> tuple[State, list[Action]]:
    """Fold one event into the keeper's state; return the actions to carry out, in order."""
    if state.exited:
        return state, []
    s = _Step(state, event.at)
    handler = _HANDLERS[type(event)]
    handler(s, event)
    s.progress()
    return s.state, s.actions


def next_wake(state: State, now: float) -> float:
    """The monotonic time by which the machine wants a `Tick`."""
    wake = now + IDLE_WAKE
    job = state.job
    if state.phase is Phase.STARTING and job is not None:
        wake = min(wake, job.spec.start_by, now + LOCK_POLL)
    elif state.phase is Phase.RUNNING and job is not None:
        wake = min(wake, state.lease - job.spec.grace)
    elif state.phase is Phase.STOPPING and job is not None:
        due = min(job.kill_at, state.lease)
        # Before SIGKILL is due: then. After: the next round for stragglers (never `now`
        # again and again: a SIGKILL already sent waits KILL_REPEAT for the next).
        wake = min(wake, due if now < due else job.last_kill + KILL_REPEAT)
    if state.daemon is Daemon.LEAVING:
        wake = min(wake, now + EXIT_POLL)  # the shell looks for its exit on every wake
    return max(wake, now)


def exit_code(status: int) -> tuple[int, str]:
    """A wait status as a shell reports it: (code, "") or (128 + N, "SIGNAME")."""
    import os
    import signal

    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        return code, ""
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return 128 - code, name


class _Step:
    """The scratch pad of one step: the state as it changes, the actions in order."""

    def __init__(self, state: State, now: float) -> None:
        self.state = state
        self.now = now
        self.actions: list[Action] = []

    def set(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def job(self) -> Job:
        job = self.state.job
        assert job is not None
        return job

    def set_job(self, **changes: Any) -> None:
        self.set(job=replace(self.job(), **changes))

    def tell(self, **fields: Any) -> None:
        """A status line to the daemon; once its pipe has closed, a record instead."""
        if self.state.daemon is Daemon.ALIVE:
            self.actions.append(Report(fields))

    def record(self, **fields: Any) -> None:
        self.actions.append(Record(self.now, fields))

    # --- the job ----------------------------------------------------------------------

    def start_failed(self, reason: str) -> None:
        job = self.job()
        self.tell(type="failed", request=job.spec.request, reason=reason)
        if job.locked:
            self.actions.append(ReleaseLock())
        self.set(phase=Phase.IDLE, job=None, stop_asked="", lease=-math.inf)

    def try_start(self) -> None:
        """STARTING: the lock first, then a lease that leaves room for the grace."""
        job, st = self.job(), self.state
        if st.daemon is not Daemon.ALIVE:
            self.start_failed("the daemon is gone")
        elif st.stop_asked:
            self.start_failed(st.stop_asked)
        elif job.spawning:
            return  # its answer comes next
        elif self.now >= job.spec.start_by:
            why = "no lease from the daemon in time"
            if not job.locked and job.spec.lock is not None:
                why = f"the lock {job.spec.lock} stayed held by an earlier job"
            self.start_failed(why)
        elif not job.locked and job.spec.lock is not None:
            if self.now >= job.lock_tried_at + LOCK_POLL:  # held: try again a little later
                self.set_job(lock_tried_at=self.now)
                self.actions.append(TryLock(job.spec.lock))  # answered by LockTried
        elif self.now < st.lease - job.spec.grace:
            self.set_job(spawning=True)
            self.actions.append(Spawn(job.spec))  # answered by Spawned or SpawnFailed

    def begin_stop(self, why: str) -> None:
        """SIGTERM to the whole group now; SIGKILL after the grace, never after the lease."""
        job, st = self.job(), self.state
        assert job.pid is not None
        kill_at = min(job.kill_at, self.now + job.spec.grace, st.lease)
        self.set(phase=Phase.STOPPING)
        self.set_job(stop_why=why, kill_at=kill_at)
        self.actions.append(SignalGroup(job.pid, "SIGTERM"))
        if st.daemon is not Daemon.ALIVE:
            self.record(type="job-term", pid=job.pid, why=why, kill_in=max(0.0, kill_at - self.now))

    def enforce(self) -> None:
        """RUNNING and STOPPING: whatever is due now."""
        st = self.state
        job = self.job()
        if st.phase is Phase.RUNNING:
            if self.now >= st.lease - job.spec.grace:
                reason = self.lease_reason()
                self.tell(type="lease-expired", pid=job.pid, reason=reason)
                self.begin_stop(f"lease: {reason}")
            elif st.daemon is not Daemon.ALIVE:
                self.begin_stop("the daemon is gone")
            elif st.stop_asked:
                self.begin_stop(st.stop_asked)
            elif job.status is not None:  # it exited; its group may not have
                self.begin_stop("the job exited")
        job = self.job()
        if self.state.phase is Phase.STOPPING and job.pid is not None:
            due = min(job.kill_at, self.state.lease)
            # The same sum as `next_wake`'s: a difference could round below KILL_REPEAT
            # at the very instant the wake was asked for, and wake again and again.
            if self.now >= due and self.now >= job.last_kill + KILL_REPEAT:
                if job.last_kill == -math.inf and self.state.daemon is not Daemon.ALIVE:
                    self.record(type="job-kill", pid=job.pid)
                self.set_job(last_kill=self.now)
                self.actions.append(SignalGroup(job.pid, "SIGKILL"))

    def lease_reason(self) -> str:
        st = self.state
        if st.daemon is not Daemon.ALIVE:
            return "the daemon is gone"
        if st.lease_granted_at is None:
            return "never extended"
        return f"not extended for {self.now - st.lease_granted_at:.2f}s"

    def finish_job(self) -> None:
        """No process of the job is left: free the lock, then say so."""
        job = self.job()
        assert job.pid is not None and job.status is not None
        code, name = exit_code(job.status)
        ran_for = self.now - job.started_at
        exited = Exited(job.pid, job.spec.token, code, name, ran_for, job.started_wall)
        if job.locked:
            self.actions.append(ReleaseLock())
        self.tell(type="exited", pid=job.pid, code=code, signal=name, ran_for=ran_for)
        if self.state.daemon is not Daemon.ALIVE:
            self.record(type="job-gone", pid=job.pid, code=code, signal=name, ran_for=ran_for)
        self.set(phase=Phase.IDLE, job=None, stop_asked="", lease=-math.inf, lease_granted_at=None)
        self.set(last_exit=exited)

    # --- the daemon's death -----------------------------------------------------------

    def died(self, status: int | None) -> None:
        """Its process has exited: record how (once), then it is GONE."""
        st = self.state
        left_at = st.left_at if st.left_at is not None else self.now
        self.set(daemon=Daemon.GONE, left_at=left_at)
        if st.graceful:
            return  # a stop: the journal tells it all
        code, name = (None, "") if status is None else exit_code(status)
        if code is None and st.said is not None:
            code = st.said
        job = st.job
        running = None
        if job is not None and job.pid is not None:
            running = {"pid": job.pid, "token": job.spec.token, "started": job.started_wall}
        last = st.last_exit
        self.actions.append(
            Record(
                left_at,
                {
                    "type": "died",
                    "code": code,
                    "signal": name,
                    "said": st.said is not None,
                    "job": running,
                    "last_exit": None if last is None else last.__dict__,
                },
            )
        )

    def progress(self) -> None:
        """After every event: move on whatever can move."""
        st = self.state
        if st.phase is Phase.STARTING:
            self.try_start()
        if self.state.phase in (Phase.RUNNING, Phase.STOPPING):
            self.enforce()
        st = self.state
        if st.phase is not Phase.IDLE:
            return
        if st.daemon is Daemon.LEAVING and st.graceful and st.session is None:
            self.set(exited=True)  # a stop before any session: nothing to close or record
            self.actions.append(Exit(0))
            return
        if st.daemon is not Daemon.GONE:
            return
        if st.closing is Closing.NOT_YET:
            if st.session is not None:
                self.set(closing=Closing.ASKED, close_sent=self.now)
                self.actions.append(CloseSession(st.session))
            else:
                self.set(closing=Closing.DONE)
        if self.state.closing is Closing.DONE:
            self.set(exited=True)
            self.actions.append(Exit(0))


# --- handlers ---------------------------------------------------------------------------


def _session(s: _Step, e: SessionTold) -> None:
    s.set(session=e.session)


def _start(s: _Step, e: StartAsked) -> None:
    if s.state.phase is not Phase.IDLE:
        s.tell(type="failed", request=e.spec.request, reason="a job of this keeper still runs")
        return
    s.set(phase=Phase.STARTING, job=Job(e.spec), stop_asked="")


def _lease(s: _Step, e: LeaseGranted) -> None:
    job = s.state.job
    # A proof holds for its term only: a late one of an earlier term's job is not ours.
    if job is not None and job.spec.token == e.token and e.until > s.state.lease:
        s.set(lease=e.until, lease_granted_at=e.at)


def _stop(s: _Step, e: StopAsked) -> None:
    if s.state.job is not None:
        s.set(stop_asked=s.state.stop_asked or "asked by the daemon")


def _kill(s: _Step, e: KillAsked) -> None:
    if s.state.job is None:
        return
    s.set(stop_asked=s.state.stop_asked or "killed by the daemon")
    if s.job().pid is not None:
        s.set_job(kill_at=-math.inf)


def _exit_said(s: _Step, e: ExitSaid) -> None:
    s.set(said=e.code, graceful=e.graceful)


def _pipe_closed(s: _Step, e: PipeClosed) -> None:
    if s.state.daemon is Daemon.ALIVE:
        s.set(daemon=Daemon.LEAVING, left_at=e.at)


def _daemon_exited(s: _Step, e: DaemonExited) -> None:
    if s.state.daemon is Daemon.ALIVE:
        _pipe_closed(s, PipeClosed(e.at))
    if s.state.daemon is Daemon.LEAVING:
        s.died(e.status)


def _lock_tried(s: _Step, e: LockTried) -> None:
    if s.state.phase is not Phase.STARTING:
        return
    if e.error:
        s.start_failed(e.error)
    elif e.taken:
        s.set_job(locked=True)
    # else: an earlier job of this election on this machine still stops; try again soon


def _spawned(s: _Step, e: Spawned) -> None:
    s.set(phase=Phase.RUNNING)
    s.set_job(spawning=False, pid=e.pid, started_at=e.at, started_wall=e.wall)
    s.tell(type="started", request=s.job().spec.request, pid=e.pid, wall=e.wall)


def _spawn_failed(s: _Step, e: SpawnFailed) -> None:
    if s.state.phase is Phase.STARTING:
        s.set_job(spawning=False)
        s.start_failed(e.reason)


def _reaped(s: _Step, e: JobReaped) -> None:
    if s.state.job is not None and s.job().pid is not None:
        s.set_job(status=e.status)


def _group_gone(s: _Step, e: GroupGone) -> None:
    job = s.state.job
    if job is not None and job.pid is not None and job.status is not None:
        s.finish_job()


def _tick(s: _Step, e: Tick) -> None:
    pass  # `progress` does what is due


def _close_done(s: _Step, e: SessionCloseDone) -> None:
    session, sent = s.state.session, s.state.close_sent
    assert session is not None and sent is not None
    if not s.state.graceful or e.outcome == "closed":  # news only if it did something
        # Dated by the close's sending: the server deletes the session's nodes (and the
        # next replica may lead) before its answer comes back; `took` is the round trip.
        fields = {"session": f"0x{session.id:x}", "outcome": e.outcome, "took": e.at - sent}
        s.actions.append(Record(sent, {"type": "session-closed", **fields}))
    s.set(closing=Closing.DONE)


_HANDLERS: Mapping[type[Event], Any] = {
    SessionTold: _session,
    StartAsked: _start,
    LeaseGranted: _lease,
    StopAsked: _stop,
    KillAsked: _kill,
    ExitSaid: _exit_said,
    PipeClosed: _pipe_closed,
    DaemonExited: _daemon_exited,
    LockTried: _lock_tried,
    Spawned: _spawned,
    SpawnFailed: _spawn_failed,
    JobReaped: _reaped,
    GroupGone: _group_gone,
    Tick: _tick,
    SessionCloseDone: _close_done,
}
