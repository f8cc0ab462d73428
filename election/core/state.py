"""The daemon's state: a frozen value the reducer replaces, never mutates.

A `State` is a few small records rather than one bag of fields, so that an event
rebuilds only what it changes (usually the books of ids, timers and requests, and the
record of the state it is in):

- `books`: ids (they only grow), the live timers and the awaited requests. Timers
  belong to the current state: entering another one cancels them. Each request lives as
  its kind says (`election.core.lifetime`): the current state's are forgotten with it, so
  their late answers are recognised as stale; the term's work in flight and what spans
  states are awaited on.
- `session`: the ZooKeeper session as the listener reported it.
- `phase`: what only the current state holds — Init's `Checks`, Leader's `Term`,
  Failover's `Repairs`, Stopping's `Shutdown` (Attempter holds nothing of its own).
- `job`: the job (`--exec`); it outlives states, since its stop takes a grace period.
- `streaks`: counts and memories that span states (back-offs, the last term's files).
- `member`: the member node, published through the effects like every other call.
- `place`: our node in the candidates' queue; it outlives states (a reconnect with the
  same session finds it still ours), and so do the create and the delete of it (in
  `books`, as every request).
"""

from __future__ import annotations

import enum

import attrs

from election.core.effects import Effect, StartChild


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
    """Names of the timers the core starts; at most one of each is live. Effects and
    events carry them as plain strings (a `Timer` is one)."""

    INIT_DEADLINE = "init-deadline"  # Init must finish its checks by then
    ATTEMPT = "attempt"  # Attempter: read the queue again (or retry what failed)
    WRITE = "write"  # Leader: the next leader file
    RETRY = "retry"  # Failover: back-off before the next repair
    STOP_DEADLINE = "stop-deadline"  # Stopping: exit even if ZooKeeper never answers
    CHILD_RESTART = "child-restart"  # Leader: back-off before restarting the job
    CONTEND = "contend"  # Attempter at the head: a lower priority's wait before it leads


class Repair(enum.StrEnum):
    """What Failover waits for before it goes back to Init (`Repairs.broken`)."""

    SESSION = "session"  # the ZooKeeper session: Connect again until it is back
    FILE_DIR = "file-dir"  # file-dir's check: CheckFileDir again until it passes
    PATH = "path"  # the election path: EnsurePath again (once connected)
    BACKOFF = "back-off"  # nothing broken, the work failed: wait out the back-off


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
    # Free leadership goes to the live candidate of the highest priority; 0 never leads.
    priority: int = 1
    # A lower priority leaves free leadership to each live higher one this long first
    # (at most `contend_max` in all), so a vanished higher one delays it only briefly.
    contend_step: float = 0.2
    contend_max: float = 1.0
    # How long after its arrival an answer about our node still proves anything: one
    # that waited longer for the loop (the process was frozen) is looked at again.
    answers_fresh_for: float = 10.0 / 3

    def stale(self, event_at: float, answered_at: float | None) -> bool:
        """True for an answer that arrived at `answered_at` and is handled at `event_at`
        too late to be trusted (journals from before the stamp: never)."""
        return answered_at is not None and event_at - answered_at > self.answers_fresh_for

    def proven(self, event_at: float, proven_at: float | None) -> bool:
        """True when a request sent at `proven_at` and answered proves, at `event_at`,
        that the session is still alive: sent less than `answers_fresh_for` (a third of
        the session timeout) ago, far inside the timeout the server counts from it."""
        return proven_at is not None and event_at - proven_at < self.answers_fresh_for

    def job_failed(self, ran_for: float) -> bool:
        """True when a job that ran `ran_for` seconds and exited counts as a failure
        (the one judge: the reducer backs off by it, the log warns by it)."""
        return ran_for < self.job_healthy_after


Timers = tuple[tuple[Timer, int], ...]
Pending = tuple[tuple[int, type[Effect]], ...]


@attrs.frozen
class Books:
    """Ids for requests and timers, the live timers `(name, id)` and the requests
    awaited `(id, effect type)`."""

    next_id: int = 1
    timers: Timers = ()
    pending: Pending = ()


