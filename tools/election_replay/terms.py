"""A replica's history as its journal recorded it: state segments and leadership terms.

Both come from the recorded `state` (and `token`) of each record, not from the replay:
they tell what the replica did, which is what the invariants and the timeline are about.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from election_replay.model import Handover, Segment, Term, Where

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

    def begin_run(self) -> None:
        """A new run of the daemon: whatever the previous run was doing ended with it."""
        last = self._last
        if last is None:
            return
        self._close_segment(last.wall)
        if self._term is not None:
            token = self._term[0]
            self.notes.append(
                f"{self.replica}: run ended while Leader (token {token}) at "
                f"{last.journal}:{last.line} and the daemon started again: a crash as leader?"
            )
            self._close_term(last, last.wall)
        self._last = None

    def observe(self, where: Where, state: str, token: int | None) -> None:
        """One record: `state` and `token` as recorded after its event."""
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
            self._close_term(where, where.wall)
        elif token != term[0]:
            self._close_term(where, where.wall)
            self._term = (token, where)
        self._last = where

    def finish(self) -> None:
        """The journal ends: close the last segment; a term still open stays open."""
        last = self._last
        if last is None:
            return
        self._close_segment(last.wall)
        if self._term is not None:
            self._add_term(None, None, last.wall)  # still Leader when the journal ends

    def _close_segment(self, wall: float) -> None:
        if self._state is not None:
            state, start = self._state
            self.segments.append(Segment(state=state, start=start, end=max(wall, start)))
            self._state = None

    def _close_term(self, ended: Where, wall: float) -> None:
        self._add_term(ended, wall, wall)

    def _add_term(self, ended: Where | None, end: float | None, last_seen: float) -> None:
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
            )
        )
        self._term = None


def by_start(terms: Iterable[Term]) -> tuple[Term, ...]:
    """All terms in the order they began (wall time, then replica for ties)."""
    return tuple(sorted(terms, key=lambda t: (t.start, t.replica, t.began.seq)))


def handovers(terms: tuple[Term, ...]) -> tuple[Handover, ...]:
    """Each term (in start order) paired with the term that followed it."""
    return tuple(Handover(previous=a, next=b) for a, b in pairwise(terms))
