"""The state as a journal snapshot holds it: one flat record, the same since the first
rotated journal, whatever shape `State` has in memory.

A rotated segment's header carries a snapshot of the state after the segment before,
so that the segment replays on its own; old journals must keep replaying, so the wire
form stays the flat record it always was (tagged "State"), and `state_of` reads it into
today's `State`. The requests that span states are in the state's one list of awaited
requests (`election.core.lifetime`), and in a snapshot in their own fields, as ever
(`SPANNING_FIELDS`): `pending` holds the others. Fields that meant nothing in the state
a snapshot was taken in (Init's checks after Init, the job's token once it has gone, a
release still noted in Stopping) are dropped on the way in, as today's reducer drops
them.
"""

from __future__ import annotations

import attrs

from election.core import effects as fx
from election.core.effects import EFFECT_TYPES, Effect
from election.core.state import (
    NO_JOB,
    Books,
    Candidate,
    Checks,
    Control,
    CoreConfig,
    Job,
    Member,
    Peers,
    Phase,
    Place,
    Repair,
    Repairs,
    Session,
    Shown,
    Shutdown,
    State,
    StateName,
    Streaks,
    Term,
    Timer,
)

_EFFECTS: dict[str, type[Effect]] = {cls.__name__: cls for cls in EFFECT_TYPES}


@attrs.frozen(kw_only=True)
class Snapshot:
    """The flat wire form of a `State` (journaled with the tag "State")."""

    name: StateName = StateName.INIT
    config: CoreConfig
    next_id: int = 1
    timers: tuple[tuple[Timer, int], ...] = ()
    pending: tuple[tuple[int, str], ...] = ()  # (request id, effect type name)
    connected: bool = False
    session_id: int | None = None
    session_proven_at: float | None = None  # (snapshots from before it lack it)
    token: int | None = None
    last_token: int | None = None
    seq: int = 0
    write_due: bool = False
    file_dir_ok: bool = False
    path_ok: bool = False
    failures: int = 0
    repair: tuple[Repair, ...] = ()
    cause: str = ""
    exited: bool = False
    exit_code: int = 0
    child_request: int | None = None
    child_token: int | None = None
    child_pid: int | None = None
    child_stopping: bool = False
    child_restarts: int = 0
    job_failures: int = 0
    release_token: int | None = None
    # The member node (snapshots journaled before it went through the core lack these).
    member_since: float = 0.0
    member_request: int | None = None
    member_asked: Shown | None = None
    member_shown: Shown | None = None
    member_failed: bool = False
    # The operator's controls and the members' priorities (snapshots journaled before
    # the controls lack these). `candidate_waiting`: not at the head of the queue (the
    # single-node protocol's "a try is held back").
    candidate_waiting: bool = True
    control_known: bool = False
    control_stale: bool = False
    control_request: int | None = None
    control_failed: bool = False
    paused: bool = False
    paused_by: str = ""
    handover: str = ""
    handover_leader: str = ""
    handover_token: int | None = None
    handover_to: str | None = None
    handover_by: str = ""
    peers_known: bool = False
    peers_stale: bool = False
    peers_request: int | None = None
    peers_failed: bool = False
    peers: tuple[tuple[str, int], ...] = ()
    # Attempter's view of the queue, and our node in it (the single-node protocol's
    # snapshots lack these).
    candidate_head: bool = False
    candidate_below: int = -1
    candidate_predecessor: str = ""
    candidate_watching: bool = False
    candidate_behind: tuple[tuple[str, int], ...] = ()
    candidate_fresh: bool = False
    candidate_waited: bool = False
    candidate_ahead: tuple[tuple[str, int], ...] = ()
    candidate_left: tuple[str, ...] = ()
    candidate_queue_watched: bool = False
    candidate_watch_request: int | None = None
    place_session: int | None = None
    place_name: str = ""
    place_token: int | None = None
    place_creating: int | None = None
    place_releasing: int | None = None
    place_unsure: bool = False


# Where a snapshot records each kind of request that spans states (at most one of each
# is ever awaited).
SPANNING_FIELDS: dict[type[Effect], str] = {
    fx.StartChild: "child_request",
    fx.PublishMember: "member_request",
    fx.ReadControl: "control_request",
    fx.ReadMembers: "peers_request",
    fx.CreateNode: "place_creating",
    fx.ReleaseNode: "place_releasing",
}


