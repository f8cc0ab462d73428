"""Properties of the reducer over every (state, event type) pair and random histories."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from election.core import effects as fx
from election.core import events as ev
from election.core.events import CreateFailure, Outcome
from election.core.reducer import STALE, TABLE, UnexpectedEvent, reduce
from election.core.state import (
    Candidate,
    CoreConfig,
    ExecExit,
    State,
    StateName,
    initial_state,
)
from election_replay.causes import BY_WHY
from tests.unit.core_script import (
    CONFIG,
    SESSION,
    TOKEN,
    Script,
    node_name,
    node_path,
    to_attempter,
    to_failover,
    to_leader,
    to_stopping,
)

# Queue nodes a history may meet: ours (and another of our session, a create in doubt),
# others' below and behind ours, and one of our earlier session.
OTHERS = (node_name("r2", 0x2002, 1), node_name("r3", 0x3003, 2), node_name("r9", 0x9, 20))
MINE = (node_name(sequence=10), node_name(sequence=11), node_name(session=SESSION - 1, sequence=3))

REACH = {
    StateName.INIT: lambda: _started(),
    StateName.ATTEMPTER: to_attempter,
    StateName.LEADER: to_leader,
    StateName.FAILOVER: to_failover,
    StateName.STOPPING: to_stopping,
}


def _started() -> Script:
    s = Script()
    s.send(ev.Started())
    return s


def _possible(state: State, event_type: type[ev.Event]) -> bool:
    """The event can happen in `state`: acted on, or a known stale answer (or the state
    has exited, when nothing matters any more)."""
    return state.exited or event_type in TABLE[state.name] or event_type in STALE[state.name]


def test_every_state_acts_on_an_event_ignores_it_as_stale_or_knows_it_cannot_happen() -> None:
    assert set(TABLE) == set(STALE) == set(StateName)
    for state in StateName:
        acted, stale = set(TABLE[state]), STALE[state]
        assert not acted & stale, state  # never both
        impossible = set(ev.EVENT_TYPES) - acted - stale
        # Only the journal's first event outside Init, and Stopping's own answer
        # outside Stopping, cannot happen: everything else is named.
        expected: set[type[ev.Event]] = {ev.Started} if state is not StateName.INIT else set()
        if state is not StateName.STOPPING:
            expected.add(ev.SessionClosed)
        assert impossible == expected, state


@pytest.mark.parametrize("state_name", list(StateName))
def test_an_event_that_cannot_happen_is_an_error_not_a_silent_no_op(
    state_name: StateName,
) -> None:
    state = REACH[state_name]().state
    for event_type in ev.EVENT_TYPES:
        if _possible(state, event_type):
            continue
        event = (
            ev.Started()
            if event_type is ev.Started
            else ev.SessionClosed(request=1, outcome=Outcome.OK)
        )
        with pytest.raises(UnexpectedEvent, match=f"{event_type.__name__} cannot happen"):
            reduce(state, event)


def _sample(event_type: type[ev.Event], state: State, pick: Any) -> ev.Event:
    """An event of `event_type` that may answer a pending request or a live timer."""
    # Requests awaited: of the state, of its term's work, and those that span states.
    requests = [rid for rid, _ in state.pending] or [999]
    fields: dict[str, Any] = {}
    for field in attrs.fields(event_type):
        if field.name == "at":
            continue
        if field.name == "request":
            fields["request"] = pick(st.sampled_from([*requests, 12345]))
        elif field.name == "outcome":
            fields["outcome"] = pick(st.sampled_from(list(Outcome)))
        elif field.name == "failure":
            fields["failure"] = pick(st.sampled_from(list(CreateFailure)))
        elif field.name in ("token", "newer_token", "owner"):
            fields[field.name] = pick(st.one_of(st.none(), st.integers(1, 2**63 - 1)))
        elif field.name == "session_id":
            fields["session_id"] = pick(st.sampled_from([SESSION, SESSION + 1]))
        elif field.name == "exists":
            fields["exists"] = pick(st.booleans())
        elif field.name == "kind":
            fields["kind"] = pick(st.sampled_from(["CREATED", "DELETED", "CHANGED", "NONE"]))
        elif field.name in ("removed",):
            fields[field.name] = pick(st.integers(0, 10))
        elif field.name == "pid":
            known = [p for p in (state.child_pid,) if p is not None]
            if event_type is ev.ChildStarted:
                fields["pid"] = pick(st.one_of(st.none(), st.sampled_from([*known, 4000, 4001])))
            else:
                fields["pid"] = pick(st.sampled_from([*known, 4002]))
        elif field.name == "code":
            fields["code"] = pick(st.integers(0, 255))
        elif field.name == "ran_for":
            fields["ran_for"] = pick(st.floats(0, 100))
        elif field.name == "name" and event_type is ev.TimerFired:
            live = [(str(n), i) for n, i in state.timers] or [("attempt", 1)]
            name, tid = pick(st.sampled_from([*live, ("write", 10**6)]))
            fields["name"], fields["id"] = name, tid
        elif field.name == "id":
            continue
        elif field.name in ("published_at", "started_at"):  # the replay's, not the core's
            fields[field.name] = pick(st.sampled_from([None, 0.0, 1.7e9]))
        elif field.name in ("answered_at", "asked_at", "proven_at"):
            fields[field.name] = pick(st.sampled_from([None, 0.0, -100.0]))
        elif field.name == "paused":
            fields["paused"] = pick(st.booleans())
        elif field.name in ("handover_leader", "handover_to"):
            choices: list[str | None] = ["", "r1", "r2"]
            if field.name == "handover_to":
                choices = [None, "r1", "r2"]
            fields[field.name] = pick(st.sampled_from(choices))
        elif field.name == "handover_token":
            fields["handover_token"] = pick(st.sampled_from([None, TOKEN, TOKEN + 1]))
        elif field.name == "held_by":  # the id in use: mostly not
            fields["held_by"] = pick(st.sampled_from(["", "", "", "host h, pid 7, session 0x1"]))
        elif field.name in ("handover", "handover_by", "paused_by", "pause_reason"):
            fields[field.name] = pick(st.sampled_from(["", "x", "ops@host"]))
        elif field.name == "replicas":
            peers = pick(
                st.lists(
                    st.tuples(st.sampled_from(["r1", "r2", "r3"]), st.integers(0, 3)), max_size=3
                )
            )
            fields["replicas"] = tuple(r for r, _ in peers)
            fields["priorities"] = tuple(p for _, p in peers)
        elif field.name == "priorities":
            continue  # drawn with the replicas
        elif field.name == "path":
            fields["path"] = pick(st.sampled_from(_paths(state)))
        elif field.name == "names":
            fields["names"] = tuple(pick(st.lists(st.sampled_from([*OTHERS, *MINE]), max_size=4)))
        elif field.name in ("name", "reason", "server", "signal"):
            fields[field.name] = pick(st.sampled_from(["", "x", "SIGTERM"]))
        else:  # a new field: make the test fail so it is thought about
            raise AssertionError(f"no strategy for {event_type.__name__}.{field.name}")
    return event_type(**fields)


def _paths(state: State) -> list[str]:
    """Paths an answer or a watch may name: our node, the one below ours, the election
    path, others."""
    phase = state.phase
    found = [CONFIG.election_path, node_path(MINE[0]), node_path(OTHERS[0]), ""]
    if state.place.name:
        found.append(node_path(state.place.name))
    if isinstance(phase, Candidate) and phase.predecessor:
        found.append(node_path(phase.predecessor))
    return found


def _check_step(
    before: State, event: ev.Event, after: State, effects: tuple[fx.Effect, ...]
) -> None:
    # Leadership and its token go together; the token is our own queue node's czxid.
    assert (after.token is not None) == (after.name is StateName.LEADER)
    if after.name is StateName.LEADER:
        assert after.token == after.place.token and after.place.name
    # One create at a time, never while a node of ours (or a create or delete of one)
    # is known or in doubt: never two queue nodes of one session.
    creates = [e for e in effects if isinstance(e, fx.CreateNode)]
    assert len(creates) <= 1
    if creates:
        place = after.place
        assert after.awaiting(fx.CreateNode) == creates[0].request
        assert not place.name and not place.unsure
        assert after.session.connected and place.session == after.session.id
        assert creates[0].path.endswith(f"-{SESSION & (2**64 - 1):016x}-") or (
            after.session.id != SESSION
        )
    # Work only ever asked for in Leader, never in the step that loses the session.
    if any(isinstance(e, fx.WriteLeaderFile) for e in effects):
        assert after.name is StateName.LEADER
        assert not isinstance(event, ev.SessionSuspended | ev.SessionLost)
    if isinstance(event, ev.SessionSuspended | ev.SessionLost) and not before.exited:
        assert after.name is not StateName.LEADER
        assert not after.connected
    # At most one live timer per name; every timer has a positive delay.
    names = [n for n, _ in after.timers]
    assert len(names) == len(set(names))
    for e in effects:
        if isinstance(e, fx.StartTimer):
            assert e.delay > 0
    # Once exit was asked for, nothing more happens.
    if before.exited:
        assert effects == () and after == before
    # Ids only grow.
    assert after.next_id >= before.next_id
    # Only Failover has something to repair, and it leaves for Init only once nothing
    # is: the last term's job gone, its node's release sent.
    if after.name is not StateName.FAILOVER:
        assert after.repair == ()
    if before.name is StateName.FAILOVER and after.name is StateName.INIT:
        assert after.child_pid is None and after.child_request is None
        assert after.release_token is None


@pytest.mark.parametrize("state_name", list(StateName))
@pytest.mark.parametrize("event_type", ev.EVENT_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_every_state_event_pair_moves_or_is_ignored_safely(
    state_name: StateName, event_type: type[ev.Event], data: st.DataObject
) -> None:
    script = REACH[state_name]()
    before = script.state
    event = _sample(event_type, before, data.draw)
    if not _possible(before, event_type):
        with pytest.raises(UnexpectedEvent):
            reduce(before, event)
        return
    t = reduce(before, event)
    _check_step(before, event, t.state, t.effects)
    assert (t.previous is None) == (t.why is None), t  # a state change names its kind
    if t.previous is not None:
        assert t.state.name in TABLE[before.name][event_type].targets


@pytest.mark.long
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_histories_keep_the_invariants(data: st.DataObject) -> None:
    config = data.draw(st.sampled_from(CONFIGS))
    script = Script(initial_state(config))
    script.send(ev.Started())
    if data.draw(st.booleans()):
        # A replica rarely reaches the head by chance (controls, members, its member
        # node, the queue and its node all answered): half the time, start it there.
        _into_the_queue(script, alone=data.draw(st.booleans()))
    for _ in range(data.draw(st.integers(1, 60))):
        before = script.state
        possible = [t for t in ev.EVENT_TYPES if _possible(before, t)]
        event_type = data.draw(st.sampled_from(possible))
        event = _sample(event_type, before, data.draw)
        effects = script.send(event)
        if before.name is StateName.LEADER and script.state.name is not StateName.LEADER:
            # The replay reads a term's end cause from the kind: never `other`.
            assert script.why is not None and script.why.value in BY_WHY, (event, script.why)
        _check_step(before, event, script.state, effects)
        _check_proven(before, event, script.state)
        _check_job(before, event, script.state, effects)
        _check_controls(script.state, effects)


CONFIGS = [
    CONFIG,
    *(
        attrs.evolve(CONFIG, exec_command=("job",), exec_exit=policy, write_files=files)
        for policy in ExecExit
        for files in (True, False)
    ),
    # Priorities (0: a standby), with and without a job.
    *(
        attrs.evolve(CONFIG, priority=priority, exec_command=job)
        for priority in (0, 2)
        for job in ((), ("job",))
    ),
]


def _into_the_queue(s: Script, alone: bool, asked: float = 0.0) -> None:
    """Answer every request of a starting replica ok, as a healthy ZooKeeper would, until
    it waits in the queue (behind one other, or `alone`) or leads."""
    s.send(ev.SessionConnected(session_id=SESSION))
    answered: set[int] = set()
    cfg = s.state.config
    for _ in range(30):
        made = [e for _, effects in s.history for e in effects if hasattr(e, "request")]
        todo = [e for e in made if e.request not in answered]
        if not todo or s.state.name is StateName.LEADER:
            return
        effect = todo[0]
        answered.add(effect.request)
        answer = _healthy_answer(effect, cfg.replica, cfg.priority, alone, asked)
        if answer is not None and _possible(s.state, type(answer)):
            s.send(answer)


def _healthy_answer(
    effect: fx.Effect, replica: str, priority: int, alone: bool, asked: float
) -> Any:
    request = getattr(effect, "request", 0)
    ok: dict[str, Any] = {"request": request, "outcome": Outcome.OK}
    mine = node_name(replica, SESSION, 10, priority)
    if isinstance(effect, fx.Connect):
        return ev.ConnectResult(**ok)
    if isinstance(effect, fx.CheckFileDir):
        return ev.FileDirChecked(**ok)
    if isinstance(effect, fx.EnsurePath):
        return ev.PathEnsured(**ok)
    if isinstance(effect, fx.ReadControl):
        return ev.ControlRead(**ok)
    if isinstance(effect, fx.PublishMember):
        return ev.MemberPublished(**ok, session_id=SESSION)
    if isinstance(effect, fx.CreateNode):
        return ev.NodeCreated(**ok, token=TOKEN, path=node_path(mine), asked_at=asked)
    if isinstance(effect, fx.ReadQueue):
        names = (mine,) if alone else (OTHERS[0], mine)
        return ev.QueueRead(**ok, names=names, asked_at=asked)
    if isinstance(effect, fx.ReadNode):
        owner, token = (SESSION, TOKEN) if effect.path.endswith(mine) else (0x2002, TOKEN - 1)
        return ev.NodeRead(
            **ok, exists=True, owner=owner, token=token, path=effect.path, asked_at=asked
        )
    if isinstance(effect, fx.ReadMembers):
        return ev.MembersRead(**ok, replicas=(replica, "r2"), priorities=(priority, 1))
    return None


@settings(max_examples=200, deadline=None)
@given(
    config=st.sampled_from([c for c in CONFIGS if c.priority > 0]),
    read_at=st.floats(-20.0, 20.0),
    gone_at=st.floats(-20.0, 20.0),
    proven_at=st.one_of(st.none(), st.floats(-20.0, 20.0)),
)
def test_the_next_in_line_leads_on_the_news_exactly_when_an_answer_proves_its_session(
    config: CoreConfig, read_at: float, gone_at: float, proven_at: float | None
) -> None:
    # Its requests were sent at `read_at`; the news of the node below ours is handled at
    # `gone_at`, with the adapter's proof sent at `proven_at` (or none).
    s = Script(initial_state(config))
    s.send(ev.Started())
    _into_the_queue(s, alone=False, asked=read_at)
    phase = s.state.phase
    assert isinstance(phase, Candidate) and phase.below == 1, s.state
    gone = ev.NodeWatchFired(
        path=node_path(OTHERS[0]), kind="DELETED", at=gone_at, proven_at=proven_at
    )
    s.send(gone)
    proofs = [p for p in (read_at, proven_at) if p is not None]
    proven = config.proven(gone_at, max(proofs))
    assert (s.name is StateName.LEADER) == proven
    if not proven:  # it asks instead, and leads on nothing else
        assert any(isinstance(e, fx.ReadQueue) for e in s.effects)


def _check_proven(before: State, event: ev.Event, after: State) -> None:
    """A candidate leads only on an answer to a request sent lately (it proves the
    session alive; a notification alone does not)."""
    entered = before.name is StateName.ATTEMPTER and after.name is StateName.LEADER
    if entered:
        assert after.config.proven(event.at, after.session.proven_at), (event, after)


def _check_job(
    before: State, event: ev.Event, after: State, effects: tuple[fx.Effect, ...]
) -> None:
    """The job runs only for the current term, never starts outside Leader, and is told
    to stop the moment leadership ends."""
    for e in effects:
        if isinstance(e, fx.StartChild):
            assert after.name is StateName.LEADER and e.token == after.token
            assert after.child_pid is None
    left = before.name is StateName.LEADER and after.name is not StateName.LEADER
    # (A job whose lease ran out is being stopped by its keeper already: no StopChild.)
    lease = isinstance(event, ev.ChildLeaseExpired) and event.pid == before.child_pid
    if left and before.child_pid is not None and not before.child_stopping and not lease:
        assert fx.StopChild(pid=before.child_pid, grace=before.config.exec_grace) in effects
    if after.child_pid is not None and after.name is not StateName.LEADER:
        assert after.child_stopping or before.exited
    if not after.config.write_files:
        assert not any(isinstance(e, fx.WriteLeaderFile) for e in effects)
    # Our node goes only once our job has: never while it may still run.
    if any(isinstance(e, fx.ReleaseNode) for e in effects):
        assert after.child_pid is None and after.child_request is None
    # A job failure's wait grows, but never past its cap.
    for e in effects:
        if isinstance(e, fx.StartTimer) and e.name in ("retry", "child-restart"):
            assert e.delay <= max(after.config.backoff_max, after.config.child_backoff_max)


def _check_controls(after: State, effects: tuple[fx.Effect, ...]) -> None:
    """A standby never leads nor queues; no step ends leading while the controls as
    known say paused; one read of each at a time; only the head and the next in line
    read the members."""
    cfg, control = after.config, after.control
    queues = [e for e in effects if isinstance(e, fx.CreateNode)]
    if cfg.priority == 0:
        assert after.name is not StateName.LEADER and not queues
    if control.known and control.paused and not control.stale:
        assert after.name is not StateName.LEADER
    phase = after.phase
    if any(isinstance(e, fx.ReadMembers) for e in effects):
        assert isinstance(phase, Candidate) and (phase.head or phase.below == 1)
    assert len([e for e in effects if isinstance(e, fx.ReadControl)]) <= 1
    assert len([e for e in effects if isinstance(e, fx.ReadMembers)]) <= 1
    # Never queued nor leading while this session's claim of our replica id is unanswered.
    member, session = after.member, after.session
    claiming = after.awaits(fx.PublishMember) and (
        member.shown is None or member.shown[0] != session.id
    )
    if claiming:
        assert not queues
