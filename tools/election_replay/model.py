"""What a replay finds, as plain frozen data: the report and the JSON are drawn from it."""

from __future__ import annotations

from typing import Any, NamedTuple

import attrs


class Where(NamedTuple):
    """One record of one journal: enough for an engineer to open the line.

    A named tuple, not a frozen attrs class like the rest: replay makes one per record
    (a million for a big journal), and a tuple is built in a third of the time.
    """

    replica: str
    journal: str
    line: int
    seq: int
    wall: float

    def as_json(self) -> dict[str, Any]:
        return self._asdict()

    def __str__(self) -> str:
        return f"{self.replica} {self.journal}:{self.line} seq {self.seq}"


@attrs.frozen(kw_only=True)
class Divergence:
    """The first record whose recorded outcome today's reducer does not reproduce."""

    where: Where
    event: dict[str, Any]  # the event as journaled
    fields: tuple[str, ...]  # which of state, token, effects differ (or "reducer")
    expected: dict[str, Any]  # what today's reducer computes
    recorded: dict[str, Any]  # what the journal says

    def as_json(self) -> dict[str, Any]:
        return {
            **self.where.as_json(),
            "event": self.event,
            "fields": list(self.fields),
            "expected": self.expected,
            "recorded": self.recorded,
        }


@attrs.frozen(kw_only=True)
class Violation:
    """A broken safety invariant, naming the records that show it."""

    kind: str  # e.g. "two-leaders-same-token"
    message: str
    records: tuple[Where, ...]

    @property
    def replicas(self) -> list[str]:
        return sorted({w.replica for w in self.records})

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "replicas": self.replicas,
            "records": [w.as_json() for w in self.records],
        }


@attrs.frozen(kw_only=True)
class Segment:
    """A replica's recorded state from `start` to `end` (Unix seconds)."""

    state: str
    start: float
    end: float


@attrs.frozen(kw_only=True)
class Term:
    """One leadership term: from the record entering Leader to the one leaving it.

    `end` is None while the replica is still Leader at its journal's end; `last_seen`
    is then the wall time of its last record (the latest moment it is known to lead).
    `end_cause` says why it ended (`election_replay.causes`), None while it still leads;
    `end_event` is the type of the event that ended it ("" for none: a crash, or still
    leading).
    """

    replica: str
    token: int | None
    start: float
    end: float | None
    began: Where
    ended: Where | None
    last_seen: float
    end_cause: str | None = None
    end_event: str = ""
    end_detail: str = ""  # who asked (`causes.asked_by`), or how a crashed daemon died
    last: Where | None = None  # its last record, when the journal ends while it leads
    run: float | None = None  # its daemon's run: the `started_wall` of the run's header

    @property
    def until(self) -> float:
        """The latest moment this term is known to have lasted."""
        return self.last_seen if self.end is None else self.end

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start

    def as_json(self) -> dict[str, Any]:
        return {
            "replica": self.replica,
            "token": self.token,
            "start": self.start,
            "end": self.end,
            "end_cause": self.end_cause,
            **({"end_detail": self.end_detail} if self.end_detail else {}),
            "duration": self.duration,
            "journal": self.began.journal,
            "start_line": self.began.line or None,  # 0: before the lines folded
            "end_line": None if self.ended is None else self.ended.line,
        }


@attrs.frozen(kw_only=True)
class Handover:
    """The gap between one term's end and the next term's start (negative: overlap)."""

    previous: Term
    next: Term

    @property
    def gap(self) -> float | None:
        end = self.previous.end
        return None if end is None else self.next.start - end

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.previous.replica,
            "to": self.next.replica,
            "from_token": self.previous.token,
            "to_token": self.next.token,
            "end": self.previous.end,
            "start": self.next.start,
            "gap": self.gap,
        }


@attrs.frozen(kw_only=True)
class Snapshot:
    """The replayed state at a moment (the end of a journal, or `--until`)."""

    seq: int
    wall: float
    name: str
    token: int | None
    connected: bool
    session_id: int | None
    timers: tuple[tuple[str, int], ...]
    pending: tuple[tuple[int, str], ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "wall": self.wall,
            "state": self.name,
            "token": self.token,
            "connected": self.connected,
            "session_id": self.session_id,
            "timers": [{"name": n, "id": i} for n, i in self.timers],
            "pending": [{"request": r, "effect": k} for r, k in self.pending],
        }