@attrs.frozen
class Session:
    """The ZooKeeper session: `proven_at` (monotonic) is when the latest request of it
    that ZooKeeper answered was sent. The server heard from the session then, so it
    cannot expire before a session timeout from that moment; a notification proves no
    such thing (it may have waited in a frozen process while the session expired)."""

    connected: bool = False
    id: int | None = None  # kept while suspended: the same session may come back
    proven_at: float | None = None


Queued = tuple[tuple[str, int], ...]  # (replica, priority) of queue nodes, in order


@attrs.frozen
class Candidate:
    """Attempter: where our node stands in the queue as we last learnt it, and the node
    of a term just yielded (or of a move to the back), to release once idle (no file in
    flight, no job left).

    `below` counts the nodes below ours at the last read (-1: not read yet); `predecessor`
    is the one just below, whose watch we hold. Sequence numbers only grow, so the nodes
    below ours can only go: with one below, its deletion proves us the lowest without a
    read. `head`: our node is the lowest (read, or so proven); `behind`, the replicas
    queued behind us at the last read, `fresh` when that read was made at the head.
    `waited`: a lower priority at the head has given the higher ones their turn.
    `behind` and `ahead` are (replica, priority) pairs, as the queue's names say; `left`,
    the replicas of nodes below ours that went since, left (stopped, crashed, stepped
    aside): a higher priority among them is no reason to wait at the head."""

    release: int | None = None
    head: bool = False
    below: int = -1
    predecessor: str = ""
    watching: bool = False  # the predecessor's watch is set (its read said it exists)
    behind: Queued = ()
    fresh: bool = False
    waited: bool = False
    ahead: Queued = ()  # the candidates below ours at the last read
    left: tuple[str, ...] = ()  # replicas of those since gone from the queue
    queue_watched: bool = False  # a watch on the queue's children is set (the head's)
    watch_request: int | None = None  # the read in flight that sets it


@attrs.frozen
class Checks:
    """Init: which of its checks have passed in this pass (the session is `session`)."""

    file_dir: bool = False
    path: bool = False


@attrs.frozen
class Term:
    """Leader: the term's fencing token (the czxid of our node), the sequence of the last
    leader file asked for, and whether a file waits for ZooKeeper to confirm the node."""

    token: int
    seq: int = 0
    write_due: bool = False


@attrs.frozen
class Repairs:
    """Failover: what must work again before Init, and the node to release once idle
    (after a step-down: no file in flight, no job left)."""

    broken: tuple[Repair, ...] = ()
    release: int | None = None


@attrs.frozen
class Shutdown:
    """Stopping: the code to exit with (the job's, under exec-exit=stop), and whether
    the exit has been asked for."""

    exit_code: int = 0
    exited: bool = False


Phase = Checks | Candidate | Term | Repairs | Shutdown | None


@attrs.frozen
class Job:
    """The job of a term: started for term `token` (its `StartChild` awaited in
    `books`), then running as `pid`."""

    token: int | None = None  # the term it was started for
    pid: int | None = None
    stopping: bool = False  # StopChild sent (or its supervisor is stopping it)


NO_JOB = Job()


Shown = tuple[int, str, float, int | None]  # (session, state, since, token)


@attrs.frozen
class Member:
    """The member node: what it shows (None: no node of ours that we know of), what the
    publish in flight asks for (None: none in flight), when the current state was
    entered (monotonic), and whether the last publish failed (then the next one waits
    for a state change or a reconnect, rather than hammer a server that refuses)."""

    since: float = 0.0
    asked: Shown | None = None
    shown: Shown | None = None
    failed: bool = False


NO_MEMBER = Member()


@attrs.frozen
class Control:
    """The operator's controls as last read (`election.control`): paused, and the
    hand-over request that stands (`handover` its id, "" none). `known`: a read has
    answered; `stale`: a watch fired since the last read was sent (read again); while a
    read is in flight, or stale, or never known, no one competes."""

    known: bool = False
    stale: bool = False
    failed: bool = False  # the last read failed: tried again on Attempter's next tick
    paused: bool = False
    paused_by: str = ""
    handover: str = ""
    handover_leader: str = ""
    handover_token: int | None = None
    handover_to: str | None = None
    handover_by: str = ""


