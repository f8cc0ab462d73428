"""What keepers recorded of their daemons' deaths (`election.keeper.records`), and what it
settles in a post-mortem: when a crashed term ended and how, when its job was gone.

A daemon that died cannot journal its death; its keeper appends it beside the journal
(`FILE.keeper`, found on its own beside every journal given, or given itself). A record
names its run (the replica and its journal header's `started_wall`), so a term or a job
of that run ends where the record says: a crashed term at the death (`end_cause` crash,
`end_detail` the signal or exit code), its job when no process of it was left.

Without such a record (a machine that died, a journal from before the keeper), a job
whose daemon died has no known end. It is bounded, never guessed: it was gone by the
start of the next job of another term, on any machine (on this one the job lock, on
another the lease — the successor's term began only after the old session ended, and the
lease ended before that); the report says "≤ END" and claims no overlap past it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
import orjson

from election.keeper.records import is_record_line, record_path
from election_replay.causes import CRASH
from election_replay.clock import hms
from election_replay.model import JobRun, Term

RunKey = tuple[str, float]  # (replica, the run's started_wall)


@attrs.frozen(kw_only=True)
class Death:
    """One daemon's death as its keeper saw it."""

    replica: str
    run: float
    daemon: int
    wall: float  # the first sign of the death (its pipe closed)
    code: int | None  # exit code, 128 + N for signal N; None: not seen
    signal: str
    said: bool  # it told its code itself (an internal error)
    job: dict[str, Any] | None  # {pid, token, started} of the job running then
    last_exit: dict[str, Any] | None
    gone: dict[int, dict[str, Any]]  # pid -> its job-gone record
    termed: dict[int, float]  # pid -> when SIGTERM went to its group
    closed: dict[str, Any] | None  # the session-closed record

    @property
    def detail(self) -> str:
        """How it died, for `end_detail`: the signal, the exit code, or that it is unknown."""
        if self.signal:
            return self.signal
        if self.code is not None:
            return f"exit code {self.code}"
        return "killed; its exit status was collected before its keeper could read it"

    def note(self, term: Term | None) -> str:
        what = (
            f"{self.replica}'s daemon (pid {self.daemon}) died at {hms(self.wall)}: {self.detail}"
        )
        if term is not None:
            what += f", while Leader (token {term.token})"
        for pid, gone in sorted(self.gone.items()):
            termed = self.termed.get(pid)
            stop = f"SIGTERM at {hms(termed)}, " if termed is not None else ""
            what += f"; its keeper stopped job pid {pid} ({stop}gone at {hms(gone['wall'])})"
        closed = self.closed
        if closed is not None:
            outcome = str(closed.get("outcome", "?"))
            what += (
                f"; closed its session at {hms(float(closed['wall']))}"
                if outcome == "closed"
                else f"; its session: {outcome}"
            )
        return what


def is_keeper_file(path: str | os.PathLike[str]) -> bool:
    """True for a keeper's record file (its first line is a keeper record)."""
    try:
        with open(path, "rb") as f:
            first = f.readline(65536)
        # orjson: a hostile first line (a thousand nested arrays) is a ValueError, not
        # a RecursionError.
        return is_record_line(orjson.loads(first))
    except (OSError, ValueError):
        return False


def keeper_files(journals: Iterable[str], given: Sequence[str]) -> list[str]:
    """The record files to read: those given, and any beside the journals."""
    found = {os.path.realpath(p): p for p in given}
    for journal in journals:
        beside = record_path(Path(journal))
        if beside.exists():
            found.setdefault(os.path.realpath(beside), str(beside))
    return list(found.values())


def read_deaths(paths: Iterable[str]) -> dict[RunKey, Death]:
    """Every death the record files tell, by run. A line that cannot be read is skipped
    (a keeper killed mid-line leaves a torn one): the journals stay the account."""
    lines: dict[RunKey, list[dict[str, Any]]] = {}
    for path in paths:
        try:
            text = Path(path).read_bytes()
        except OSError:
            continue
        for raw in text.splitlines():
            try:
                line = orjson.loads(raw)
            except ValueError:
                continue
            if not isinstance(line, dict):
                continue
            run = line.get("run") if is_record_line(line) else None
            if isinstance(run, int | float) and isinstance(line.get("wall"), int | float):
                lines.setdefault((str(line.get("replica")), float(run)), []).append(line)
    deaths = {}
    for key, found in lines.items():
        died = next((x for x in found if x.get("type") == "died"), None)
        if died is None:
            continue
        code = died.get("code")
        deaths[key] = Death(
            replica=key[0],
            run=key[1],
            daemon=int(died.get("daemon") or 0),
            wall=float(died["wall"]),
            code=code if type(code) is int else None,
            signal=str(died.get("signal") or ""),
            said=bool(died.get("said")),
            job=died.get("job") if isinstance(died.get("job"), dict) else None,
            last_exit=died.get("last_exit") if isinstance(died.get("last_exit"), dict) else None,
            gone={int(x["pid"]): x for x in found if x.get("type") == "job-gone"},
            termed={int(x["pid"]): float(x["wall"]) for x in found if x.get("type") == "job-term"},
            closed=next((x for x in found if x.get("type") == "session-closed"), None),
        )
    return deaths


