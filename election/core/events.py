"""Events: everything the daemon learns, as frozen data.

Every event is journaled before the reducer sees it, so an event holds only what the
reducer needs and what an engineer wants to read at 3 a.m. The loop stamps each event
with its monotonic time `at` (the only way time reaches the core); the journal keeps
`at` in the record, beside the event, not inside it.

Effect outcomes come back as events with an `outcome` of ok, failed or unknown (the
deadline passed: the request may or may not have taken effect) and carry the `request`
id of the effect that asked, so a late or stale answer is recognisable.
"""

from __future__ import annotations

import enum

import attrs


class Outcome(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the deadline passed; it may or may not have happened


class CreateFailure(enum.StrEnum):
    """Why a create of our queue node failed, as far as the reducer cares."""

    NONE = ""
    NODE_EXISTS = "node-exists"  # (journals of the single-node protocol: someone held it)
    NO_PARENT = "no-parent"  # the election path vanished: ensure it again
    # The election path is an ephemeral node: a replica of the single-node protocol leads
    # (an upgrade in progress). Wait until it is gone.
    PARENT_EPHEMERAL = "parent-ephemeral"
    CONNECTION = "connection"  # the session is in trouble: the create may have happened
    OTHER = "other"


@attrs.frozen(kw_only=True)
class Event:
    """Base of all events; `at` is stamped by the loop (monotonic seconds)."""

    at: float = 0.0


# --- lifecycle -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Started(Event):
    """The daemon has started; the first event of every journal."""


@attrs.frozen(kw_only=True)
class StopRequested(Event):
    """SIGTERM or SIGINT (or the operator in some other way) asked us to stop."""

    signal: str = "SIGTERM"


@attrs.frozen(kw_only=True)
class TimerFired(Event):
    """A timer started by `StartTimer` fired. Stale if `id` is not the live one."""

    name: str
    id: int


# --- the ZooKeeper session (kazoo's listener) ----------------------------------------


@attrs.frozen(kw_only=True)
class SessionConnected(Event):
    """The session is connected (new, or the same one resumed after SUSPENDED)."""

    session_id: int
    server: str = ""


@attrs.frozen(kw_only=True)
class SessionSuspended(Event):
    """Connection lost; the session may still live on the server. Stop leading now."""


@attrs.frozen(kw_only=True)
class SessionLost(Event):
    """The session expired or was closed: every ephemeral node of ours is gone."""


@attrs.frozen(kw_only=True)
class ConnectResult(Event):
    """Outcome of `Connect`: failed or unknown when no server answered in time."""

    request: int
    outcome: Outcome
    reason: str = ""


@attrs.frozen(kw_only=True)
class SessionClosed(Event):
    """Outcome of `CloseSession`."""

    request: int
    outcome: Outcome
    reason: str = ""


# --- checks and the election node ---------------------------------------------------


@attrs.frozen(kw_only=True)
class FileDirChecked(Event):
    """Outcome of `CheckFileDir`: the directory exists (or was made) and is writable."""

    request: int
    outcome: Outcome
    reason: str = ""


@attrs.frozen(kw_only=True)
class PathEnsured(Event):
    """Outcome of `EnsurePath`: the election path (the queue's parent) exists."""

    request: int
    outcome: Outcome
    reason: str = ""


@attrs.frozen(kw_only=True)
class NodeCreated(Event):
    """Outcome of `CreateNode`. On ok, `path` is our new queue node (the prefix asked
    for and ZooKeeper's sequence number) and `token` its czxid. Failed with `connection`
    and unknown leave it open whether the node was made."""

    request: int
    outcome: Outcome
    token: int | None = None
    failure: CreateFailure = CreateFailure.NONE
    reason: str = ""
    answered_at: float | None = None  # monotonic: when the answer arrived (see NodeRead)
    asked_at: float | None = None  # monotonic: when the request was sent (see NodeRead)
    path: str = ""


@attrs.frozen(kw_only=True)
class NodeRead(Event):
    """Outcome of `ReadNode` of `path` (an exists call that also sets a watch).

    `owner` is the node's ephemeralOwner (a session id) and `token` its czxid.
    """

    request: int
    outcome: Outcome
    exists: bool = False
    owner: int | None = None
    token: int | None = None
    reason: str = ""
    # Monotonic: when the answer arrived. The loop stamps `at` when it takes the event;
    # a process frozen in between (SIGSTOP, a swap storm) finds an old answer on its
    # queue, which no longer proves the node ours: the reducer looks again.
    answered_at: float | None = None
    # Monotonic: when the request was sent. An answer proves the session alive then:
    # the server heard from it, and counts its timeout from that moment at the earliest
    # (`Session.proven_at`).
    asked_at: float | None = None
    path: str = ""  # (empty in journals from before the queue)


@attrs.frozen(kw_only=True)
class NodeWatchFired(Event):
    """A watch on a node fired (our queue node, our predecessor's, or the election path):
    it was created, deleted or changed. `answered_at` (monotonic) is when the
    notification arrived: one that waited long for the loop proves nothing any more."""

    path: str
    kind: str  # "CREATED", "DELETED", "CHANGED", "NONE" (session event)
    answered_at: float | None = None
    # The deletion of the node below ours comes with a proof of our session: the adapter
    # asks `exists` of our own node first and passes the notification on with the time
    # that request was sent, when ZooKeeper answered it (None: no proof, the core reads).
    proven_at: float | None = None


@attrs.frozen(kw_only=True)
class NodeReleased(Event):
    """Outcome of `ReleaseNode`: our node is deleted (or was already gone)."""

    request: int
    outcome: Outcome
    reason: str = ""


@attrs.frozen(kw_only=True)
class QueueRead(Event):
    """Outcome of `ReadQueue`: the children of the election path (`names`, as listed;
    `election.core.queue` orders them), or `exists` false when the path itself is gone."""

    request: int
    outcome: Outcome
    names: tuple[str, ...] = ()
    exists: bool = True
    reason: str = ""
    answered_at: float | None = None  # monotonic: when the answer arrived (see NodeRead)
    asked_at: float | None = None  # monotonic: when the request was sent (see NodeRead)


@attrs.frozen(kw_only=True)
class QueueChanged(Event):
    """The watch on the queue's children fired: a candidate came or went. Only a head
    that holds its place for one who may lead but has not queued sets it."""

    path: str


@attrs.frozen(kw_only=True)
class NodeMarked(Event):
    """Outcome of `MarkNode`: our node's data was written again as we took office."""

    request: int
    outcome: Outcome
    reason: str = ""


# --- the work: leader files -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FileWritten(Event):
    """Outcome of `WriteLeaderFile`.

    `newer_token` is set when the handler found a file of a higher token in file-dir
    and therefore wrote nothing: we have been superseded.

    `published_at` is the wall clock (seconds since the epoch) read right after the
    rename: the file was visible no later than that. It dates the file where the
    record's own time cannot — a process frozen between the rename and the journal
    append (SIGSTOP, a stall) journals the answer long after the file appeared.
    """

    request: int
    outcome: Outcome
    name: str = ""
    newer_token: int | None = None
    published_at: float | None = None
    reason: str = ""


@attrs.frozen(kw_only=True)
class FilesPruned(Event):
    """Outcome of `PruneFiles`: how many of our oldest files were removed."""

    request: int
    outcome: Outcome
    removed: int = 0
    reason: str = ""


# --- the job: a child process run while Leader (`--exec`) -------------------------------


@attrs.frozen(kw_only=True)
class ChildStarted(Event):
    """Outcome of `StartChild`: the job runs as `pid` (its own process group).

    `started_at`: the wall clock (seconds since the epoch) at the instant the job's
    supervisor counts `ChildExited.ran_for` from, just before it started the job. It
    dates the job where the record's own time cannot: a daemon frozen before the append
    journals the start late.
    """

    request: int
    outcome: Outcome
    pid: int | None = None
    started_at: float | None = None
    reason: str = ""


@attrs.frozen(kw_only=True)
class ChildExited(Event):
    """The job `pid` has exited (and was reaped), with every process of its group.
    `code` is its exit status, or 128 + the signal number when a signal ended it (as a
    shell reports it). `ran_for`: seconds from its start until the last process of its
    group was gone, on its supervisor's clock (journals before that measured to the job's
    own exit), so a daemon frozen meanwhile does not stretch it."""

    pid: int
    code: int
    signal: str = ""  # e.g. "SIGTERM" when a signal ended it
    ran_for: float = 0.0  # seconds


@attrs.frozen(kw_only=True)
class ChildLeaseExpired(Event):
    """The job's supervisor found the lease run out (no answer from ZooKeeper proved the
    session alive in time, or the daemon died): it has sent SIGTERM to the job's group
    and sends SIGKILL when the lease ends. `ChildExited` follows."""

    pid: int
    reason: str = ""


# --- the member node: what this replica tells `election top` and operators --------------


@attrs.frozen(kw_only=True)
class MemberPublished(Event):
    """Outcome of `PublishMember`: on ok, the node shows what was asked, for the session
    `session_id` (the one it was sent on). Failed with `held_by` (who: host, pid,
    session): another live replica's session holds the node — this replica id is in
    use, and a second replica of one id is refused."""

    request: int
    outcome: Outcome
    session_id: int | None = None
    reason: str = ""
    held_by: str = ""


# --- the operator's controls and the other candidates ------------------------------------


@attrs.frozen(kw_only=True)
class ControlRead(Event):
    """Outcome of `ReadControl`: whether the cluster is paused (by whom, why), and the
    hand-over request that stands, if any (`handover` its id, "" for none): the leader
    `handover_leader` of term `handover_token` is to end it, and only `handover_to` (if
    set) may take over while it stands."""

    request: int
    outcome: Outcome
    paused: bool = False
    paused_by: str = ""
    pause_reason: str = ""
    handover: str = ""
    handover_leader: str = ""
    handover_token: int | None = None
    handover_to: str | None = None
    handover_by: str = ""
    reason: str = ""


@attrs.frozen(kw_only=True)
class ControlChanged(Event):
    """A watch on a control node fired: it was made, changed or deleted."""

    path: str
    kind: str


@attrs.frozen(kw_only=True)
class MembersRead(Event):
    """Outcome of `ReadMembers`: the live members (`replicas`, each with its priority at
    the same index of `priorities`)."""

    request: int
    outcome: Outcome
    replicas: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    reason: str = ""


@attrs.frozen(kw_only=True)
class MembersChanged(Event):
    """The watch on the list of member nodes fired: one came or went."""

    path: str


EVENT_TYPES: tuple[type[Event], ...] = (
    Started,
    StopRequested,
    TimerFired,
    SessionConnected,
    SessionSuspended,
    SessionLost,
    ConnectResult,
    SessionClosed,
    FileDirChecked,
    PathEnsured,
    NodeCreated,
    NodeRead,
    NodeWatchFired,
    NodeReleased,
    QueueRead,
    QueueChanged,
    NodeMarked,
    FileWritten,
    FilesPruned,
    ChildStarted,
    ChildExited,
    ChildLeaseExpired,
    MemberPublished,
    ControlRead,
    ControlChanged,
    MembersRead,
    MembersChanged,
)
"""Every concrete event type; the journal tags each by its class name."""
