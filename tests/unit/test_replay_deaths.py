"""election-replay and the keepers' records: a crashed term ends at the death, how it
died beside it; a dead daemon's job ends when its keeper saw it gone; without a record,
a job's end is bounded by the next job's start and no overlap is claimed past it."""

from __future__ import annotations

import json
from pathlib import Path

from election_replay.deaths import (
    end_crashed_terms,
    is_keeper_file,
    keeper_files,
    read_deaths,
    settle_jobs,
)
from election_replay.model import JobRun, Term, Where
from election_replay.replay import analyse
from election_replay.work import job_overlap_notes

RUN = 1000.0


def _where(replica: str, wall: float) -> Where:
    return Where(replica=replica, journal=f"{replica}.jsonl", line=2, seq=1, wall=wall)


def _records(path: Path, *lines: dict[str, object]) -> Path:
    common = {"keeper": 1, "replica": "a", "host": "h", "daemon": 42, "run": RUN}
    path.write_text("".join(json.dumps({**common, **line}) + "\n" for line in lines))
    return path


def _death(path: Path) -> Path:
    return _records(
        path,
        {"type": "job-term", "wall": 1010.0, "pid": 7, "why": "the daemon is gone", "kill_in": 1},
        {"type": "died", "wall": 1010.0, "code": 137, "signal": "SIGKILL", "said": False,
         "job": {"pid": 7, "token": 5, "started": 1001.0}, "last_exit": None},
        {"type": "job-gone", "wall": 1010.2, "pid": 7, "code": 143, "signal": "SIGTERM",
         "ran_for": 9.2},
        {"type": "session-closed", "wall": 1010.21, "session": "0x1", "outcome": "closed"},
    )  # fmt: skip


def test_a_crashed_term_ends_at_the_death_with_how_it_died(tmp_path: Path) -> None:
    deaths = read_deaths([str(_death(tmp_path / "a.jsonl.keeper"))])
    term = Term(
        replica="a", token=5, start=1001.0, end=1009.0, began=_where("a", 1001.0),
        ended=_where("a", 1009.0), last_seen=1009.0, end_cause="crash", run=RUN,
    )  # fmt: skip
    (ended,), notes = end_crashed_terms([term], deaths)
    assert (ended.end, ended.end_cause, ended.end_detail) == (1010.0, "crash", "SIGKILL")
    (note,) = notes
    assert "a's daemon (pid 42) died" in note and "SIGKILL" in note
    assert "stopped job pid 7" in note and "closed its session" in note


def test_a_term_of_another_run_is_left_alone(tmp_path: Path) -> None:
    deaths = read_deaths([str(_death(tmp_path / "a.jsonl.keeper"))])
    term = Term(
        replica="a", token=5, start=1001.0, end=1009.0, began=_where("a", 1001.0),
        ended=_where("a", 1009.0), last_seen=1009.0, end_cause="stop", run=RUN + 1,
    )  # fmt: skip
    (same,), _ = end_crashed_terms([term], deaths)
    assert same == term


def test_a_dead_daemons_job_ends_when_its_keeper_saw_it_gone(tmp_path: Path) -> None:
    deaths = read_deaths([str(_death(tmp_path / "a.jsonl.keeper"))])
    job = JobRun(replica="a", pid=7, token=5, start=1001.0, end=None, end_known=False, run=RUN)
    (settled,) = settle_jobs([job], deaths)
    assert (settled.end, settled.end_known, settled.signal) == (1010.2, True, "SIGTERM")


def test_a_job_its_daemon_never_journaled_comes_from_the_record(tmp_path: Path) -> None:
    deaths = read_deaths([str(_death(tmp_path / "a.jsonl.keeper"))])
    (job,) = settle_jobs([], deaths)
    assert (job.pid, job.token, job.start, job.end, job.end_known) == (7, 5, 1001.0, 1010.2, True)


def test_an_unknown_end_is_bounded_by_the_next_job_and_no_overlap_is_claimed() -> None:
    dead = JobRun(replica="a", pid=7, token=5, start=1.0, end=None, end_known=False, run=RUN)
    same_term = JobRun(replica="a", pid=8, token=5, start=2.0, end=3.0, run=RUN)
    next_term = JobRun(replica="b", pid=9, token=6, start=4.0, end=None, end_known=False)
    settled = settle_jobs([dead, same_term, next_term], {})
    assert (settled[0].end, settled[0].end_known) == (4.0, False)  # not 2.0: the same term
    assert settled[0].ended_by.startswith("the next job's start")
    assert (settled[2].end, settled[2].end_known) == (None, False)  # still running
    # The same term's restart is no overlap; the next term's job starts at the bound.
    assert job_overlap_notes(list(settled)) == []
    # Unsettled, the dead job would read as overlapping every later one.
    assert job_overlap_notes([dead, same_term, next_term])


def test_a_torn_last_line_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    path = _death(tmp_path / "a.jsonl.keeper")
    with path.open("a") as f:
        f.write('{"keeper":1,"type":"sess')
    assert ("a", RUN) in read_deaths([str(path)])


def test_record_files_are_found_beside_their_journals_or_where_given(tmp_path: Path) -> None:
    journal = tmp_path / "a.jsonl"
    beside = _death(tmp_path / "a.jsonl.keeper")
    elsewhere = _death(tmp_path / "copy.keeper")
    assert is_keeper_file(beside) and not is_keeper_file(tmp_path / "missing")
    assert keeper_files([str(journal)], []) == [str(beside)]
    assert sorted(keeper_files([str(journal)], [str(elsewhere)])) == sorted(
        [str(beside), str(elsewhere)]
    )


def test_a_record_file_given_among_the_journals_is_read_not_replayed(tmp_path: Path) -> None:
    # Only a keeper's file: no journal to replay, nothing refused.
    analysis = analyse([_death(tmp_path / "a.jsonl.keeper")])
    assert analysis.journals == () and analysis.ok
    assert any("a's daemon (pid 42) died" in note for note in analysis.notes)
