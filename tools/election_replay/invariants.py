"""The safety invariants, checked on what the journals recorded.

Per replica, record by record (`ReplicaChecks`): no leader file written and no write
asked for outside Leader (a file asked for as Leader may land just after the state
changed, as long as the node has not been released meanwhile); no Leader state while the
session is not connected; never a second queue node of one session (no create asked for
while a node of the session is known, from the records, to stand).
Across replicas, on the leadership terms merged by wall time (`check_terms`): at most
one leader per token, tokens only grow from term to term, no two leaders doing the work
at once.

Wall clocks of different machines may disagree, so an overlap of two terms within
`skew` seconds is a note, not a violation. So is a longer overlap in which the earlier
leader did no work (asked for no leader file, none landed, no job ran): cut off or paused, a leader
believes it leads until it hears otherwise, and it confirms with ZooKeeper before every
write; what must not happen is two leaders doing the work (`LeaderWork`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election_replay.clock import hms
from election_replay.model import JobRun, JournalSummary, Term, Violation, Where
from election_replay.terms import LEADER

DEFAULT_SKEW = 0.05  # seconds of wall-clock disagreement tolerated between machines

# What `ReplicaChecks.observe` looks for, by exact type (no event or effect subclasses another).
_CONNECTED, _LOST, _FILE_WRITTEN = ev.SessionConnected, ev.SessionLost, ev.FileWritten
_SESSION_EVENTS = frozenset({ev.SessionConnected, ev.SessionSuspended, ev.SessionLost})
_WRITE = fx.WriteLeaderFile
_LETTING_GO = frozenset({fx.ReleaseNode, fx.CloseSession})
_OK = Outcome.OK
# What tells of our queue nodes: made, gone, listed (the queue's protocol only: a journal
# of the single-node protocol names no queue node, and is never flagged here).
_QUEUE_NEWS = frozenset(
    {ev.NodeCreated, ev.NodeReleased, ev.QueueRead, ev.NodeRead, ev.NodeWatchFired}
)


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


class ReplicaChecks:
    """The invariants one replica's journal can break on its own."""

    def __init__(self, replica: str) -> None:
        self.replica = replica
        self.violations: list[Violation] = []
        self._connected = False
        self._before: str | None = None  # recorded state before the current record
        self._flagged_disconnected = False  # one violation per disconnected-leader episode
        # A file asked for as Leader may land just after the state changed, while the node
        # is still ours: the reducer releases the node only once it has landed.
        self._asked_as_leader: set[int] = set()  # WriteLeaderFile requests made as Leader
        self._released = False  # node released (or session lost) since leaving Leader
        self._session: int | None = None  # the session of the run, as last connected
        self._held: set[str] = set()  # our queue nodes of that session known to stand
        self._releasing: dict[int, str] = {}  # ReleaseNode request -> the node's name

    def begin_run(self) -> None:
        """A new daemon process: no session yet, no state yet."""
        self._connected = False
        self._before = None
        self._flagged_disconnected = False
        self._asked_as_leader = set()
        self._released = False
        self._session = None
        self._held = set()
        self._releasing = {}

    def resume(self, connected: bool, state: str) -> None:
        """Pick up mid-run from a snapshot (a rotated segment whose predecessor is missing)."""
        self._connected = connected
        self._before = state
        self._flagged_disconnected = False
        self._asked_as_leader = set()
        self._released = False
        self._session = None  # unknown until the next SessionConnected: nothing is flagged
        self._held = set()
        self._releasing = {}

    def observe(
        self, where: Where, event: ev.Event, state: str, effects: Sequence[fx.Effect]
    ) -> None:
        """One record: its event, the state recorded after it, and the effects it caused."""
        # Called once per record: dispatch on the exact type (events and effects are
        # final classes) and walk the effects in a plain loop, no temporary lists.
        kind = type(event)
        if kind in _SESSION_EVENTS:
            self._connected = kind is _CONNECTED
            if kind is _LOST:
                self._released = True
                self._held.clear()  # every ephemeral node of the session went with it
            elif isinstance(event, _CONNECTED) and event.session_id != self._session:
                self._session = event.session_id
                self._held.clear()
        elif kind in _QUEUE_NEWS:
            self._queue_news(event)
        elif (
            type(event) is _FILE_WRITTEN
            and event.outcome is _OK
            and self._before != LEADER
            and (event.request not in self._asked_as_leader or self._released)
        ):
            self._flag(
                "file-written-outside-leader",
                f"{self.replica} recorded leader file {event.name or '?'} written while "
                f"{self._before or 'not started'}, not Leader, at {hms(where.wall)}",
                where,
            )
        leader = state == LEADER
        if leader:
            self._released = False
        if effects:
            stray: fx.WriteLeaderFile | None = None  # the first write asked for outside Leader
            for effect in effects:
                if type(effect) is _WRITE:
                    if leader:
                        self._asked_as_leader.add(effect.request)
                    elif stray is None:
                        stray = effect
                elif type(effect) in _LETTING_GO:
                    # Letting the node go (a delete, or closing the session, which deletes
                    # it) ends the grace of a file asked for as Leader: it must have landed.
                    self._released = True
                    if type(effect) is fx.ReleaseNode:
                        self._releasing[effect.request] = _name(effect.path)
                elif type(effect) is fx.CreateNode and self._held:
                    self._flag(
                        "second-queue-node",
                        f"{self.replica} asked for a queue node while its session "
                        f"0x{self._session or 0:x} still held {', '.join(sorted(self._held))} "
                        f"at {hms(where.wall)}",
                        where,
                    )
            if stray is not None:
                self._flag(
                    "write-outside-leader",
                    f"{self.replica} asked to write leader file (token {stray.token}, "
                    f"seq {stray.seq}) in state {state} at {hms(where.wall)}",
                    where,
                )

        if leader and not self._connected:
            if not self._flagged_disconnected:
                self._flag(
                    "leader-while-disconnected",
                    f"{self.replica} was Leader with no connected session at {hms(where.wall)}",
                    where,
                )
            self._flagged_disconnected = True
        elif self._flagged_disconnected:
            self._flagged_disconnected = False
        self._before = state

    def _queue_news(self, event: ev.Event) -> None:
        """What a record tells of our queue nodes: one made, one gone, the queue listed."""
        if isinstance(event, ev.NodeCreated):
            if event.outcome is _OK and event.path:
                self._held.add(_name(event.path))
        elif isinstance(event, ev.NodeReleased):
            name = self._releasing.pop(event.request, None)
            if name is not None and event.outcome is _OK:
                self._held.discard(name)
        elif isinstance(event, ev.QueueRead):
            if event.outcome is _OK:
                self._held.intersection_update(event.names if event.exists else ())
        elif isinstance(event, ev.NodeRead):
            if event.outcome is _OK and (not event.exists or event.owner != self._session):
                self._held.discard(_name(event.path))
        elif isinstance(event, ev.NodeWatchFired) and event.kind == "DELETED":
            self._held.discard(_name(event.path))

    def _flag(self, kind: str, message: str, where: Where) -> None:
        self.violations.append(Violation(kind=kind, message=message, records=(where,)))


