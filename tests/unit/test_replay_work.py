"""election-replay's view of the work: leader files in token order, job runs."""

from __future__ import annotations

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.leaderfiles import leader_file_name
from election_replay.deaths import settle_jobs
from election_replay.invariants import LeaderWork
from election_replay.model import FileWrite, JobRun, Where
from election_replay.work import WorkLog, check_file_order, job_overlap_notes


def _where(replica: str, wall: float, seq: int = 1) -> Where:
    return Where(replica=replica, journal=f"{replica}.jsonl", line=seq + 1, seq=seq, wall=wall)


def _write(
    replica: str, token: int, seq: int, wall: float, published: float | None = None
) -> FileWrite:
    name = leader_file_name(token, seq)
    where = _where(replica, wall)
    return FileWrite(token, seq, name, where, wall if published is None else published)


def test_files_in_token_order_break_nothing() -> None:
    writes = [_write("a", 5, 1, 10.0), _write("a", 5, 2, 11.0), _write("b", 9, 1, 12.0)]
    assert check_file_order(writes, skew=0.05) == ([], [])


def test_an_older_token_file_after_a_newer_tokens_first_file_is_a_violation() -> None:
    writes = [_write("b", 9, 1, 12.0), _write("a", 5, 3, 12.5)]
    violations, notes = check_file_order(writes, skew=0.05)
    assert [v.kind for v in violations] == ["older-token-file-after-newer"]
    assert "token 5" in violations[0].message and "token 9" in violations[0].message
    assert violations[0].replicas == ["a", "b"]
    assert notes == []


def test_within_the_clock_skew_it_is_only_a_note() -> None:
    violations, notes = check_file_order(
        [_write("b", 9, 1, 12.0), _write("a", 5, 3, 12.01)], skew=0.05
    )
    assert violations == [] and len(notes) == 1


def _journaled(wall: float, published_at: float | None) -> list[FileWrite]:
    """What replay makes of one leader file of token 5 journaled at `wall`."""
    work = WorkLog("a")
    name = leader_file_name(5, 3)
    written = ev.FileWritten(request=1, outcome=Outcome.OK, name=name, published_at=published_at)
    work.observe(_where("a", wall), written, ())
    return work.writes


def test_a_file_is_dated_by_its_rename_not_by_its_late_record() -> None:
    # Found by the chaos soak: a leader frozen (SIGSTOP) after its rename but before the
    # answer reached the journal journals it after the successor's first file.
    writes = [*_journaled(15.0, published_at=11.0), _write("b", 9, 1, 12.0)]
    assert check_file_order(writes, skew=0.05) == ([], [])


def test_a_file_renamed_after_the_newer_one_is_still_a_violation() -> None:
    # Frozen between the last look at file-dir and the rename: the rename itself is late.
    writes = [*_journaled(15.0, published_at=14.9), _write("b", 9, 1, 12.0)]
    violations, _ = check_file_order(writes, skew=0.05)
    assert [v.kind for v in violations] == ["older-token-file-after-newer"]
    assert "2.900s after" in violations[0].message


def test_a_journal_without_the_rename_time_dates_a_file_by_its_record() -> None:
    assert [w.published for w in _journaled(15.0, published_at=None)] == [15.0]


def test_job_runs_are_collected_with_their_term() -> None:
    work = WorkLog("a")
    start = fx.StartChild(request=4, token=77, command=("job",))
    work.observe(_where("a", 1.0), ev.NodeCreated(request=3, outcome=Outcome.OK), (start,))
    work.observe(_where("a", 1.1), ev.ChildStarted(request=4, outcome=Outcome.OK, pid=99), ())
    work.observe(_where("a", 3.0), ev.ChildExited(pid=99, code=143, signal="SIGTERM"), ())
    work.observe(_where("a", 4.0), ev.ChildStarted(request=8, outcome=Outcome.OK, pid=100), ())
    runs = work.finish()
    assert [(r.pid, r.token, r.start, r.end, r.signal) for r in runs] == [
        (99, 77, 1.1, 3.0, "SIGTERM"),
        (100, None, 4.0, None, ""),
    ]


def test_a_job_stopped_because_its_lease_ran_out_says_so_on_its_run() -> None:
    work = WorkLog("a")
    start = fx.StartChild(request=4, token=77, command=("job",))
    work.observe(_where("a", 1.0), ev.NodeCreated(request=3, outcome=Outcome.OK), (start,))
    work.observe(_where("a", 1.1), ev.ChildStarted(request=4, outcome=Outcome.OK, pid=99), ())
    lease = ev.ChildLeaseExpired(pid=99, reason="not extended for 1.40s")
    work.observe(_where("a", 3.0), lease, ())
    work.observe(_where("a", 3.5), ev.ChildExited(pid=99, code=137, signal="SIGKILL"), ())
    (run,) = work.finish()
    assert run.stopped_by == "lease: not extended for 1.40s"
    assert run.as_json()["stopped_by"] == run.stopped_by


