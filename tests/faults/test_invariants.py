"""The fault suite's checker itself: it must catch what it is meant to catch."""

from __future__ import annotations

from tests.faults.invariants import (
    Write,
    _overlap_did_work,
    leaderless_gaps,
    write_order_violations,
)


def w(token: int, seq: int, at: float, replica: str = "r0", done: float | None = None) -> Write:
    return Write(token, seq, replica, at, at if done is None else done, "journal")


def test_an_old_token_written_after_the_first_newer_file_is_a_violation() -> None:
    writes = [w(5, 1, 10.0), w(5, 2, 10.2), w(7, 1, 11.0, "r1"), w(5, 3, 11.5)]
    (found,) = write_order_violations(writes)
    assert "r0 wrote token 5 seq 3" in found and "newer token 7" in found


def test_terms_in_order_pass_even_when_a_write_was_asked_before_and_finished_after() -> None:
    # Asked for at 10.9 (before the newer file), completed at 11.2: judged by the files.
    writes = [w(5, 1, 10.0), w(5, 2, 10.9, done=11.2), w(7, 1, 11.0, "r1"), w(7, 2, 11.2, "r1")]
    assert write_order_violations(writes) == []


def test_an_overlap_is_tolerated_only_when_the_older_term_did_no_work_in_it() -> None:
    violation = {
        "records": [
            {"replica": "r0", "wall": 10.0},  # the older term began
            {"replica": "r1", "wall": 12.0},  # the newer began
            {"replica": "r0", "wall": 14.0},  # the older ended (resumed from a pause)
        ]
    }
    assert _overlap_did_work(violation, [w(5, 1, 11.0), w(7, 1, 12.5, "r1")]) == []
    assert _overlap_did_work(violation, [w(5, 2, 13.0)]) == [w(5, 2, 13.0)]


def test_leaderless_gaps_longest_first() -> None:
    gaps = leaderless_gaps([w(5, 1, 1.0), w(5, 2, 1.2), w(7, 1, 3.7, "r1"), w(7, 2, 3.9, "r1")])
    assert gaps[0] == (1.2, 2.5)