def end_crashed_terms(
    terms: Iterable[Term], deaths: dict[RunKey, Death]
) -> tuple[list[Term], list[str]]:
    """Terms whose daemon died while leading end at the death, `crash` with how."""
    out, notes = [], []
    told: set[RunKey] = set()
    for term in terms:
        death = None if term.run is None else deaths.get((term.replica, term.run))
        crashed = death is not None and (term.end is None or term.end_cause == CRASH)
        if crashed and death is not None and term.start <= death.wall:
            term = attrs.evolve(
                term,
                end=death.wall,
                ended=term.ended or term.last,
                end_cause=CRASH,
                end_detail=death.detail,
            )
            notes.append(death.note(term))
            told.add((death.replica, death.run))
        out.append(term)
    for key, death in sorted(deaths.items(), key=lambda item: item[1].wall):
        if key not in told:
            notes.append(death.note(None))
    return out, notes


def settle_jobs(jobs: Sequence[JobRun], deaths: dict[RunKey, Death]) -> tuple[JobRun, ...]:
    """Every job's end, from its keeper's record where its daemon died, else bounded by the
    next job of another term; and the jobs a keeper started that no journal told of."""
    settled = [_from_record(job, deaths) for job in jobs]
    known = {(job.replica, job.pid) for job in settled}
    for death in deaths.values():
        running = death.job
        if running is not None and (death.replica, int(running["pid"])) not in known:
            settled.append(_unjournaled(death, running))
    settled.sort(key=lambda r: r.start)
    return tuple(_bounded(job, settled) for job in settled)


def _from_record(job: JobRun, deaths: dict[RunKey, Death]) -> JobRun:
    if job.end_known or job.run is None:
        return job
    death = deaths.get((job.replica, job.run))
    if death is None:
        return job
    gone = death.gone.get(job.pid)
    if gone is not None:
        return attrs.evolve(
            job,
            end=max(job.start, float(gone["wall"])),
            end_known=True,
            ended_by="",
            code=gone.get("code"),
            signal=str(gone.get("signal") or ""),
            stopped_by=job.stopped_by or "its keeper: the daemon died",
        )
    last = death.last_exit
    if last is not None and last.get("pid") == job.pid:  # ended; the report was not read
        end = float(last["started_wall"]) + float(last["ran_for"])
        return attrs.evolve(
            job,
            end=max(job.start, end),
            end_known=True,
            ended_by="",
            code=last.get("code"),
            signal=str(last.get("signal") or ""),
        )
    return job


def _unjournaled(death: Death, running: dict[str, Any]) -> JobRun:
    """A job its keeper started whose start its daemon did not live to journal."""
    pid = int(running["pid"])
    gone = death.gone.get(pid)
    return JobRun(
        replica=death.replica,
        pid=pid,
        token=running.get("token"),
        start=float(running.get("started") or death.wall),
        end=None if gone is None else float(gone["wall"]),
        end_known=gone is not None,
        code=None if gone is None else gone.get("code"),
        signal="" if gone is None else str(gone.get("signal") or ""),
        stopped_by="its keeper: the daemon died",
        run=death.run,
    )


def _bounded(job: JobRun, jobs: Sequence[JobRun]) -> JobRun:
    """A job with no known end was gone by the next job of another term's start."""
    if job.end_known:
        return job
    later = [
        other.start
        for other in jobs
        if other.start > job.start and other.token != job.token and other is not job
    ]
    if not later:
        return job
    bound = min(later)
    if job.end is not None and job.end <= bound:
        return job
    return attrs.evolve(
        job, end=bound, ended_by="the next job's start (the job lock, or the lease)"
    )
