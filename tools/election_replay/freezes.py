"""Freezes: stretches when a replica did not run at all (SIGSTOP, a long GC pause, a
stalled VM), seen as a timer that fired far later than it was due.

A frozen leader's journal still says Leader until it wakes, but it did nothing meanwhile
and, on waking, it confirms with ZooKeeper before any work. So for the overlap check its
term counts as ended when the freeze began; the checks on files (no file outside Leader,
no older token after a newer one) still judge whatever it did after waking.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from election.core import effects as fx
from election.core import events as ev
from election_replay.clock import hms
from election_replay.model import Term, Where
from election_replay.terms import LEADER

# kazoo gives a session up as SUSPENDED after 2/3 of its timeout without an answer: a
# timer later than that means the process could not have kept its session on its own.
LATE_SHARE = 2 / 3

# What `FreezeDetector.observe` looks for, by exact type (no event or effect subclasses another).
_TIMER_FIRED, _START_TIMER, _CANCEL_TIMER = ev.TimerFired, fx.StartTimer, fx.CancelTimer


@attrs.frozen(kw_only=True)
class Freeze:
    replica: str
    start: float  # wall time the late timer was due
    end: float  # wall time it fired
    leader: bool  # the replica was Leader when it froze
    where: Where  # the late TimerFired record


class FreezeDetector:
    """Feed it one replica's records in order (`begin_run` before each run's first)."""

    def __init__(self, replica: str) -> None:
        self.replica = replica
        self.freezes: list[Freeze] = []
        self._late_after = 10.0 * LATE_SHARE
        self._timers: dict[int, tuple[float, float, float]] = {}  # id -> (at, wall, delay)
        self._state: str | None = None

    def begin_run(self, session_timeout: float, *, mid_run: bool = False) -> None:
        """A new run (its timers are new), or, `mid_run`, a fold that picks a run up in
        the middle: the timers shown to it just before (a window's lead-in) stay."""
        self._late_after = session_timeout * LATE_SHARE
        if not mid_run:
            self._timers.clear()
            self._state = None

    def observe(
        self, where: Where, at: float, event: ev.Event, state: str, effects: Sequence[fx.Effect]
    ) -> None:
        # Called once per record: exact-type checks (events and effects are final classes).
        if type(event) is _TIMER_FIRED:
            issued = self._timers.pop(event.id, None)
            if issued is not None:
                issued_at, issued_wall, delay = issued
                late = at - (issued_at + delay)
                if late > self._late_after:
                    self.freezes.append(
                        Freeze(
                            replica=self.replica,
                            start=issued_wall + delay,
                            end=where.wall,
                            leader=self._state == LEADER,
                            where=where,
                        )
                    )
        if effects:
            timers = self._timers
            for effect in effects:
                if type(effect) is _START_TIMER:
                    timers[effect.id] = (at, where.wall, effect.delay)
                elif type(effect) is _CANCEL_TIMER:
                    timers.pop(effect.id, None)
        self._state = state


def clip_frozen_terms(
    terms: Iterable[Term], freezes: Sequence[Freeze]
) -> tuple[list[Term], list[str]]:
    """Terms with each frozen leader's term ended at its freeze's start, and notes."""
    clipped: list[Term] = []
    notes: list[str] = []
    for term in terms:
        for freeze in freezes:
            if (
                freeze.leader
                and freeze.replica == term.replica
                and term.start <= freeze.start < term.until
            ):
                notes.append(
                    f"{term.replica} was frozen (or starved) for {freeze.end - freeze.start:.3f}s "
                    f"from {hms(freeze.start)} while Leader (token {term.token}): a timer fired "
                    f"that late at {freeze.where}; its term counts as ended when the freeze "
                    "began (it did nothing meanwhile and confirms with ZooKeeper on waking)"
                )
                term = attrs.evolve(term, end=freeze.start, last_seen=freeze.start)
                break
        clipped.append(term)
    return clipped, notes
