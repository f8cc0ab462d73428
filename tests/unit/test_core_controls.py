"""The operator's controls and the priorities in the pure core, on the candidates' queue:
scripted events in, states and effects out. A pause ends the term and the head holds its
place; a hand-over moves the leader (and whoever stands before the one named) to the
back; free leadership goes to the highest priority queued."""

from __future__ import annotations

from typing import Any

import attrs

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.state import StateName, initial_state
from tests.unit.core_script import (
    CONFIG,
    SESSION,
    TOKEN,
    Script,
    node_name,
    node_path,
    published,
    settle,
)

ATTEMPTER, LEADER = StateName.ATTEMPTER, StateName.LEADER
CONTROLS = attrs.evolve(CONFIG, exec_command=("job",), write_files=False)
PAUSE, HANDOVER = "/election/control/pause", "/election/control/handover"


def script(replica: str = "r1", priority: int = 1) -> Script:
    return Script(initial_state(attrs.evolve(CONTROLS, replica=replica, priority=priority)))


def ours(s: Script, sequence: int = 5) -> str:
    cfg = s.state.config
    return node_name(cfg.replica, SESSION, sequence, cfg.priority)


def other(replica: str, sequence: int, priority: int = 1) -> str:
    """Another candidate's node: its name tells its priority."""
    return node_name(replica, 0x7000 + sequence, sequence, priority)


def control(s: Script, **fields: Any) -> None:
    """Answer the control read in flight with `fields` (default: nothing stands); with
    none in flight, a watch fires first (a control node changed)."""
    if not s.state.awaits(fx.ReadControl):
        s.send(ev.ControlChanged(path=HANDOVER, kind="CHANGED"))
    s.answer(s.last(fx.ReadControl), ev.ControlRead, outcome=Outcome.OK, **fields)


def members(s: Script, **priorities: int) -> None:
    s.answer(
        s.last(fx.ReadMembers),
        ev.MembersRead,
        outcome=Outcome.OK,
        replicas=tuple(priorities),
        priorities=tuple(priorities.values()),
    )


def queue(s: Script, *names: str) -> None:
    s.answer(s.last(fx.ReadQueue), ev.QueueRead, outcome=Outcome.OK, names=names)


