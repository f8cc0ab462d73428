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


class Timer(enum.StrEnum):
    """Names of the timers the core starts; at most one of each is live."""

    INIT_DEADLINE = "init-deadline"  # Init must finish its checks by then
    ATTEMPT = "attempt"  # Attempter: the next create try
    WRITE = "write"  # Leader: the next leader file
    RETRY = "retry"  # Failover: back-off before the next repair
    STOP_DEADLINE = "stop-deadline"  # Stopping: exit even if ZooKeeper never answers


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


@attrs.frozen(kw_only=True)
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
    cause: str = ""  # why we entered the current state
    exited: bool = False  # Stopping has asked the shell to exit

    def timer_id(self, name: Timer) -> int | None:
        """The id of the live timer `name`, or None."""
        for timer, timer_id in self.timers:
            if timer == name:
                return timer_id
        return None

    def awaits(self, request: int) -> bool:
        return any(rid == request for rid, _ in self.pending)

    def awaits_kind(self, kind: str) -> bool:
        return any(k == kind for _, k in self.pending)


def initial_state(config: CoreConfig) -> State:
    """The state before the first event (`Started`)."""
    return State(config=config)
