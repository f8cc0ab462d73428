"""The leader's work as the journals tell it: leader files written and job runs.

Two checks come from it. Files: no file of an older token lands after the first file of
a newer token (fencing, as seen in file-dir). Jobs: runs of different terms that overlap
in wall time are noted (on one machine the job lock makes that impossible; across
machines the job's lease does, but for a whole machine frozen, which the fencing token is
for).

A job's end is dated by what its supervisor measured, not by when its daemon read it: a
daemon frozen past its lease reads the job's exit seconds after the supervisor stopped
it. A job of a run whose daemon died (the journal goes on with a new run) was gone at
most `--exec-grace` after that death, which came before the new run's start: the
supervisor stops the job at once when its daemon dies (before the supervisor, the kernel
killed the job with its daemon).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.leaderfiles import parse_leader_file_name
from election_replay.clock import hms
from election_replay.model import FileWrite, JobRun, Violation, Where

# What `WorkLog.observe` looks for, by exact type (no event or effect subclasses another).
_START_CHILD = fx.StartChild
_WRITE = fx.WriteLeaderFile
_FILE_WRITTEN, _CHILD_STARTED, _CHILD_EXITED = ev.FileWritten, ev.ChildStarted, ev.ChildExited
_LEASE_EXPIRED = ev.ChildLeaseExpired
_WORK_EVENTS = frozenset({ev.FileWritten, ev.ChildStarted, ev.ChildExited, ev.ChildLeaseExpired})
_OK = Outcome.OK


class WorkLog:
    """Collects one replica's leader files and job runs, record by record."""

    def __init__(self, replica: str) -> None:
        self.replica = replica
        self.writes: list[FileWrite] = []
        self.landed: list[float] = []  # when every FileWritten ok's file landed, any name
        self.asked: list[float] = []  # wall of every record asking for a leader file
        self.jobs: list[JobRun] = []
        self._tokens: dict[int, int] = {}  # StartChild request -> token
        self._starting: dict[int, int | None] = {}  # ChildStarted request -> token
        self._running: dict[int, tuple[int | None, float]] = {}  # pid -> (token, start)
        self._lease_ran_out: dict[int, str] = {}  # pid -> why its keeper stopped it
        self._grace = 0.0  # the run's --exec-grace
        self._run: float | None = None  # the run's `started_wall`

    def begin_run(self, started: float | None = None, grace: float = 0.0) -> None:
        """A new daemon process, started at wall time `started` with `grace` as its
        --exec-grace: the old one's job was gone by `started` plus the old grace."""
        self._close_all(None if started is None else started + self._grace)
        self._tokens.clear()
        self._grace = grace
        self._run = started

    def resume(self, pid: int, token: int | None, since: float) -> None:
        """Pick up mid-run (a window's start): the job `pid` runs, known from `since`."""
        self._running[pid] = (token, since)

    def observe(self, where: Where, event: ev.Event, effects: Sequence[fx.Effect]) -> None:
        # Called once per record: exact-type checks (events and effects are final classes).
        for effect in effects:
            if type(effect) is _WRITE:
                self.asked.append(where.wall)
            elif type(effect) is _START_CHILD:
                self._tokens[effect.request] = effect.token
        if type(event) not in _WORK_EVENTS:
            return
        if type(event) is _FILE_WRITTEN:
            if event.outcome is _OK:
                published = _dated(where.wall, event.published_at)  # by its rename
                self.landed.append(published)
                parsed = parse_leader_file_name(event.name)
                if parsed is not None:
                    token, seq = parsed
                    self.writes.append(FileWrite(token, seq, event.name, where, published))
        elif type(event) is _CHILD_STARTED:
            if event.outcome is _OK and event.pid:
                start = _dated(where.wall, event.started_at)  # by its supervisor
                self._running[event.pid] = (self._tokens.get(event.request), start)
        elif type(event) is _LEASE_EXPIRED:
            if event.pid in self._running:
                self._lease_ran_out[event.pid] = event.reason
        elif type(event) is _CHILD_EXITED and event.pid in self._running:
            job_token, start = self._running.pop(event.pid)
            lease = self._lease_ran_out.pop(event.pid, None)
            # `ran_for` counts from the supervisor's `started_at` (or, in journals from
            # before it, from a little before the record of the start).
            end = min(where.wall, start + event.ran_for) if event.ran_for > 0 else where.wall
            self.jobs.append(
                JobRun(
                    replica=self.replica,
                    pid=event.pid,
                    token=job_token,
                    start=start,
                    end=end,
                    code=event.code,
                    signal=event.signal,
                    stopped_by="" if lease is None else f"lease: {lease}",
                    run=self._run,
                )
            )

    def _close_all(self, bound: float | None) -> None:
        """The jobs still running when the run ends: their end is not known; `bound`, the
        latest they can have been gone by (None: the journal ends with them running)."""
        for pid, (job_token, start) in sorted(self._running.items()):
            self.jobs.append(
                JobRun(
                    replica=self.replica,
                    pid=pid,
                    token=job_token,
                    start=start,
                    end=None if bound is None else max(bound, start),
                    end_known=False,
                    ended_by="" if bound is None else "its daemon's next start and grace",
                    run=self._run,
                )
            )
        self._running.clear()
        self._lease_ran_out.clear()

    def finish(self) -> tuple[JobRun, ...]:
        """Every run, those still running at the journal's end with `end` None."""
        self._close_all(None)
        return tuple(sorted(self.jobs, key=lambda r: r.start))


def _dated(recorded: float, reported: float | None) -> float:
    """When something happened: the time its handler reported, or its record's for
    journals from before the handler said. The earlier of the two, since a process frozen
    before the journal append records it late, and it cannot have happened after."""
    return recorded if reported is None else min(recorded, reported)


def check_file_order(writes: Iterable[FileWrite], skew: float) -> tuple[list[Violation], list[str]]:
    """No file of an older token written after the first file of a newer token."""
    violations: list[Violation] = []
    notes: list[str] = []
    newest: FileWrite | None = None  # the first file of the highest token so far
    for write in sorted(writes, key=lambda w: w.published):
        if newest is None or write.token > newest.token:
            newest = write
            continue
        if write.token < newest.token:
            late = write.published - newest.published
            what = (
                f"{write.where.replica} wrote {write.name} (token {write.token}) "
                f"{late:.3f}s after {newest.where.replica} wrote {newest.name} (token "
                f"{newest.token}) at {hms(newest.published)}"
            )
            if late > skew:
                violations.append(
                    Violation(
                        kind="older-token-file-after-newer",
                        message=what,
                        records=(newest.where, write.where),
                    )
                )
            else:
                notes.append(f"{what} (within the {skew:.3f}s clock-skew tolerance)")
    return violations, notes


def _job(run: JobRun) -> str:
    return f"{run.replica} pid {run.pid} (token {run.token})"


def job_overlap_notes(jobs: Sequence[JobRun]) -> list[str]:
    """Job runs of different terms that overlapped in wall time. A job whose end is not
    known is bounded by the next job's start (`deaths.settle_jobs`): no overlap is ever
    claimed past what the job lock and the lease allow."""
    notes = []
    for i, a in enumerate(jobs):
        a_end = float("inf") if a.end is None else a.end
        for b in jobs[i + 1 :]:
            if b.start >= a_end:
                break
            if a.token != b.token:
                overlap = min(a_end, float("inf") if b.end is None else b.end) - b.start
                notes.append(
                    f"job runs overlapped for {overlap:.3f}s: {_job(a)} and {_job(b)}; the "
                    "job's lease rules this out but for a whole machine frozen (README, "
                    "'Run your own job')"
                )
    return notes
