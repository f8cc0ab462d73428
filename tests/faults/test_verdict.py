"""The fault suite's verdict is `election-replay`'s, as it stands; the file witness and
the measures beside it judge nothing of their own."""

from __future__ import annotations

import json
from pathlib import Path

from election.core.leaderfiles import leader_file_name
from election_testkit.filedir import FileDirRecorder
from election_testkit.measures import Write, leaderless_gaps
from election_testkit.verdict import judge
from tests.unit.test_replay import T0, Replica, handover


def w(token: int, seq: int, at: float, replica: str = "r0", done: float | None = None) -> Write:
    return Write(token, seq, replica, at, at if done is None else done)


def test_a_clean_handover_is_a_clean_verdict(tmp_path: Path) -> None:
    verdict = judge(handover(tmp_path))
    assert verdict.ok and verdict.violations == [], verdict.explain()
    assert verdict.replay["events"] > 0


def test_the_replays_violations_are_the_verdict_unfiltered(tmp_path: Path) -> None:
    a = Replica("a").lead(10).tick()
    b = Replica("b", start=T0 + 0.5).lead(12)
    a.at(T0 + 1.0).tick()  # a leader file of a's lands while b leads
    b.at(T0 + 1.5).tick()
    a.at(T0 + 2.0).stop()
    verdict = judge([a.write(tmp_path), b.write(tmp_path)])
    assert not verdict.ok
    assert [line.split(":")[0] for line in verdict.violations] == ["overlapping-leaders"]
    assert verdict.violations[0] in verdict.explain()


def test_a_file_on_disk_that_no_journal_asked_for_is_reported(tmp_path: Path) -> None:
    journals = handover(tmp_path)
    files = tmp_path / "files"
    files.mkdir()
    asked = leader_file_name(10, 1)  # a's first file: its journal asked for it
    stray = leader_file_name(11, 1)  # no journal holds token 11
    for name, replica, token in ((asked, "a", 10), (stray, "c", 11)):
        (files / name).write_text(json.dumps({"replica": replica, "token": token, "seq": 1}))
    recorder = FileDirRecorder(files)
    recorder.sample()
    verdict = judge(journals, recorder)
    assert verdict.unjournaled == (f"{stray} (replica c)",)
    assert not verdict.ok and verdict.violations == []  # the replay itself found nothing


def test_leaderless_gaps_longest_first() -> None:
    gaps = leaderless_gaps([w(5, 1, 1.0), w(5, 2, 1.2), w(7, 1, 3.7, "r1"), w(7, 2, 3.9, "r1")])
    assert gaps[0] == (1.2, 2.5)
