"""The operator's controls and the priorities in the pure core: scripted events in,
states and effects out. A pause ends the term and keeps everyone out; a hand-over ends
the term and lets only the one named in; free leadership goes to the highest priority."""

from __future__ import annotations

from typing import Any

import attrs

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.state import StateName, initial_state
from tests.unit.core_script import CONFIG, SESSION, TOKEN, Script

ATTEMPTER, LEADER = StateName.ATTEMPTER, StateName.LEADER
CONTROLS = attrs.evolve(CONFIG, controls=True, exec_command=("job",), write_files=False)


def script(replica: str = "r1", priority: int = 1) -> Script:
    return Script(initial_state(attrs.evolve(CONTROLS, replica=replica, priority=priority)))


def creates(s: Script) -> list[fx.CreateNode]:
    return [e for e in s.effects if isinstance(e, fx.CreateNode)]


def control(s: Script, **fields: Any) -> None:
    """Answer the control read in flight with `fields` (default: nothing stands)."""
    s.answer(s.last(fx.ReadControl), ev.ControlRead, outcome=Outcome.OK, **fields)


def members(s: Script, **priorities: int) -> None:
    s.answer(
        s.last(fx.ReadMembers),
        ev.MembersRead,
        outcome=Outcome.OK,
        replicas=tuple(priorities),
        priorities=tuple(priorities.values()),
    )