def to_candidate(s: Script) -> Script:
    """Through Init to Attempter, the controls read (nothing stands), our node asked for."""
    s.send(ev.Started())
    s.send(ev.SessionConnected(session_id=SESSION))
    s.answer(s.last(fx.Connect), ev.ConnectResult, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is ATTEMPTER
    return settle(s)  # our member node is ours, the controls read: nothing stands


def joined(s: Script, *names: str, token: int = TOKEN, sequence: int = 5) -> Script:
    """Our node made (`sequence`, czxid `token`), the queue read as `names`."""
    s.answer(s.last(fx.CreateNode), ev.NodeCreated, outcome=Outcome.OK, token=token,
             path=node_path(ours(s, sequence)))  # fmt: skip
    queue(s, *names)
    return s


def to_leader(s: Script, **peers: int) -> Script:
    to_candidate(s)
    joined(s, ours(s))
    cfg = s.state.config
    members(s, **{cfg.replica: cfg.priority}, **peers)
    assert s.name is LEADER
    s.answer(s.last(fx.StartChild), ev.ChildStarted, outcome=Outcome.OK, pid=500)
    return s


def released(s: Script) -> None:
    s.answer(s.one(fx.ReleaseNode), ev.NodeReleased, outcome=Outcome.OK)


def test_a_candidate_queues_at_once_and_reads_the_controls_but_not_the_members() -> None:
    s = script()
    s.send(ev.Started())
    s.send(ev.SessionConnected(session_id=SESSION))
    read = s.one(fx.ReadControl)
    assert (read.pause_path, read.handover_path) == (PAUSE, HANDOVER)
    s.none(fx.ReadMembers)  # only the head and the next in line read the priorities
    s.answer(s.last(fx.Connect), ev.ConnectResult, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    s.none(fx.CreateNode)  # our member node is claimed first
    published(s)  # the replica id is ours; the controls are still being read
    s.one(fx.CreateNode)  # queueing is no leading: no control holds it back
    assert s.state.awaits(fx.ReadControl)
    joined(s, other("ra", 1), other("rb", 2), ours(s))
    s.none(fx.ReadMembers)  # two below us: a member coming or going is no news to us


def test_the_next_in_line_reads_the_priorities_before_its_turn() -> None:
    s = to_candidate(script())
    joined(s, other("ra", 1, priority=4), ours(s))
    read = s.one(fx.ReadMembers)
    assert read.path == "/election/members"
    # The queue's names tell the queued ones' priorities: their nodes need no read.
    assert read.known == (("r1", 1), ("ra", 4))
    members(s, r1=1, ra=4)
    s.send(ev.MembersChanged(path="/election/members"))  # ra's member node went with it
    s.send(ev.NodeWatchFired(path=node_path(other("ra", 1, priority=4)), kind="DELETED"))
    # A higher priority that just left from below ours may be queuing again (a move to
    # the back is a delete and a create): one look; not queued, it is no reason to wait.
    assert s.name is ATTEMPTER
    queue(s, ours(s))
    assert s.name is LEADER


def test_the_head_leads_only_once_the_controls_and_the_priorities_are_known() -> None:
    s = script()
    s.send(ev.Started())
    s.send(ev.SessionConnected(session_id=SESSION))
    s.answer(s.last(fx.Connect), ev.ConnectResult, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    published(s)  # the claim: our node is asked for
    joined(s, ours(s))
    assert s.name is ATTEMPTER  # the controls are not read yet
    members(s, r1=1)
    assert s.name is ATTEMPTER
    control(s)
    assert s.name is LEADER


def test_a_pause_ends_the_term_gracefully_and_the_head_holds_its_place() -> None:
    s = to_leader(script())
    s.send(ev.ControlChanged(path=PAUSE, kind="CREATED"))
    assert s.name is LEADER  # not until it is read
    control(s, paused=True, paused_by="ops@host", pause_reason="kernel upgrade")
    assert s.name is ATTEMPTER and s.state.cause == "paused by ops@host"
    s.one(fx.StopChild)
    s.send(ev.ChildExited(pid=500, code=143, signal="SIGTERM", ran_for=30.0))
    s.none(fx.ReleaseNode)  # our place stays ours: no token is spent on a pause
    s.send(ev.ControlChanged(path=PAUSE, kind="DELETED"))
    control(s)  # resumed
    assert s.name is LEADER and s.state.token == TOKEN  # the same node, the same term
    s.one(fx.StartChild)


def test_the_next_in_line_waits_at_the_head_while_paused() -> None:
    s = to_candidate(script())
    joined(s, other("ra", 1), ours(s))
    members(s, r1=1, ra=1)
    s.send(ev.ControlChanged(path=PAUSE, kind="CREATED"))
    control(s, paused=True)
    s.send(ev.NodeWatchFired(path=node_path(other("ra", 1)), kind="DELETED"))
    assert s.name is ATTEMPTER and s.state.phase.head  # type: ignore[union-attr]
    s.none(fx.ReadQueue)
    s.send(ev.ControlChanged(path=PAUSE, kind="DELETED"))
    control(s)
    assert s.name is LEADER


def test_a_hand_over_of_our_term_moves_us_to_the_back() -> None:
    s = to_leader(script())
    s.send(ev.ControlChanged(path=HANDOVER, kind="CREATED"))
    control(s, handover="h1", handover_leader="r1", handover_token=TOKEN, handover_by="ops")
    assert s.name is ATTEMPTER and s.state.cause == "hand-over asked by ops"
    s.none(fx.ReleaseNode)  # the job first
    s.send(ev.ChildExited(pid=500, code=143, signal="SIGTERM", ran_for=30.0))
    release = s.one(fx.ReleaseNode)
    assert (release.path, release.token) == (node_path(ours(s)), TOKEN)
    released(s)
    s.one(fx.CreateNode)  # a new node, at the back: a new token if we lead again
    joined(s, other("rb", 6), ours(s, 7), token=TOKEN + 9, sequence=7)
    assert s.one(fx.ReadNode).path == node_path(other("rb", 6))


def test_the_one_yielding_holds_its_place_while_nobody_else_queues() -> None:
    s = to_leader(script())
    control(s, handover="h1", handover_leader="r1", handover_token=TOKEN)
    s.send(ev.ChildExited(pid=500, code=143, signal="SIGTERM", ran_for=30.0))
    released(s)
    joined(s, ours(s, 7), token=TOKEN + 9, sequence=7)  # the head again, alone
    assert s.name is ATTEMPTER  # may not take it back while the request stands
    s.none(fx.ReleaseNode)  # and nobody to make room for
    s.send(ev.ControlChanged(path=HANDOVER, kind="DELETED"))
    control(s)  # withdrawn
    assert s.name is LEADER and s.state.token == TOKEN + 9


def test_a_hand_over_of_another_term_is_not_ours_to_act_on() -> None:
    s = to_leader(script())
    control(s, handover="h1", handover_leader="r1", handover_token=TOKEN - 1)
    assert s.name is LEADER


def test_a_head_before_the_one_a_hand_over_names_moves_to_the_back() -> None:
    s = to_candidate(script("r2"))
    request = {"handover": "h1", "handover_leader": "r0", "handover_token": 1, "handover_to": "r3"}
    s.send(ev.ControlChanged(path=HANDOVER, kind="CREATED"))
    control(s, **request)
    joined(s, ours(s), other("r3", 9))
    members(s, r2=9, r3=1)
    assert s.name is ATTEMPTER
    assert s.one(fx.ReleaseNode).token == TOKEN  # r3 waits behind us: it comes forward


def test_only_the_replica_a_hand_over_names_may_lead_however_low_its_priority() -> None:
    s = to_candidate(script("r3", priority=1))
    request = {"handover": "h1", "handover_leader": "r0", "handover_token": 1, "handover_to": "r3"}
    control(s, **request)
    joined(s, ours(s), other("r4", 9, priority=9))
    members(s, r3=1, r4=9)
    assert s.name is LEADER  # at once: no priority wait for the one named


def test_a_head_whose_named_successor_is_not_queued_holds_its_place_and_watches() -> None:
    s = to_candidate(script("r2"))
    control(s, handover="h1", handover_leader="r0", handover_token=1, handover_to="r3")
    joined(s, ours(s), other("r4", 9))
    members(s, r2=1, r3=1, r4=1)
    assert s.name is ATTEMPTER
    s.none(fx.ReleaseNode)
    # It looks again with a watch on the queue (the only one: the head's) and holds.
    read = s.last(fx.ReadQueue)
    assert read.watch
    queue(s, ours(s), other("r4", 9))
    assert s.effects == ()  # still not there: nothing more to ask
    s.send(ev.QueueChanged(path="/election/leader"))  # r3 queued (it was starting)
    assert s.last(fx.ReadQueue).watch
    queue(s, ours(s), other("r4", 9), other("r3", 11))
    s.one(fx.ReleaseNode)  # r3 waits behind us now: we step aside for it


def test_a_head_of_lower_priority_moves_behind_a_higher_one_queued() -> None:
    s = to_candidate(script("r1", priority=1))
    joined(s, ours(s), other("r5", 9, priority=5))  # its node's name says it
    assert s.name is ATTEMPTER
    members(s, r1=1, r5=5)
    assert s.one(fx.ReleaseNode).token == TOKEN
    released(s)
    s.one(fx.CreateNode)  # queued again, behind r5


def test_a_higher_priority_that_is_not_queued_gets_a_brief_turn_first() -> None:
    s = to_candidate(script("r2", priority=1))
    joined(s, ours(s))
    members(s, r0=3, r1=2, r2=1)
    assert s.name is ATTEMPTER
    wait = s.timer("contend")
    assert wait.delay == 2 * CONTROLS.contend_step  # two live candidates rank above us
    s.fire(wait)
    queue(s, ours(s))  # still nobody behind us: they did not queue in time
    assert s.name is LEADER


def test_a_higher_priority_that_queued_during_the_turn_gets_it() -> None:
    s = to_candidate(script("r2", priority=1))
    joined(s, ours(s))
    members(s, r0=3, r2=1)
    s.fire(s.timer("contend"))
    queue(s, ours(s), other("r0", 8, priority=3))
    assert s.name is ATTEMPTER
    s.one(fx.ReleaseNode)


def test_the_wait_is_bounded_however_many_rank_above() -> None:
    s = to_candidate(script("r9", priority=1))
    joined(s, ours(s))
    members(s, r9=1, **{f"r{i}": 5 for i in range(8)})
    assert s.timer("contend").delay == CONTROLS.contend_max


def test_a_standby_of_priority_0_never_queues_even_alone() -> None:
    s = script(priority=0)
    s.send(ev.Started())
    s.send(ev.SessionConnected(session_id=SESSION))
    s.none(fx.ReadMembers)  # others' priorities are moot
    s.answer(s.last(fx.Connect), ev.ConnectResult, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    control(s)
    for _ in range(3):
        s.fire(s.last_timer("attempt"))
        s.none(fx.CreateNode)
        s.none(fx.ReadQueue)
    assert s.name is ATTEMPTER
    assert not [e for _, effects in s.history for e in effects if isinstance(e, fx.CreateNode)]


def test_a_failed_read_of_the_controls_holds_the_head_and_is_tried_again_on_the_next_tick() -> None:
    s = script()
    s.send(ev.Started())
    s.send(ev.SessionConnected(session_id=SESSION))
    s.answer(s.last(fx.Connect), ev.ConnectResult, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    s.answer(s.last(fx.ReadControl), ev.ControlRead, outcome=Outcome.FAILED, reason="x")
    published(s)  # the claim: our node is asked for
    joined(s, ours(s))
    members(s, r1=1)
    assert s.name is ATTEMPTER
    s.fire(s.last_timer("attempt"))
    s.one(fx.ReadControl)  # tried again
    control(s)
    assert s.name is LEADER


def test_a_reconnect_reads_the_controls_again() -> None:
    s = to_leader(script())
    s.send(ev.SessionSuspended())
    s.send(ev.SessionConnected(session_id=SESSION))
    s.one(fx.ReadControl)


def test_a_higher_priority_that_moved_back_behind_us_is_no_longer_taken_for_gone() -> None:
    # rb (priority 2) was ahead of us, moved to the back for a higher one, and queued
    # again behind us: when we reach the head, it comes forward (a leave and a return).
    s = to_candidate(script())
    head, rb = other("rc", 1, priority=3), other("rb", 2, priority=2)
    joined(s, head, rb, ours(s))
    s.send(ev.NodeWatchFired(path=node_path(rb), kind="DELETED"))  # rb moves back
    queue(s, head, ours(s))  # read before its new node is made: rb left, for all we know
    members(s, r1=1, rb=2, rc=3)
    s.send(ev.NodeWatchFired(path=node_path(head), kind="DELETED"))  # rc goes
    assert s.name is ATTEMPTER  # rb is live and of a higher priority: has it queued?
    queue(s, ours(s), other("rb", 9, priority=2))
    assert s.name is ATTEMPTER
    s.one(fx.ReleaseNode)  # it has: we move to the back, and it comes forward


def test_the_next_in_line_leads_on_the_deletion_only_while_an_answer_proves_its_session() -> None:
    # The queue read that made us next in line was sent at 0; the server heard from our
    # session then, and cannot have expired it within a third of the timeout from then.
    fresh = CONTROLS.answers_fresh_for
    s = to_candidate(script())
    below = other("ra", 1)
    joined(s, below, ours(s))
    members(s, r1=1, ra=1)
    s.send(ev.NodeWatchFired(path=node_path(below), kind="DELETED", at=fresh / 2))
    assert s.name is LEADER  # no request first: the proof is fresh

    # The same, but the news is handled long after the last answered request (a process
    # frozen past its session, say): the notification proves nothing about the session.
    s = to_candidate(script())
    joined(s, below, ours(s))
    members(s, r1=1, ra=1)
    late = fresh + 1.0
    s.send(ev.NodeWatchFired(path=node_path(below), kind="DELETED", at=late, answered_at=late))
    assert s.name is ATTEMPTER
    read = s.one(fx.ReadQueue)
    s.none(fx.StartChild)
    # Its answer proves the session (sent now): we lead on it.
    s.answer(read, ev.QueueRead, outcome=Outcome.OK, names=(ours(s),), at=late, asked_at=late)
    assert s.name is LEADER

    # The adapter's proof with the news (an `exists` of our node, sent as it arrived and
    # answered): no read of the queue either.
    s = to_candidate(script())
    joined(s, below, ours(s))
    members(s, r1=1, ra=1)
    s.send(
        ev.NodeWatchFired(
            path=node_path(below), kind="DELETED", at=late, answered_at=late, proven_at=late
        )
    )
    assert s.name is LEADER
    s.none(fx.ReadQueue)


def test_an_answer_to_a_request_sent_before_a_freeze_proves_nothing() -> None:
    # Asked at 0, the process frozen before the answer was taken from the socket: it
    # arrives (and is stamped) fresh at wake, but the session may have expired in between.
    fresh = CONTROLS.answers_fresh_for
    s = to_candidate(script())
    s.answer(s.last(fx.CreateNode), ev.NodeCreated, outcome=Outcome.OK, token=TOKEN,
             path=node_path(ours(s)), asked_at=0.0)  # fmt: skip
    wake = 3 * fresh
    s.answer(s.last(fx.ReadQueue), ev.QueueRead, outcome=Outcome.OK, names=(ours(s),),
             asked_at=0.0, answered_at=wake, at=wake)  # fmt: skip
    s.answer(s.last(fx.ReadMembers), ev.MembersRead, outcome=Outcome.OK, replicas=("r1",),
             priorities=(1,), at=wake)  # fmt: skip
    assert s.name is ATTEMPTER  # not on that answer
    again = s.one(fx.ReadQueue)
    s.answer(again, ev.QueueRead, outcome=Outcome.OK, names=(ours(s),), at=wake, asked_at=wake)
    assert s.name is LEADER
