"""Why each leadership term ended (`end_cause`): the table, genuine journals that end
each way, and crashes told as crashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election_replay import analyse
from election_replay.causes import CAUSES, TABLE, asked_by, end_cause
from election_replay.model import Where
from election_replay.terms import History
from election_sim import Fault, SimConfig, simulate
from tests.unit.core_script import lead, to_attempter
from tests.unit.test_replay import T0, Replica, write_run


@pytest.mark.parametrize(
    ("event", "cause"),
    [
        ({"type": "StopRequested", "signal": "SIGTERM"}, "stop"),
        # The operator's controls (issue 14), as a newer daemon journals them.
        ({"type": "ControlRead", "request": 9, "outcome": "ok", "paused": True}, "pause"),
        ({"type": "ControlRead", "request": 9, "outcome": "ok", "paused": False}, "handover"),
        ({"type": "ControlRead", "request": 9, "outcome": "ok"}, "handover"),
        ({"type": "SessionSuspended"}, "session"),
        ({"type": "SessionLost"}, "session"),
        ({"type": "FileWritten", "outcome": "failed", "newer_token": 12}, "superseded"),
        ({"type": "FileWritten", "outcome": "failed", "newer_token": None}, "write-failed"),
        ({"type": "FileWritten", "outcome": "unknown"}, "write-failed"),
        ({"type": "ChildExited", "pid": 7, "code": 1}, "job-exit"),
        ({"type": "ChildStarted", "request": 3, "outcome": "failed"}, "job-exit"),
        ({"type": "ChildLeaseExpired", "pid": 7}, "lease"),
        ({"type": "NodeWatchFired", "path": "/e", "kind": "DELETED"}, "node-lost"),
        ({"type": "NodeRead", "request": 4, "outcome": "ok", "exists": False}, "node-lost"),
        ({"type": "Teleported"}, "other"),
    ],
)
def test_the_table_names_the_cause_from_the_event_as_journaled(
    event: dict[str, Any], cause: str
) -> None:
    assert end_cause(event) == cause


def test_every_cause_of_the_table_is_in_the_vocabulary() -> None:
    assert {cause for _, _, cause in TABLE} <= set(CAUSES)
    assert {"stop", "handover", "pause", "session", "superseded", "job-exit", "crash"} <= set(
        CAUSES
    )


def test_a_hand_written_control_read_ends_a_term_as_a_pause() -> None:
    """Leader -> Attempter on the operator's ControlRead (an event of issue 14, not yet in
    this reducer): the terms come from the recorded states, the cause from the line."""
    history = History("a")
    history.begin_run()
    line = {"type": "ControlRead", "request": 11, "outcome": "ok", "paused": True}
    for seq, (state, token, event) in enumerate(
        [
            ("Attempter", None, {"type": "SessionConnected", "session_id": 1}),
            ("Leader", 7, {"type": "NodeCreated", "request": 5, "outcome": "ok", "token": 7}),
            ("Attempter", None, line),
        ],
        1,
    ):
        history.observe(Where("a", "a.jsonl", seq + 1, seq, T0 + seq), state, token, event)
    history.finish()
    (term,) = history.terms
    assert (term.token, term.end, term.end_cause) == (7, T0 + 3, "pause")


def test_a_graceful_stop_is_stop_and_the_last_leader_is_still_leading(tmp_path: Path) -> None:
    a = Replica("a").lead(10).tick()
    b = Replica("b", start=T0 + 0.005).wait()
    a.at(T0 + 3.0).stop()
    b.at(a.wall + 0.01).lead(12)
    analysis = analyse([a.write(tmp_path), b.write(tmp_path)])
    first, second = analysis.terms
    assert (first.end_cause, first.end_event) == ("stop", "StopRequested")
    assert (second.end, second.end_cause) == (None, None)
    assert first.as_json()["end_cause"] == "stop" and second.as_json()["end_cause"] is None


def test_a_suspended_session_ends_the_term_as_session(tmp_path: Path) -> None:
    a = Replica("a").lead(10)
    a.send(ev.SessionSuspended())
    (term,) = analyse([a.write(tmp_path)]).terms
    assert term.end_cause == "session"


def test_a_newer_token_in_file_dir_ends_the_term_as_superseded(tmp_path: Path) -> None:
    a = Replica("a")
    to_attempter(a)
    lead(a, 10)
    a.answer(a.last(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.FAILED, newer_token=12)
    assert a.state.name.value == "Failover"
    (term,) = analyse([a.write(tmp_path)]).terms
    assert term.end_cause == "superseded"


def test_a_leader_killed_while_another_takes_over_is_a_crash(tmp_path: Path) -> None:
    """The journal of a SIGKILLed leader ends while Leader: its term ends at its last
    record, a crash, and the hand-over's gap is measured to its successor."""
    a = Replica("a").lead(10).tick()  # killed here: no Stopping
    b = Replica("b", start=T0 + 0.005).wait()
    b.at(a.wall + 4.0).lead(12)  # the session expired, b took the node
    analysis = analyse([a.write(tmp_path), b.write(tmp_path)])
    crashed, successor = analysis.terms
    assert crashed.end == pytest.approx(a.wall) and crashed.end_cause == "crash"
    assert crashed.end is not None and crashed.end <= successor.start
    assert successor.end_cause is None
    assert crashed.ended is not None and crashed.ended.seq == a.records[-1].seq
    (gap,) = analysis.handovers
    assert gap.gap == pytest.approx(successor.start - a.wall)
    (note,) = [n for n in analysis.notes if "a crash" in n]
    assert "its true end lies between that last record and" in note