NO_CONTROL = Control()


@attrs.frozen
class Peers:
    """The live members and their priorities as last read (`known` and `stale` as for
    `Control`)."""

    known: bool = False
    stale: bool = False
    failed: bool = False  # then priorities are not waited for (none known)
    priorities: tuple[tuple[str, int], ...] = ()  # (replica, priority)


NO_PEERS = Peers()


@attrs.frozen
class Place:
    """Our node in the queue, on `session`: its `name` under the election path and its
    czxid `token` ("" and None: none that we know of), and `unsure`: a create or a
    delete of this session went unanswered, so the queue is looked at for our prefix
    before another create (never two nodes of one session). Its create and delete in
    flight are awaited in `books` (they outlive states, as the node does)."""

    session: int | None = None
    name: str = ""
    token: int | None = None
    unsure: bool = False


NO_PLACE = Place()


@attrs.frozen
class Streaks:
    """What spans states: consecutive failovers (for the back-off; reset on reaching
    Attempter), consecutive job failures (reset only by a job that ran long), restarts
    in place, and the last term (token, seq) so a resumed term continues its files."""

    failures: int = 0
    job_failures: int = 0
    restarts: int = 0
    last_term: tuple[int, int] | None = None  # outside Leader: (token, seq)


@attrs.frozen
class State:
    """Everything the reducer knows."""

    config: CoreConfig
    name: StateName = StateName.INIT
    books: Books = Books()
    session: Session = Session()
    phase: Phase = None
    job: Job = NO_JOB
    streaks: Streaks = Streaks()
    cause: str = ""  # why we entered the current state
    member: Member = NO_MEMBER
    control: Control = NO_CONTROL
    peers: Peers = NO_PEERS
    place: Place = NO_PLACE

    # --- views: what the observers, the replay and the tests read ---------------------

    @property
    def token(self) -> int | None:
        """The fencing token while Leader; None otherwise."""
        phase = self.phase
        return phase.token if isinstance(phase, Term) else None

    @property
    def write_due(self) -> bool:
        """Leader: a file waits for ZooKeeper to confirm the node."""
        phase = self.phase
        return isinstance(phase, Term) and phase.write_due

    @property
    def connected(self) -> bool:
        return self.session.connected

    @property
    def session_id(self) -> int | None:
        return self.session.id

    @property
    def next_id(self) -> int:
        return self.books.next_id

    @property
    def timers(self) -> Timers:
        return self.books.timers

    @property
    def pending(self) -> Pending:
        return self.books.pending

    def awaits(self, kind: type[Effect]) -> bool:
        """True while a request of effect type `kind` is awaited."""
        return any(awaited is kind for _, awaited in self.books.pending)

    def awaiting(self, kind: type[Effect]) -> int | None:
        """The request of effect type `kind` awaited (the latest), if any."""
        found = [request for request, awaited in self.books.pending if awaited is kind]
        return found[-1] if found else None

    @property
    def exited(self) -> bool:
        phase = self.phase
        return isinstance(phase, Shutdown) and phase.exited

    @property
    def repair(self) -> tuple[Repair, ...]:
        phase = self.phase
        return phase.broken if isinstance(phase, Repairs) else ()

    @property
    def release_token(self) -> int | None:
        phase = self.phase
        return phase.release if isinstance(phase, Repairs | Candidate) else None

    @property
    def child_pid(self) -> int | None:
        return self.job.pid

    @property
    def child_request(self) -> int | None:
        return self.awaiting(StartChild)

    @property
    def child_stopping(self) -> bool:
        return self.job.stopping

    @property
    def failures(self) -> int:
        return self.streaks.failures

    @property
    def job_failures(self) -> int:
        return self.streaks.job_failures


def initial_state(config: CoreConfig) -> State:
    """The state before the first event (`Started`): Init, no check passed yet (without
    file work, a job only, file-dir is none of our business)."""
    return State(config, phase=Checks(file_dir=not config.write_files))