def test_a_job_ends_when_its_supervisor_says_not_when_a_frozen_daemon_read_it() -> None:
    """The daemon froze past its lease: the supervisor stopped the job 1.8 s after its
    start, and the daemon, waking, recorded the exit 3.2 s after it."""
    work = WorkLog("a")
    work.observe(_where("a", 10.0), ev.ChildStarted(request=4, outcome=Outcome.OK, pid=99), ())
    exited = ev.ChildExited(pid=99, code=143, signal="SIGTERM", ran_for=1.8)
    work.observe(_where("a", 13.2), exited, ())
    (run,) = work.finish()
    assert run.end == 11.8 and run.end_known
    # A ran_for longer than the record's distance (the start was recorded late) never
    # dates the end after the record; one of 0 (no supervisor said) is the record's.
    for ran_for, end in ((9.0, 13.2), (0.0, 13.2)):
        work = WorkLog("a")
        work.observe(_where("a", 10.0), ev.ChildStarted(request=4, outcome=Outcome.OK, pid=9), ())
        work.observe(_where("a", 13.2), ev.ChildExited(pid=9, code=0, ran_for=ran_for), ())
        assert work.finish()[0].end == end


def test_a_job_is_dated_by_its_supervisor_when_a_frozen_daemon_recorded_its_start_late() -> None:
    """Frozen right after the supervisor started the job: the start was journaled 3 s
    after it, and the end (`ran_for` counts from the supervisor's start) with it."""
    work = WorkLog("a")
    started = ev.ChildStarted(request=4, outcome=Outcome.OK, pid=99, started_at=10.0)
    work.observe(_where("a", 13.0), started, ())
    work.observe(_where("a", 14.0), ev.ChildExited(pid=99, code=143, ran_for=2.5), ())
    (run,) = work.finish()
    assert (run.start, run.end) == (10.0, 12.5)


def test_a_job_whose_daemon_died_was_gone_by_the_next_run_and_its_grace() -> None:
    work = WorkLog("a")
    work.begin_run(1.0, grace=0.6)
    work.observe(_where("a", 2.0), ev.ChildStarted(request=4, outcome=Outcome.OK, pid=99), ())
    work.begin_run(7.0, grace=3.0)  # the daemon died (SIGKILL); a new one started at 7.0
    work.observe(_where("a", 8.0), ev.ChildStarted(request=2, outcome=Outcome.OK, pid=100), ())
    dead, running = work.finish()
    assert (dead.pid, dead.end, dead.end_known) == (99, 7.6, False)  # the old run's grace
    assert (running.pid, running.end) == (100, None)  # the journal ends while it runs
    assert dead.as_json()["end_known"] is False
    # Never "end": null beside "end_known": true: a job running at the journal's end has
    # no known end.
    assert running.as_json()["end_known"] is False
    # Bounded by the next job of another term (the job lock here, the lease elsewhere):
    # no overlap is claimed past it.
    other = JobRun(replica="b", pid=5, token=9, start=7.5, end=9.0)
    settled = settle_jobs([dead, other], {})
    assert (settled[0].end, settled[0].end_known) == (7.5, False)
    assert settled[0].ended_by.startswith("the next job's start")
    assert job_overlap_notes(list(settled)) == []


def test_overlapping_job_runs_of_different_terms_are_noted() -> None:
    runs: list[JobRun] = []
    for replica, token, start, end in (("a", 5, 1.0, 5.0), ("b", 9, 4.0, 8.0)):
        work = WorkLog(replica)
        ask = fx.StartChild(request=1, token=token, command=("job",))
        work.observe(_where(replica, start - 0.1), ev.Started(), (ask,))
        started = ev.ChildStarted(request=1, outcome=Outcome.OK, pid=token)
        work.observe(_where(replica, start), started, ())
        work.observe(_where(replica, end), ev.ChildExited(pid=token, code=0), ())
        runs += work.finish()
    notes = job_overlap_notes(sorted(runs, key=lambda r: r.start))
    assert len(notes) == 1 and "1.000s" in notes[0] and "token 5" in notes[0]
    assert job_overlap_notes(runs[:1]) == []


def test_leader_work_is_files_landing_and_jobs_running() -> None:
    jobs = [JobRun(replica="a", pid=7, token=3, start=10.0, end=12.0)]
    work = LeaderWork({"a": [5.0, 1.0, 20.0], "b": [11.0]}, jobs)
    assert work.during("a", 4.0, 6.0) == "a leader file landed at 00:00:05.000"
    assert work.during("a", 12.5, 19.9) is None  # after the job, before the next file
    assert work.during("a", 11.9, 11.95) is not None and "job (pid 7)" in str(
        work.during("a", 11.9, 11.95)
    )
    assert work.during("b", 10.0, 10.9) is None  # a's job is not b's work
    running = LeaderWork({}, [JobRun(replica="b", pid=8, token=4, start=1.0, end=None)])
    assert running.during("b", 100.0, 200.0) is not None  # still running at the end


def test_asking_for_a_file_is_work_too() -> None:
    """A leader asks for a file only after ZooKeeper confirmed its node: even if storage
    fencing then refuses the file, it acted as leader."""
    work = LeaderWork({"a": [9.0]}, [], asked={"a": [3.0, 8.5]})
    assert work.during("a", 8.0, 10.0) == "asked for a leader file at 00:00:08.500"
    assert work.during("a", 4.0, 8.0) is None


def test_work_log_collects_files_landed_and_asked() -> None:
    log = WorkLog("a")
    write = fx.WriteLeaderFile(request=4, token=7, seq=1, replica="a")
    log.observe(_where("a", 2.0), ev.NodeRead(request=3, outcome=Outcome.OK), (write,))
    name = leader_file_name(7, 1)
    log.observe(_where("a", 2.5), ev.FileWritten(request=4, outcome=Outcome.OK, name=name), ())
    log.observe(_where("a", 3.0), ev.FileWritten(request=5, outcome=Outcome.FAILED), ())
    assert (log.asked, log.landed) == ([2.0], [2.5])
