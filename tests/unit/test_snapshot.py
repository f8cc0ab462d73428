"""State snapshots in rotated journal segments, and `election-replay` over a rotated set.

The journals are genuine (today's reducer, driven by `Replica`), written by the journal
writer with rotation on and the daemon's snapshot header, then replayed.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from election.core import effects as fx
from election.core import events as ev
from election.core.state import State
from election.record_codec import (
    record_to_json,
    snapshot_from_header,
    snapshot_header,
    state_from_json,
    state_to_json,
)
from election_replay import ReplayError, analyse
from election_replay.cli import main
from election_replay.model import Analysis
from journal import CodecError, JournalWriter, journal_segments, read_journal
from tests.unit.core_script import to_attempter, to_failover, to_leader, to_stopping
from tests.unit.test_replay import T0, Replica, header_config

# --- the snapshot ---------------------------------------------------------------------


@pytest.mark.parametrize("drive", [to_attempter, to_leader, to_failover, to_stopping])
def test_a_real_state_survives_a_json_round_trip(drive: Any) -> None:
    state = drive().state
    data = orjson.loads(orjson.dumps(snapshot_header(41, state)))
    assert snapshot_from_header(data) == (41, state)
    assert state_from_json(state_to_json(state)) == state


def test_the_snapshot_holds_the_whole_state_readably() -> None:
    state = to_leader(token=77).state
    data = state_to_json(state)
    assert data["name"] == "Leader" and data["token"] == 77
    assert data["config"]["replica"] == "r1"
    assert [name for name, _ in data["timers"]] == ["write"]


def test_a_header_without_a_snapshot_has_none() -> None:
    assert snapshot_from_header({"journal": "election"}) is None


@pytest.mark.parametrize(
    ("snapshot", "problem"),
    [
        ([], "expected an object"),
        ({"seq": "3", "state": {}}, "'seq' must be an int"),
        ({"seq": 3, "state": {"type": "State", "name": "Boss"}}, "name"),
        ({"seq": 3, "state": {"type": "Started"}}, "unknown type"),
    ],
)
def test_a_damaged_snapshot_is_a_codec_error(snapshot: object, problem: str) -> None:
    with pytest.raises(CodecError, match=problem):
        snapshot_from_header({"snapshot": snapshot})


# --- replaying a rotated set ----------------------------------------------------------


class Recorder(Replica):
    """A `Replica` that also keeps the state after each record, for the snapshots."""

    def __init__(self, name: str, start: float = T0) -> None:
        super().__init__(name, start)
        self.states: list[State] = []

    def send(self, event: ev.Event) -> tuple[fx.Effect, ...]:
        effects = super().send(event)
        self.states.append(self.state)
        return effects


def header(replica: str, started: float = T0) -> dict[str, Any]:
    return {
        "replica": replica,
        "program": "election 0.1.0",
        "started_wall": started,
        "config": header_config(replica),
        "pid": 4242,
    }


def busy_leader() -> Recorder:
    """A replica that leads for a while (many records) and stops."""
    r = Recorder("a").lead(10)
    for _ in range(25):
        r.tick()
    r.stop()
    return r  # type: ignore[return-value]


def write(path: Path, r: Recorder, **rotation: Any) -> JournalWriter:
    writer = JournalWriter(
        path,
        header(r.name_),
        fsync=False,
        segment_header=lambda seq: snapshot_header(seq, r.states[seq - 1]),
        **rotation,
    )
    for rec in r.records:
        writer.append(record_to_json(rec))
    writer.close()
    return writer


def rotated(tmp_path: Path, r: Recorder, keep: int = 50) -> list[Path]:
    path = tmp_path / "rotated" / "a.jsonl"
    assert write(path, r, max_bytes=2000, keep=keep).rotations >= 4
    return journal_segments(path)


def whole(tmp_path: Path, r: Recorder) -> Path:
    path = tmp_path / "whole" / "a.jsonl"
    write(path, r)
    return path


def essence(analysis: Analysis) -> dict[str, Any]:
    """What a replay concluded, without the file names and lines it found it at."""
    (journal,) = analysis.journals
    return {
        "events": analysis.events,
        "ok": analysis.ok,
        "terms": [(t.replica, t.token, t.start, t.end) for t in analysis.terms],
        "segments": journal.segments,
        "runs": journal.runs,
        "state": None if journal.snapshot is None else journal.snapshot.as_json(),
    }


def test_a_rotated_set_replays_as_the_one_big_journal_would(tmp_path: Path) -> None:
    r = busy_leader()
    files = rotated(tmp_path, r)
    together = analyse(files)
    assert together.ok and together.notes == ()
    assert essence(together) == essence(analyse([whole(tmp_path, r)]))
    (journal,) = together.journals
    assert journal.journal == str(files[-1]) and journal.files == tuple(map(str, files))


def test_segments_may_be_given_in_any_order(tmp_path: Path) -> None:
    r = busy_leader()
    files = rotated(tmp_path, r)
    shuffled = files[:]
    random.Random(7).shuffle(shuffled)
    assert shuffled != files
    assert essence(analyse(shuffled)) == essence(analyse(files))
    assert analyse(shuffled).journals[0].files == tuple(map(str, files))


def test_until_counts_seq_across_segments(tmp_path: Path) -> None:
    r = busy_leader()
    files = rotated(tmp_path, r)
    late = read_journal(files[-2]).runs[0].records[0]["seq"]  # a seq in a later segment
    assert late > read_journal(files[0]).runs[0].records[-1]["seq"]
    snap = analyse(files, until=late).journals[0].snapshot
    assert snap is not None and snap.seq == late
    assert snap.name == r.states[late - 1].name.value


def test_a_set_whose_oldest_segments_were_deleted_replays_from_the_snapshot(
    tmp_path: Path,
) -> None:
    r = busy_leader()
    files = rotated(tmp_path, r)
    newest = files[2:]
    analysis = analyse(newest)
    assert analysis.ok
    assert any("starts at segment 2" in note for note in analysis.notes)
    first_seq = read_journal(newest[0]).runs[0].header["snapshot"]["seq"]
    assert analysis.events == len(r.records) - first_seq


def test_a_missing_middle_segment_is_a_note_and_the_replay_resumes(tmp_path: Path) -> None:
    r = busy_leader()
    files = rotated(tmp_path, r)
    gone = read_journal(files[2]).runs[0].records
    analysis = analyse(files[:2] + files[3:])
    assert analysis.ok, (analysis.divergences, analysis.violations)
    (note,) = [n for n in analysis.notes if "missing" in n]
    assert f"seq {gone[0]['seq']}..{gone[-1]['seq']} not replayed" in note
    assert analysis.events == len(r.records) - len(gone)
    assert len(analysis.journals) == 1


def test_a_snapshot_that_disagrees_with_the_fold_is_a_divergence(tmp_path: Path) -> None:
    r = busy_leader()
    files = rotated(tmp_path, r)
    lines = files[1].read_bytes().splitlines(keepends=True)
    head = orjson.loads(lines[0])
    head["snapshot"]["state"]["next_id"] += 1000  # hand-edited
    files[1].write_bytes(orjson.dumps(head) + b"\n" + b"".join(lines[1:]))
    analysis = analyse(files)
    (div,) = analysis.divergences
    assert (div.where.journal, div.where.line, div.fields) == (str(files[1]), 1, ("snapshot",))
    assert list(div.recorded["snapshot"]) == ["next_id"]
    assert div.recorded["snapshot"]["next_id"] == div.expected["snapshot"]["next_id"] + 1000
    result = CliRunner().invoke(main, [str(f) for f in files])
    assert result.exit_code == 1 and "DIVERGENCE" in result.stdout


def test_a_snapshot_seq_that_does_not_join_its_neighbour_is_unreadable(tmp_path: Path) -> None:
    r = busy_leader()
    files = rotated(tmp_path, r)
    lines = files[1].read_bytes().splitlines(keepends=True)
    head = orjson.loads(lines[0])
    head["snapshot"]["seq"] -= 1
    files[1].write_bytes(orjson.dumps(head) + b"\n" + b"".join(lines[1:]))
    with pytest.raises(ReplayError) as caught:
        analyse(files)
    assert (caught.value.path, caught.value.line) == (str(files[1]), 1)
    result = CliRunner().invoke(main, [str(f) for f in files])
    assert result.exit_code == 2 and "segment 1 continues after seq" in result.stderr


def test_the_same_segment_given_twice_is_refused(tmp_path: Path) -> None:
    r = busy_leader()
    files = rotated(tmp_path, r)
    copy = tmp_path / "copy.jsonl"
    shutil.copy(files[1], copy)
    with pytest.raises(ReplayError, match="segment 1 of this run is also in"):
        analyse([*files, copy])


def test_a_restart_after_rotation_replays_as_two_runs_of_one_journal(tmp_path: Path) -> None:
    first = busy_leader()
    second = Recorder("a", start=first.wall + 5)
    second.lead(11)
    for _ in range(25):
        second.tick()
    path = tmp_path / "a.jsonl"
    write(path, first, max_bytes=2000, keep=100)
    # The restarted daemon: a new run header, appended to the live file.
    writer = JournalWriter(
        path,
        header("a", started=first.wall + 5),
        fsync=False,
        max_bytes=2000,
        keep=100,
        segment_header=lambda seq: snapshot_header(seq, second.states[seq - 1]),
    )
    for rec in second.records:
        writer.append(record_to_json(rec))
    writer.close()
    files = journal_segments(path)
    analysis = analyse(list(reversed(files)))
    assert analysis.ok, (analysis.divergences, analysis.violations)
    (journal,) = analysis.journals
    assert journal.runs == 2 and analysis.events == len(first.records) + len(second.records)
    assert [t.token for t in analysis.terms] == [10, 11]
