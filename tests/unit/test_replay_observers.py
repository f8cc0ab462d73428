"""election-replay's per-record observers, fed records directly.

`ReplicaChecks`, `WorkLog`, `FreezeDetector` and `History` are called once per journal
record: these pin what each one makes of the less common records (the grace of a leader
file landing just after Leader, a cancelled timer, a foreign or failed write, a new token
while Leader) and that every concrete event and effect type is final, which their
exact-type dispatch relies on.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.leaderfiles import leader_file_name
from election_replay.freezes import FreezeDetector
from election_replay.invariants import ReplicaChecks
from election_replay.model import Where
from election_replay.terms import History
from election_replay.work import WorkLog

NAME = leader_file_name(7, 1)


class Feed:
    """Records for one replica, one second of wall time apart."""

    def __init__(self) -> None:
        self.seq = 0

    def where(self) -> Where:
        self.seq += 1
        return Where(
            replica="a", journal="a.jsonl", line=self.seq + 1, seq=self.seq, wall=float(self.seq)
        )


def _checks(
    records: Sequence[tuple[ev.Event, str, tuple[fx.Effect, ...]]],
) -> list[tuple[str, int]]:
    """Violations (kind, seq) of `ReplicaChecks` over records of (event, state, effects)."""
    checks, feed = ReplicaChecks("a"), Feed()
    checks.begin_run()
    for event, state, effects in records:
        checks.observe(feed.where(), event, state, effects)
    return [(v.kind, v.records[0].seq) for v in checks.violations]


CONNECTED = (ev.SessionConnected(session_id=1), "Attempter", ())
WRITE = fx.WriteLeaderFile(request=5, token=7, seq=1, replica="a")
ASKED_AS_LEADER = (ev.NodeRead(request=4, outcome=Outcome.OK), "Leader", (WRITE,))
LANDED = (ev.FileWritten(request=5, outcome=Outcome.OK, name=NAME), "Attempter", ())
LEFT_LEADER = (ev.NodeWatchFired(path="/e", kind="DELETED"), "Attempter", ())


def test_a_file_asked_for_as_leader_may_land_just_after_leader() -> None:
    assert _checks([CONNECTED, ASKED_AS_LEADER, LEFT_LEADER, LANDED]) == []


@pytest.mark.parametrize(
    "letting_go",
    [
        (
            ev.TimerFired(name="t", id=1),
            "Attempter",
            (fx.ReleaseNode(request=6, path="/e", token=7),),
        ),
        (ev.StopRequested(), "Stopping", (fx.CloseSession(request=6),)),
        (ev.SessionLost(), "Attempter", ()),
    ],
    ids=["node-released", "session-closed", "session-lost"],
)
def test_a_file_landing_after_the_node_was_let_go_is_a_violation(
    letting_go: tuple[ev.Event, str, tuple[fx.Effect, ...]],
) -> None:
    found = _checks([CONNECTED, ASKED_AS_LEADER, LEFT_LEADER, letting_go, LANDED])
    assert ("file-written-outside-leader", 5) in found


def test_leading_again_restores_the_grace_of_files_asked_for_as_leader() -> None:
    released = (ev.SessionLost(), "Attempter", ())
    again = (ev.NodeRead(request=8, outcome=Outcome.OK), "Leader", ())
    assert (
        _checks([CONNECTED, ASKED_AS_LEADER, released, CONNECTED, again, LEFT_LEADER, LANDED]) == []
    )


def test_a_file_never_asked_for_as_leader_landing_outside_leader_is_a_violation() -> None:
    stranger = (ev.FileWritten(request=9, outcome=Outcome.OK, name=NAME), "Attempter", ())
    failed = (ev.FileWritten(request=9, outcome=Outcome.FAILED, name=NAME), "Attempter", ())
    assert _checks([CONNECTED, ASKED_AS_LEADER, LEFT_LEADER, failed, stranger]) == [
        ("file-written-outside-leader", 5)
    ]


def test_writes_asked_for_outside_leader_are_one_violation_naming_the_first() -> None:
    second = fx.WriteLeaderFile(request=6, token=8, seq=2, replica="a")
    checks, feed = ReplicaChecks("a"), Feed()
    checks.observe(feed.where(), ev.TimerFired(name="t", id=1), "Attempter", (WRITE, second))
    (violation,) = checks.violations
    assert violation.kind == "write-outside-leader"
    assert "token 7, seq 1" in violation.message and "state Attempter" in violation.message


def test_leader_while_disconnected_is_flagged_once_per_episode() -> None:
    lead = (ev.NodeRead(request=4, outcome=Outcome.OK), "Leader", ())
    suspended = (ev.SessionSuspended(), "Leader", ())
    found = _checks([CONNECTED, lead, suspended, lead, lead, CONNECTED, lead, suspended, lead])
    assert found == [("leader-while-disconnected", 3), ("leader-while-disconnected", 8)]


def test_only_ok_writes_of_our_file_names_are_collected() -> None:
    work, feed = WorkLog("a"), Feed()
    for name, outcome in ((NAME, Outcome.OK), ("notes.txt", Outcome.OK), (NAME, Outcome.FAILED)):
        work.observe(feed.where(), ev.FileWritten(request=1, outcome=outcome, name=name), ())
    assert [(w.token, w.seq, w.name, w.where.seq) for w in work.writes] == [(7, 1, NAME, 1)]


@pytest.mark.parametrize(
    "started",
    [
        ev.ChildStarted(request=4, outcome=Outcome.FAILED, pid=99),
        ev.ChildStarted(request=4, outcome=Outcome.OK, pid=None),
    ],
    ids=["failed", "no-pid"],
)
def test_a_job_that_did_not_start_is_no_run(started: ev.ChildStarted) -> None:
    work, feed = WorkLog("a"), Feed()
    start = fx.StartChild(request=4, token=7, command=("job",))
    work.observe(feed.where(), ev.NodeCreated(request=3, outcome=Outcome.OK), (start,))
    work.observe(feed.where(), started, ())
    work.observe(feed.where(), ev.ChildExited(pid=99, code=1), ())
    assert work.finish() == ()


def test_a_cancelled_timer_firing_late_is_no_freeze() -> None:
    detector, feed = FreezeDetector("a"), Feed()
    detector.begin_run(session_timeout=2.0)
    detector.observe(
        feed.where(), 10.0, ev.Started(), "Leader", (fx.StartTimer(name="t", id=3, delay=1.0),)
    )
    detector.observe(
        feed.where(),
        10.5,
        ev.NodeRead(request=1, outcome=Outcome.OK),
        "Leader",
        (fx.CancelTimer(name="t", id=3),),
    )
    detector.observe(feed.where(), 30.0, ev.TimerFired(name="t", id=3), "Leader", ())
    assert detector.freezes == []


def test_a_late_timer_is_a_freeze_of_a_follower_when_not_leader() -> None:
    detector, feed = FreezeDetector("a"), Feed()
    detector.begin_run(session_timeout=2.0)
    start = fx.StartTimer(name="t", id=3, delay=1.0)
    detector.observe(
        feed.where(), 10.0, ev.Started(), "Attempter", (fx.ReadNode(request=1, path="/e"), start)
    )
    detector.observe(feed.where(), 30.0, ev.TimerFired(name="t", id=3), "Leader", ())
    (freeze,) = detector.freezes
    assert (freeze.start, freeze.end, freeze.leader, freeze.where.seq) == (2.0, 2.0, False, 2)


def test_a_new_token_while_leader_ends_one_term_and_begins_the_next() -> None:
    history, feed = History("a"), Feed()
    history.begin_run()
    for state, token in (
        ("Attempter", None),
        ("Leader", 5),
        ("Leader", 5),
        ("Leader", 6),
        ("Attempter", None),
    ):
        history.observe(feed.where(), state, token, {"type": "NodeRead"})
    history.finish()
    assert [(t.token, t.start, t.end) for t in history.terms] == [(5, 2.0, 4.0), (6, 4.0, 5.0)]
    assert [(s.state, s.start, s.end) for s in history.segments] == [
        ("Attempter", 1.0, 2.0),
        ("Leader", 2.0, 5.0),
        ("Attempter", 5.0, 5.0),
    ]


@pytest.mark.parametrize("base", [ev.Event, fx.Effect], ids=["events", "effects"])
def test_no_event_or_effect_type_subclasses_another(base: type) -> None:
    concrete = ev.EVENT_TYPES if base is ev.Event else fx.EFFECT_TYPES
    assert all(cls.__subclasses__() == [] for cls in concrete)
    assert all(base in cls.__bases__ for cls in concrete)