def test_a_journal_ending_while_leader_with_a_later_run_elsewhere_is_a_crash(
    tmp_path: Path,
) -> None:
    """Two files of one replica: the first ends while Leader, the second is a later run."""
    first = Replica("a").lead(10)
    later = Replica("a", start=first.wall + 60).wait()
    write_run(tmp_path / "monday.jsonl", "a", first.lines())
    write_run(tmp_path / "tuesday.jsonl", "a", later.lines())
    (term,) = analyse([tmp_path / "monday.jsonl", tmp_path / "tuesday.jsonl"]).terms
    assert term.end == pytest.approx(first.wall) and term.end_cause == "crash"


def test_a_run_that_ended_while_leader_before_a_restart_is_a_crash(tmp_path: Path) -> None:
    first = Replica("a").lead(10)
    second = Replica("a", start=first.wall + 5).lead(14).stop()
    path = first.write(tmp_path)
    write_run(path, "a", second.lines())
    crashed, restarted = analyse([path]).terms
    assert (crashed.end_cause, restarted.end_cause) == ("crash", "stop")


def test_a_lone_leader_at_the_end_of_every_journal_is_still_leading(tmp_path: Path) -> None:
    a = Replica("a").lead(10).tick()
    (term,) = analyse([a.write(tmp_path)]).terms
    assert (term.end, term.end_cause) == (None, None)


def test_simulated_handovers_and_pauses_end_terms_as_handover_and_pause(tmp_path: Path) -> None:
    """The operator's controls through today's core, on the simulator: each term an
    operator ended says which control did it."""
    result = simulate(
        SimConfig(seed=2, duration=120.0, faults=frozenset({Fault.HANDOVER, Fault.OPERATOR_PAUSE})),
        tmp_path,
    )
    analysis = analyse(result.journals)
    assert analysis.ok
    by_control = {t.end_cause for t in analysis.terms if t.end_event == "ControlRead"}
    assert by_control == {"handover", "pause"}
    assert all(t.end_event == "ControlRead" for t in analysis.terms if t.end_cause == "pause")
    # Who asked: the simulator's operator, and for a hand-over to whom.
    asked = {t.end_detail for t in analysis.terms if t.end_event == "ControlRead"}
    assert all(d.startswith("by sim-operator") for d in asked), asked
    assert any(", to r" in d for d in asked)
    handed = next(t for t in analysis.terms if t.end_cause == "handover")
    assert handed.as_json()["end_detail"] == handed.end_detail
    assert any(f"by a handover asked {handed.end_detail}" in n for n in analysis.notes)


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        (
            {"type": "ControlRead", "paused": True, "paused_by": "ana", "pause_reason": "upgrade"},
            "by ana: upgrade",
        ),
        (
            {"type": "ControlRead", "paused": False, "handover_by": "ana", "handover_to": "r1"},
            "by ana, to r1",
        ),
        ({"type": "ControlRead", "paused": False, "handover_by": "ana"}, "by ana"),
        ({"type": "StopRequested", "signal": "SIGTERM"}, ""),
    ],
)
def test_an_operators_end_says_who_asked(event: dict[str, Any], detail: str) -> None:
    assert asked_by(event) == detail