def _span(term: Term) -> str:
    end = "still leading" if term.end is None else hms(term.end)
    return f"{term.replica} {hms(term.start)}-{end}"


class LeaderWork:
    """When each replica worked as leader: asking for a leader file (which it does only
    after ZooKeeper confirmed its node), a file landing (`FileWritten` ok), a job running.
    Two replicas both Leader in their journals is a violation only if the earlier one
    worked during the overlap; otherwise it believed it led but, cut off or paused, did
    nothing (the confirm-read before each write keeps it idle until it hears)."""

    def __init__(
        self,
        landed: Mapping[str, list[float]],
        jobs: Sequence[JobRun],
        asked: Mapping[str, list[float]] | None = None,
    ) -> None:
        kinds = (("a leader file landed", landed), ("asked for a leader file", asked or {}))
        self._times = {
            what: {replica: sorted(walls) for replica, walls in times.items()}
            for what, times in kinds
        }
        self._jobs = jobs

    @classmethod
    def of(cls, journals: Iterable[JournalSummary], jobs: Sequence[JobRun]) -> LeaderWork:
        landed: dict[str, list[float]] = {}
        asked: dict[str, list[float]] = {}
        for journal in journals:
            landed.setdefault(journal.replica, []).extend(journal.landed)
            asked.setdefault(journal.replica, []).extend(journal.asked)
        return cls(landed, jobs, asked)

    def during(self, replica: str, start: float, end: float) -> str | None:
        """What work `replica` did between `start` and `end` (wall), None if none."""
        found: list[tuple[float, str]] = []
        for what, times in self._times.items():
            walls = times.get(replica, [])
            first = bisect.bisect_left(walls, start)
            if first < len(walls) and walls[first] <= end:
                found.append((walls[first], f"{what} at {hms(walls[first])}"))
        if found:
            return min(found)[1]
        for job in self._jobs:
            job_end = float("inf") if job.end is None else job.end
            if job.replica == replica and job.start <= end and job_end >= start:
                return f"its job (pid {job.pid}) ran from {hms(job.start)}"
        return None