@attrs.frozen(kw_only=True)
class JobRun:
    """One run of the job (`--exec`): from its ChildStarted to its ChildExited."""

    replica: str
    pid: int
    token: int | None  # the term it was started for
    start: float
    end: float | None  # None: still running at the journal's end
    code: int | None = None  # exit code (128+N: signal N)
    signal: str = ""
    stopped_by: str = ""  # "lease: <why>" when its keeper stopped it, the lease run out
    # False: `end` is only the latest it can have been gone by (its daemon died and no
    # keeper record tells; `ended_by` says what bounds it: see work.py), or None when
    # nothing does (still running at the journal's end, as far as it tells).
    end_known: bool = True
    ended_by: str = ""
    run: float | None = None  # its daemon's run: the `started_wall` of the run's header

    def as_json(self) -> dict[str, Any]:
        shown = attrs.asdict(self)
        del shown["run"]
        return shown


class FileWrite(NamedTuple):
    """One leader file the journal says was written (FileWritten ok). A named tuple like
    `Where`: replay makes one for every file a leader wrote."""

    token: int
    seq: int
    name: str
    where: Where
    # When the file was visible by: the handler's clock right after the rename, or the
    # record's time for journals from before it was recorded. A frozen process journals
    # the answer later than the file appeared; the record's time would date it then.
    published: float


@attrs.frozen(kw_only=True)
class JournalSummary:
    """One journal replayed: its replica, what it held and what today's code made of it."""

    journal: str
    replica: str
    runs: int
    events: int
    first_wall: float | None
    last_wall: float | None
    segments: tuple[Segment, ...]
    terms: tuple[Term, ...]
    divergence: Divergence | None
    violations: tuple[Violation, ...]
    notes: tuple[str, ...]
    snapshot: Snapshot | None  # the replayed state where the fold stopped
    # Every file folded, in order, when the journal was rotated (else just `journal`).
    files: tuple[str, ...] = ()
    jobs: tuple[JobRun, ...] = ()
    writes: tuple[FileWrite, ...] = ()
    landed: tuple[float, ...] = ()  # wall time of every leader file written (FileWritten ok)
    asked: tuple[float, ...] = ()  # wall time of every record asking for a leader file
    freezes: tuple[Any, ...] = ()  # election_replay.freezes.Freeze (import cycle)
    # A window's fold: where it began in this journal (the record whose snapshot it
    # started from, or a header); None for a fold from the journal's start.
    start: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        shown = {
            "replica": self.replica,
            "journal": self.journal,
            "files": list(self.files or (self.journal,)),
            "runs": self.runs,
            "events": self.events,
            "first_wall": self.first_wall,
            "last_wall": self.last_wall,
            "replayed": self.divergence is None,
            "state": None if self.snapshot is None else self.snapshot.as_json(),
            "segments": [attrs.asdict(s) for s in self.segments],
        }
        if self.start is not None:
            shown["window_start"] = self.start
        return shown


@attrs.frozen(kw_only=True)
class Analysis:
    """Everything `election-replay` found in a set of journals."""

    journals: tuple[JournalSummary, ...]
    terms: tuple[Term, ...]  # all replicas' terms, by start time
    handovers: tuple[Handover, ...]
    violations: tuple[Violation, ...]
    notes: tuple[str, ...]
    until: int | None = None
    jobs: tuple[JobRun, ...] = ()  # every replica's job runs, by start time
    window: Any = None  # election_replay.window.Window (import cycle): --since/--until

    @property
    def events(self) -> int:
        return sum(j.events for j in self.journals)

    @property
    def divergences(self) -> tuple[Divergence, ...]:
        return tuple(j.divergence for j in self.journals if j.divergence is not None)

    @property
    def ok(self) -> bool:
        return not self.divergences and not self.violations
