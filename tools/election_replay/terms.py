"""A replica's history as its journal recorded it: state segments and leadership terms.

Both come from the recorded `state` (and `token`) of each record, not from the replay:
they tell what the replica did, which is what the invariants and the timeline are about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

import attrs

from election_replay.causes import CRASH, asked_by, end_cause
from election_replay.clock import hms
from election_replay.model import Handover, JournalSummary, Segment, Term, Where

LEADER = "Leader"


class History:
    """Feed it one replica's records in order (`begin_run` before each run's first)."""

    def __init__(self, replica: str) -> None:
        self.replica = replica
        self.segments: list[Segment] = []
        self.terms: list[Term] = []
        self.notes: list[str] = []
        self._state: tuple[str, float] | None = None  # current state and since when
        self._term: tuple[int | None, Where] | None = None  # open term: token, first record
        self._last: Where | None = None
        self._run: float | None = None  # the run's `started_wall`

    def begin_run(self, run: float | None = None) -> None:
        """A new run of the daemon (`run`: its header's `started_wall`): whatever the
        previous run was doing ended with it."""
        last = self._last
        if last is None:
            self._run = run
            return
        self._close_segment(last.wall)
        if self._term is not None:
            token = self._term[0]
            self.notes.append(
                f"{self.replica}: run ended while Leader (token {token}) at "
                f"{last.journal}:{last.line} and the daemon started again: a crash as "
                "leader; its term counts as ended at that last record"
            )
            self._add_term(last, last.wall, last.wall, CRASH, "")
        self._last = None
        self._run = run

    @property
    def last(self) -> Where | None:
        """The last record observed."""
        return self._last

    @property
    def leading(self) -> bool:
        """A term is open: the last record observed is Leader's."""
        return self._term is not None

    def resume(self, at: Where, state: str, token: int | None, entered: Where | None) -> None:
        """Pick up mid-run (a window's start) at the record `at`, recorded in `state`:
        `entered`, where that state (and a term) began, if known."""
        began = at if entered is None else entered
        self._state = (state, began.wall)
        if state == LEADER:
            self._term = (token, began)
        self._last = at

    def end_beyond(
        self, ended: Where, event: Mapping[str, Any] | None, run_ended: bool, why: str = ""
    ) -> None:
        """The open term ends after the records folded (a window's end): at `ended`,
        the record leaving Leader (its `event` says why); without an event, `ended` is
        the last record of its run, which ended while Leader (`run_ended`: a restart
        followed, a crash) or the last of the whole journal (`finish` keeps it open)."""
        if self._term is None:
            return
        if event is not None:
            self._close_term(ended, event, why)
        elif run_ended:
            self._add_term(ended, ended.wall, ended.wall, CRASH, "")
        else:
            self._last = ended

    def observe(
        self, where: Where, state: str, token: int | None, event: Mapping[str, Any], why: str = ""
    ) -> None:
        """One record: `state` and `token` as recorded after its `event` (as journaled),
        and `why`, the kind of its state change (journals from before it: "")."""
        # Called once per record: most records change neither the state nor the term.
        current = self._state
        if current is None or current[0] != state:
            self._close_segment(where.wall)
            self._state = (state, where.wall)
        term = self._term
        if term is None:
            if state == LEADER:
                self._term = (token, where)
        elif state != LEADER:
            self._close_term(where, event, why)
        elif token != term[0]:
            self._close_term(where, event, why)
            self._term = (token, where)
        self._last = where

    def finish(self) -> None:
        """The journal ends: close the last segment; a term still open stays open."""
        last = self._last
        if last is None:
            return
        self._close_segment(last.wall)
        if self._term is not None:
            self._add_term(None, None, last.wall, last=last)  # Leader when the journal ends

    def _close_segment(self, wall: float) -> None:
        if self._state is not None:
            state, start = self._state
            self.segments.append(Segment(state=state, start=start, end=max(wall, start)))
            self._state = None

    def _close_term(self, ended: Where, event: Mapping[str, Any], why: str = "") -> None:
        self._add_term(
            ended,
            ended.wall,
            ended.wall,
            end_cause(event, why),
            str(event.get("type")),
            detail=asked_by(event),
        )

    def _add_term(
        self,
        ended: Where | None,
        end: float | None,
        last_seen: float,
        cause: str | None = None,
        event: str = "",
        last: Where | None = None,
        detail: str = "",
    ) -> None:
        """The open term, ended at `ended` (None: open at the journal's end), is done."""
        assert self._term is not None
        token, began = self._term
        self.terms.append(
            Term(
                replica=self.replica,
                token=token,
                start=began.wall,
                end=end,
                began=began,
                ended=ended,
                last_seen=last_seen,
                end_cause=cause,
                end_event=event,
                end_detail=detail,
                last=last,
                run=self._run,
            )
        )
        self._term = None


def close_crashed(
    terms: Sequence[Term], journals: Iterable[JournalSummary]
) -> tuple[list[Term], list[str]]:
    """Terms (in start order) still open at their journal's end, ended as crashes where
    the cluster went on without them, and a note for each.

    A term open at its journal's end while a later term of another replica exists, or a
    later run of the same replica (in another file), did not outlive its last record as
    leader: it ends there, `crash`, and its true end lies between that record and the
    next term's start. Only a term still leading at the end of all journals stays open.
    """
    runs: dict[str, list[float]] = {}  # replica -> the first wall of each of its journals
    for journal in journals:
        if journal.first_wall is not None:
            runs.setdefault(journal.replica, []).append(journal.first_wall)
    closed: list[Term] = []
    notes: list[str] = []
    for index, term in enumerate(terms):
        if term.end is not None:
            closed.append(term)
            continue
        later = next(
            (t for t in terms[index + 1 :] if t.replica != term.replica and t.start > term.start),
            None,
        )
        restarted = any(wall > term.last_seen for wall in runs.get(term.replica, ()))
        if later is None and not restarted:
            closed.append(term)  # still leading at the end of every journal
            continue
        closed.append(attrs.evolve(term, end=term.last_seen, ended=term.last, end_cause=CRASH))
        notes.append(_crash_note(term, later))
    return closed, notes


def _crash_note(term: Term, later: Term | None) -> str:
    ends = (
        f"{term.replica}'s journal ends while Leader (token {term.token}) at "
        f"{hms(term.last_seen)}: a crash"
    )
    if later is None:
        return f"{ends} (it ran again later)"
    if later.start < term.last_seen:
        return f"{ends} ({later.replica} had begun leading before, token {later.token})"
    return (
        f"{ends}; its true end lies between that last record and {hms(later.start)}, "
        f"when {later.replica} began (token {later.token})"
    )


def asked_notes(terms: Iterable[Term]) -> list[str]:
    """Who asked for each end the operator's controls made (`election handover`, `pause`)."""
    return [
        f"{t.replica}'s term (token {t.token}) ended at {hms(t.end)} by a {t.end_cause} "
        f"asked {t.end_detail}"
        for t in terms
        if t.end_detail and t.end is not None
    ]


def by_start(terms: Iterable[Term]) -> tuple[Term, ...]:
    """All terms in the order they began (wall time, then replica for ties)."""
    return tuple(sorted(terms, key=lambda t: (t.start, t.replica, t.began.seq)))


def handovers(terms: tuple[Term, ...]) -> tuple[Handover, ...]:
    """Each term (in start order) paired with the term that followed it."""
    return tuple(Handover(previous=a, next=b) for a, b in pairwise(terms))
