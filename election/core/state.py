"""The daemon's state: a frozen value the reducer replaces, never mutates."""

from __future__ import annotations

import enum

import attrs


class StateName(enum.StrEnum):
    INIT = "Init"
    ATTEMPTER = "Attempter"
    LEADER = "Leader"
    FAILOVER = "Failover"
    STOPPING = "Stopping"


class ExecExit(enum.StrEnum):
    """What to do when the job exits on its own while we lead (`--exec-exit`)."""

    RELEASE = "release"  # give up leadership; compete again after a back-off
    RESTART = "restart"  # start it again in place, with capped back-off
    STOP = "stop"  # stop the daemon with the job's exit code


class Timer(enum.StrEnum):
    """Names of the timers the core starts; at most one of each is live."""

    INIT_DEADLINE = "init-deadline"  # Init must finish its checks by then
    ATTEMPT = "attempt"  # Attempter: the next create try
    WRITE = "write"  # Leader: the next leader file
    RETRY = "retry"  # Failover: back-off before the next repair
    STOP_DEADLINE = "stop-deadline"  # Stopping: exit even if ZooKeeper never answers
    CHILD_RESTART = "child-restart"  # Leader: back-off before restarting the job


class Repair(enum.StrEnum):
    """What Failover waits for before it goes back to Init (`State.repair`)."""

    SESSION = "session"  # the ZooKeeper session: Connect again until it is back
    FILE_DIR = "file-dir"  # file-dir's check: CheckFileDir again until it passes
    PATH = "path"  # the election node's parent: EnsurePath again (once connected)
    BACKOFF = "back-off"  # nothing broken, the work failed: wait out the back-off


TIMER_NAMES: dict[Timer, str] = {timer: timer.value for timer in Timer}
"""Each timer's name as a plain str (what effects and events carry): an enum's `.value`
is a property, several times slower to read than a dict entry on the reducer's path."""


@attrs.frozen(kw_only=True)
class CoreConfig:
    """The settings the reducer needs (durations in seconds)."""

    replica: str
    election_path: str
    leader_timeout: float = 10.0
    attempter_timeout: float = 10.0
    storage_capacity: int = 10
    init_deadline: float = 10.0  # usually the session timeout: time to connect and check
    stop_deadline: float = 5.0
    backoff_initial: float = 0.2
    backoff_max: float = 5.0
    write_files: bool = True  # the leader's file work (the seed's stand-in for a job)
    exec_command: tuple[str, ...] = ()  # the job run while Leader; empty: none
    exec_grace: float = 3.0  # SIGTERM, then SIGKILL after this long
    exec_exit: ExecExit = ExecExit.RELEASE
    child_backoff_initial: float = 0.5  # a failed job's first wait (restart or compete again)
    child_backoff_max: float = 30.0
    # A job that ran at least this long was healthy: its exit is no job failure, and it
    # resets the job back-off; one that exits sooner (or never starts) is a failure.
    job_healthy_after: float = 10.0

    def job_failed(self, ran_for: float) -> bool:
        """True when a job that ran `ran_for` seconds and exited counts as a failure
        (the one judge: the reducer backs off by it, the log warns by it)."""
        return ran_for < self.job_healthy_after


# Not slotted, unlike the other frozen values: a reduction builds a new State from the
# old one plus a few changed fields, and copying an instance dict is several times
# cheaper than calling a 30-argument `__init__` (see `step._evolve`; replay folds a
# million events through it).
@attrs.frozen(kw_only=True, slots=False)
class State:
    """Everything the reducer knows. `pending` and `timers` belong to the current state:
    entering a state forgets the old ones, so their late answers are recognised as stale."""

    name: StateName = StateName.INIT
    config: CoreConfig
    next_id: int = 1  # for timer and request ids; only grows
    timers: tuple[tuple[Timer, int], ...] = ()  # live timers: (name, id)
    pending: tuple[tuple[int, str], ...] = ()  # requests awaited: (id, effect type name)
    connected: bool = False
    session_id: int | None = None
    token: int | None = None  # fencing token (czxid of our node) while Leader
    last_token: int | None = None  # token of our latest term, kept to continue `seq`
    seq: int = 0  # sequence of the last leader file asked for under `last_token`
    write_due: bool = False  # Leader: a file waits for ZooKeeper to confirm the node
    file_dir_ok: bool = False  # Init: file-dir checked in this pass
    path_ok: bool = False  # Init: the election node's parent exists
    failures: int = 0  # consecutive failovers, for back-off; reset on reaching Attempter
    repair: tuple[Repair, ...] = ()  # Failover: what must be repaired before Init
    cause: str = ""  # why we entered the current state
    exited: bool = False  # Stopping has asked the shell to exit
    exit_code: int = 0  # the code Stopping exits with (the job's, under exec-exit=stop)
    # The job outlives states (its stop takes a grace period), so it is tracked apart
    # from `pending`, which each state change forgets.
    child_request: int | None = None  # a StartChild awaiting its ChildStarted
    child_token: int | None = None  # the term the job was started for
    child_pid: int | None = None  # the running job
    child_stopping: bool = False  # StopChild sent; ChildExited awaited
    child_restarts: int = 0  # consecutive restarts, for back-off
    # Consecutive terms whose job failed (exited within `job_healthy_after`, or did not
    # start): the wait before competing again. Unlike `failures` it survives Attempter;
    # only a job that ran `job_healthy_after` resets it.
    job_failures: int = 0
    release_token: int | None = None  # stepping down: the node to release once idle

    def timer_id(self, name: Timer) -> int | None:
        """The id of the live timer `name`, or None."""
        for timer, timer_id in self.timers:
            if timer == name:
                return timer_id
        return None

    # Loops rather than any(...): these run several times per event, and a generator
    # costs more to set up than the two or three pairs it would look at.
    def awaits(self, request: int) -> bool:
        for rid, _ in self.pending:  # noqa: SIM110
            if rid == request:
                return True
        return False

    def awaits_kind(self, kind: str) -> bool:
        for _, k in self.pending:  # noqa: SIM110
            if k == kind:
                return True
        return False


def initial_state(config: CoreConfig) -> State:
    """The state before the first event (`Started`)."""
    return State(config=config)
