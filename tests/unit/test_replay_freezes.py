"""election-replay recognises a frozen replica by a timer that fired far too late."""

from __future__ import annotations

from election.core import effects as fx
from election.core import events as ev
from election_replay.freezes import FreezeDetector, clip_frozen_terms
from election_replay.model import Term, Where


def _where(wall: float, seq: int) -> Where:
    return Where(replica="a", journal="a.jsonl", line=seq + 1, seq=seq, wall=wall)


def _detect(fired_at: float) -> FreezeDetector:
    detector = FreezeDetector("a")
    detector.begin_run(session_timeout=2.0)
    start = fx.StartTimer(name="write", id=7, delay=1.0)
    detector.observe(_where(100.0, 1), 10.0, ev.Started(), "Leader", (start,))
    late = ev.TimerFired(name="write", id=7)
    detector.observe(_where(100.0 + fired_at - 10.0, 2), fired_at, late, "Leader", ())
    return detector


def test_a_timer_on_time_is_no_freeze() -> None:
    assert _detect(fired_at=11.2).freezes == []


def test_a_timer_later_than_two_thirds_of_the_session_timeout_is_a_freeze() -> None:
    (freeze,) = _detect(fired_at=16.0).freezes
    assert (freeze.start, freeze.end, freeze.leader) == (101.0, 106.0, True)


def test_a_frozen_leaders_term_counts_as_ended_when_it_froze() -> None:
    freezes = _detect(fired_at=16.0).freezes
    began = _where(95.0, 0)
    term = Term(
        replica="a", token=5, start=95.0, end=107.0, began=began, ended=None, last_seen=107.0
    )
    (clipped,), notes = clip_frozen_terms([term], freezes)
    assert clipped.end == 101.0 and clipped.until == 101.0
    assert len(notes) == 1 and "frozen" in notes[0] and "token 5" in notes[0]
    other = Term(
        replica="b", token=9, start=95.0, end=107.0, began=began, ended=None, last_seen=107.0
    )
    assert clip_frozen_terms([other], freezes) == ([other], [])