def check_terms(
    terms: Sequence[Term], skew: float = DEFAULT_SKEW, work: LeaderWork | None = None
) -> tuple[list[Violation], list[str]]:
    """Cross-replica invariants over all terms in start order: violations and notes.

    Without `work`, every overlap of two terms (beyond `skew`) counts as a violation.
    """
    violations: list[Violation] = []
    notes: list[str] = []
    violations += _same_token(terms)
    violations += _shrinking_tokens(terms)
    overlaps, overlap_notes = _overlaps(terms, skew, work)
    return violations + overlaps, notes + overlap_notes


def _same_token(terms: Iterable[Term]) -> list[Violation]:
    first: dict[int, Term] = {}  # token -> the first term that held it
    reported: set[tuple[int, str]] = set()
    found = []
    for term in terms:
        if term.token is None:
            continue
        holder = first.setdefault(term.token, term)
        if holder.replica != term.replica and (term.token, term.replica) not in reported:
            reported.add((term.token, term.replica))
            found.append(
                Violation(
                    kind="two-leaders-same-token",
                    message=(
                        f"token {term.token} led by two replicas: {_span(holder)} and {_span(term)}"
                    ),
                    records=(holder.began, term.began),
                )
            )
    return found


def _shrinking_tokens(terms: Iterable[Term]) -> list[Violation]:
    highest: Term | None = None
    found = []
    for term in terms:
        if term.token is None:
            continue
        if highest is not None and highest.token is not None and term.token < highest.token:
            found.append(
                Violation(
                    kind="token-decreased",
                    message=(
                        f"token went down: {term.replica} led with {term.token} from "
                        f"{hms(term.start)} after {highest.replica} led with {highest.token} "
                        f"from {hms(highest.start)}"
                    ),
                    records=(highest.began, term.began),
                )
            )
        if highest is None or (highest.token is not None and term.token > highest.token):
            highest = term
    return found


def _overlaps(
    terms: Sequence[Term], skew: float, work: LeaderWork | None
) -> tuple[list[Violation], list[str]]:
    """Terms of different replicas whose wall intervals overlap (a sweep in start order).
    An overlap counts if the earlier leader worked in it (from the later term's start,
    less the skew, to its own end; see `LeaderWork`): two leaders doing the work is what
    must not happen."""
    found: list[Violation] = []
    notes: list[str] = []
    for i, a in enumerate(terms):
        for b in terms[i + 1 :]:
            if b.start >= a.until:
                break  # later terms start later still
            if a.replica == b.replica:
                continue
            overlap = min(a.until, b.until) - b.start
            what = (
                f"{a.replica} (token {a.token}) and {b.replica} (token {b.token}) both "
                f"Leader for {overlap:.3f}s: {_span(a)} and {_span(b)}"
            )
            if overlap <= skew:
                notes.append(f"{what} (within the {skew:.3f}s clock-skew tolerance)")
                continue
            done = "" if work is None else work.during(a.replica, b.start - skew, a.until)
            if done is None:
                notes.append(
                    f"{what}; {a.replica} did no work meanwhile (asked for no leader file, "
                    f"none landed and no job ran from {hms(b.start - skew)}): a leader cut "
                    "off or paused hears of it late, and confirms with ZooKeeper before "
                    "any write"
                )
                continue
            records = (a.began, b.began, *(w for w in (a.ended,) if w is not None))
            message = f"{what}; {a.replica} did work meanwhile: {done}" if done else what
            found.append(Violation(kind="overlapping-leaders", message=message, records=records))
    return found, notes