def to_candidate(s: Script, **peers: int) -> Script:
    """Through Init to Attempter with the controls and the members read (`peers`: the
    other members' priorities; ours is added)."""
    s.send(ev.Started())
    s.send(ev.SessionConnected(session_id=SESSION))
    s.answer(s.last(fx.Connect), ev.ConnectResult, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is ATTEMPTER
    assert not creates(s), "no try before the controls are read"
    cfg = s.state.config
    members(s, **{cfg.replica: cfg.priority}, **peers)
    control(s)
    return s


def to_leader(s: Script, **peers: int) -> Script:
    to_candidate(s, **peers)
    create = s.last(fx.CreateNode)
    s.answer(create, ev.NodeCreated, outcome=Outcome.OK, token=TOKEN)
    assert s.name is LEADER
    s.answer(s.last(fx.StartChild), ev.ChildStarted, outcome=Outcome.OK, pid=500)
    return s


def held_by_another(s: Script) -> None:
    """Our try (after the higher priorities' turn, if any) finds the node held."""
    if any(name == "contend" for name, _ in s.state.timers):
        s.fire(s.last_timer("contend"))
    s.answer(
        s.last(fx.CreateNode),
        ev.NodeCreated,
        outcome=Outcome.FAILED,
        failure=ev.CreateFailure.NODE_EXISTS,
    )


def test_controls_and_members_are_read_once_connected_and_then_the_replica_competes() -> None:
    s = script()
    s.send(ev.Started())
    s.send(ev.SessionConnected(session_id=SESSION))
    read = s.one(fx.ReadControl)
    assert (read.pause_path, read.handover_path) == (
        "/election/control/pause",
        "/election/control/handover",
    )
    assert s.one(fx.ReadMembers).path == "/election/members"
    s.answer(s.last(fx.Connect), ev.ConnectResult, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is ATTEMPTER and not creates(s)
    members(s, r1=1)
    assert not creates(s)  # the controls are not read yet
    control(s)
    (create,) = creates(s)
    assert create.path == "/election/leader"


def test_a_pause_ends_the_term_gracefully_and_keeps_everyone_out_until_resumed() -> None:
    s = to_leader(script())
    s.send(ev.ControlChanged(path="/election/control/pause", kind="CREATED"))
    assert s.name is LEADER  # not until it is read
    control(s, paused=True, paused_by="ops@host", pause_reason="kernel upgrade")
    assert s.name is ATTEMPTER and s.state.cause == "paused by ops@host"
    s.one(fx.StopChild)  # the job first
    s.none(fx.ReleaseNode)
    s.send(ev.ChildExited(pid=500, code=143, signal="SIGTERM", ran_for=30.0))
    assert s.one(fx.ReleaseNode).token == TOKEN  # then the node
    s.send(ev.NodeWatchFired(path="/election/leader", kind="DELETED"))
    assert not creates(s)  # paused: nobody takes it
    s.send(ev.ControlChanged(path="/election/control/pause", kind="DELETED"))
    control(s)  # resumed
    assert creates(s)


def test_a_hand_over_of_our_term_ends_it_and_keeps_us_out_while_it_stands() -> None:
    s = to_leader(script())
    s.send(ev.ControlChanged(path="/election/control/handover", kind="CREATED"))
    control(s, handover="h1", handover_leader="r1", handover_token=TOKEN, handover_by="ops")
    assert s.name is ATTEMPTER and s.state.cause == "hand-over asked by ops"
    s.send(ev.ChildExited(pid=500, code=143, signal="SIGTERM", ran_for=30.0))
    s.one(fx.ReleaseNode)
    s.send(ev.NodeWatchFired(path="/election/leader", kind="DELETED"))
    assert not creates(s)  # the one yielding may not take it back while the request stands


def test_a_hand_over_of_another_term_is_not_ours_to_act_on() -> None:
    s = to_leader(script())
    control(s, handover="h1", handover_leader="r1", handover_token=TOKEN - 1)
    assert s.name is LEADER


def test_only_the_replica_a_hand_over_names_may_take_over_however_low_its_priority() -> None:
    named = to_candidate(script("r2", priority=1), r0=5, r1=3)
    other = to_candidate(script("r3", priority=9), r0=5, r1=3)
    request = {
        "handover": "h1",
        "handover_leader": "r0",
        "handover_token": TOKEN,
        "handover_to": "r2",
    }
    for s in (named, other):
        held_by_another(s)
        s.send(ev.ControlChanged(path="/election/control/handover", kind="CREATED"))
        control(s, **request)
        s.send(ev.NodeWatchFired(path="/election/leader", kind="DELETED"))
    assert creates(named)  # at once: no priority wait for the one named
    assert not creates(other)


def test_free_leadership_waits_briefly_for_each_live_higher_priority() -> None:
    s = to_candidate(script("r2", priority=1), r0=3, r1=2)
    held_by_another(s)
    s.send(ev.NodeWatchFired(path="/election/leader", kind="DELETED"))
    assert not creates(s)
    wait = s.timer("contend")
    assert wait.delay == 2 * CONTROLS.contend_step  # two live candidates rank above us
    s.fire(wait)
    assert creates(s)  # they did not take it: we do


def test_the_wait_is_bounded_however_many_rank_above() -> None:
    s = to_candidate(script("r9", priority=1), **{f"r{i}": 5 for i in range(8)})
    held_by_another(s)
    s.send(ev.NodeWatchFired(path="/election/leader", kind="DELETED"))
    assert s.timer("contend").delay == CONTROLS.contend_max


def test_a_standby_of_priority_0_never_tries_even_alone() -> None:
    s = script(priority=0)
    s.send(ev.Started())
    s.send(ev.SessionConnected(session_id=SESSION))
    s.none(fx.ReadMembers)  # others' priorities are moot
    s.answer(s.last(fx.Connect), ev.ConnectResult, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    control(s)
    for _ in range(3):
        s.fire(s.last_timer("attempt"))
        s.send(ev.NodeWatchFired(path="/election/leader", kind="DELETED"))
        assert not creates(s)
    assert s.name is ATTEMPTER


def test_a_create_answered_after_a_pause_was_read_lets_the_node_go_unused() -> None:
    s = to_candidate(script())
    create = s.last(fx.CreateNode)
    s.send(ev.ControlChanged(path="/election/control/pause", kind="CREATED"))
    control(s, paused=True, paused_by="ops")
    s.answer(create, ev.NodeCreated, outcome=Outcome.OK, token=TOKEN)
    assert s.name is ATTEMPTER
    assert s.one(fx.ReleaseNode).token == TOKEN
    s.none(fx.StartChild)


def test_a_failed_read_of_the_controls_holds_back_and_is_tried_again_on_the_next_tick() -> None:
    s = script()
    s.send(ev.Started())
    s.send(ev.SessionConnected(session_id=SESSION))
    s.answer(s.last(fx.Connect), ev.ConnectResult, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    members(s, r1=1)
    s.answer(s.last(fx.ReadControl), ev.ControlRead, outcome=Outcome.FAILED, reason="x")
    assert not creates(s) and not [e for e in s.effects if isinstance(e, fx.ReadControl)]
    s.fire(s.last_timer("attempt"))
    s.one(fx.ReadControl)  # tried again
    control(s)
    assert creates(s)


def test_a_reconnect_reads_the_controls_again() -> None:
    s = to_leader(script())
    s.send(ev.SessionSuspended())
    s.send(ev.SessionConnected(session_id=SESSION))
    s.one(fx.ReadControl)