def snapshot_of(state: State) -> Snapshot:
    """`state` as a snapshot records it."""
    phase, job, streaks = state.phase, state.job, state.streaks
    control, peers = state.control, state.peers
    if isinstance(phase, Term):
        last_token, seq = phase.token, phase.seq
    elif streaks.last_term is not None:
        last_token, seq = streaks.last_term
    else:
        last_token, seq = None, 0
    checks = phase if isinstance(phase, Checks) else Checks()
    shutdown = phase if isinstance(phase, Shutdown) else Shutdown()
    candidate = phase if isinstance(phase, Candidate) else Candidate()
    place = state.place
    return Snapshot(
        name=state.name,
        config=state.config,
        next_id=state.books.next_id,
        timers=state.books.timers,
        pending=tuple(
            (request, kind.__name__)
            for request, kind in state.books.pending
            if kind not in SPANNING_FIELDS
        ),
        connected=state.session.connected,
        session_id=state.session.id,
        session_proven_at=state.session.proven_at,
        token=state.token,
        last_token=last_token,
        seq=seq,
        write_due=isinstance(phase, Term) and phase.write_due,
        file_dir_ok=checks.file_dir,
        path_ok=checks.path,
        failures=streaks.failures,
        repair=state.repair,
        cause=state.cause,
        exited=shutdown.exited,
        exit_code=shutdown.exit_code,
        child_request=state.awaiting(fx.StartChild),
        child_token=job.token,
        child_pid=job.pid,
        child_stopping=job.stopping,
        child_restarts=streaks.restarts,
        job_failures=streaks.job_failures,
        release_token=state.release_token,
        member_since=state.member.since,
        member_request=state.awaiting(fx.PublishMember),
        member_asked=state.member.asked,
        member_shown=state.member.shown,
        member_failed=state.member.failed,
        candidate_waiting=not candidate.head,
        control_known=control.known,
        control_stale=control.stale,
        control_request=state.awaiting(fx.ReadControl),
        control_failed=control.failed,
        paused=control.paused,
        paused_by=control.paused_by,
        handover=control.handover,
        handover_leader=control.handover_leader,
        handover_token=control.handover_token,
        handover_to=control.handover_to,
        handover_by=control.handover_by,
        peers_known=peers.known,
        peers_stale=peers.stale,
        peers_request=state.awaiting(fx.ReadMembers),
        peers_failed=peers.failed,
        peers=peers.priorities,
        candidate_head=candidate.head,
        candidate_below=candidate.below,
        candidate_predecessor=candidate.predecessor,
        candidate_watching=candidate.watching,
        candidate_behind=candidate.behind,
        candidate_fresh=candidate.fresh,
        candidate_waited=candidate.waited,
        candidate_ahead=candidate.ahead,
        candidate_left=candidate.left,
        candidate_queue_watched=candidate.queue_watched,
        candidate_watch_request=candidate.watch_request,
        place_session=place.session,
        place_name=place.name,
        place_token=place.token,
        place_creating=state.awaiting(fx.CreateNode),
        place_releasing=state.awaiting(fx.ReleaseNode),
        place_unsure=place.unsure,
    )


def state_of(snapshot: Snapshot) -> State:
    """The `State` a snapshot records. Raises ValueError for one that names an effect
    type that does not exist, or a Leader without a token."""
    s = snapshot
    pending = []
    for request, name in s.pending:
        kind = _EFFECTS.get(name)
        if kind is None:
            raise ValueError(f"pending: unknown effect type {name!r}")
        pending.append((request, kind))
    for kind, field in SPANNING_FIELDS.items():
        request = getattr(s, field)
        if request is not None:
            pending.append((request, kind))
    pending.sort(key=lambda p: p[0])  # as the state awaits them: in the order asked
    phase: Phase = None
    if s.name is StateName.INIT:
        phase = Checks(s.file_dir_ok, s.path_ok)
    elif s.name is StateName.ATTEMPTER:
        phase = Candidate(
            release=s.release_token,
            head=s.candidate_head,
            below=s.candidate_below,
            predecessor=s.candidate_predecessor,
            watching=s.candidate_watching,
            behind=s.candidate_behind,
            fresh=s.candidate_fresh,
            waited=s.candidate_waited,
            ahead=s.candidate_ahead,
            left=s.candidate_left,
            queue_watched=s.candidate_queue_watched,
            watch_request=s.candidate_watch_request,
        )
    elif s.name is StateName.LEADER:
        if s.token is None:
            raise ValueError("a Leader without a token")
        phase = Term(s.token, s.seq, s.write_due)
    elif s.name is StateName.FAILOVER:
        phase = Repairs(s.repair, s.release_token)
    elif s.name is StateName.STOPPING:
        phase = Shutdown(s.exit_code, s.exited)
    busy = s.child_pid is not None or s.child_request is not None
    job = Job(s.child_token, s.child_pid, s.child_stopping) if busy else NO_JOB
    last_term = None
    if s.name is not StateName.LEADER and s.last_token is not None:
        last_term = (s.last_token, s.seq)
    return State(
        s.config,
        s.name,
        Books(s.next_id, s.timers, tuple(pending)),
        Session(s.connected, s.session_id, s.session_proven_at),
        phase,
        job,
        Streaks(s.failures, s.job_failures, s.child_restarts, last_term),
        s.cause,
        Member(s.member_since, s.member_asked, s.member_shown, s.member_failed),
        Control(
            known=s.control_known,
            stale=s.control_stale,
            failed=s.control_failed,
            paused=s.paused,
            paused_by=s.paused_by,
            handover=s.handover,
            handover_leader=s.handover_leader,
            handover_token=s.handover_token,
            handover_to=s.handover_to,
            handover_by=s.handover_by,
        ),
        Peers(s.peers_known, s.peers_stale, s.peers_failed, s.peers),
        Place(
            s.place_session,
            s.place_name,
            s.place_token,
            s.place_unsure,
        ),
    )
