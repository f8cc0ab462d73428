"""`Step`: the scratch pad of one reduction.

A handler of the transition table receives a `Step`, reads `step.state`, and records what
should happen: new field values, effects, timers, and at most one state change. It is
local to one call of `reduce`, so the reducer stays a pure function of (state, event).
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from election.core import effects as fx
from election.core.state import TIMER_NAMES, CoreConfig, State, StateName, Timer


class IllegalTransition(Exception):
    """A handler tried a state change the transition table does not declare."""


_STATE_FIELDS = frozenset(f.name for f in attrs.fields(State))
# State has no validators or converters, so its `__init__` would only store the values:
# a new state is a copy of the old one's field dict with the changes made, given to a
# fresh object, without the 30-argument call (the reducer's hot path: replay folds a
# million events through it).
assert not any(f.validator or f.converter for f in attrs.fields(State))
_new_state = object.__new__
_set_dict = object.__setattr__


def capped_backoff(initial: float, failures: int, cap: float) -> float:
    """`initial` doubled for each failure after the first, at most `cap`."""
    exponent = max(failures - 1, 0)
    if exponent > 60:  # 2**61 * anything positive is past any cap
        return cap
    return min(initial * math.pow(2.0, exponent), cap)


class Step:
    """Changes go into `_draft`, a private copy of the state's field dict made at the
    first change, which becomes a new `State` when `state` is read (typically once per
    reduction, at its end)."""

    __slots__ = ("_allowed", "_draft", "_state", "cause", "effects", "previous")

    def __init__(self, state: State, allowed: tuple[StateName, ...]) -> None:
        self._state = state
        self._draft: dict[str, Any] | None = None
        self.effects: list[fx.Effect] = []
        self.previous: StateName | None = None
        self.cause = ""
        self._allowed = allowed

    @property
    def state(self) -> State:
        """The state with every change so far."""
        draft = self._draft
        if draft is not None:
            if len(draft) != len(_STATE_FIELDS):  # a name State(**fields) would refuse
                unknown = ", ".join(sorted(draft.keys() - _STATE_FIELDS))
                raise TypeError(f"State has no field(s) {unknown}")
            new: State = _new_state(State)
            _set_dict(new, "__dict__", draft)  # the draft is the new state's now
            self._state, self._draft = new, None
        return self._state

    def _fields(self) -> dict[str, Any]:
        """The draft to change (made now if this is the first change since a build)."""
        draft = self._draft
        if draft is None:
            draft = self._draft = self._state.__dict__.copy()
        return draft

    def _get(self, name: str) -> Any:
        """One field's current value, without building a state."""
        draft = self._draft
        return (self._state.__dict__ if draft is None else draft)[name]

    # --- fields and effects ----------------------------------------------------------

    def set(self, **changes: object) -> None:
        self._fields().update(changes)

    def _new_id(self) -> int:
        fields = self._fields()
        new_id: int = fields["next_id"]
        fields["next_id"] = new_id + 1
        return new_id

    def new_request(self) -> int:
        """A fresh request id for an effect tracked outside `pending`."""
        return self._new_id()

    def request(self, make: type[fx.Effect], **fields: object) -> int:
        """Emit the effect `make(request=<new id>, **fields)` and await its answer."""
        draft = self._fields()
        request: int = draft["next_id"]
        draft["next_id"] = request + 1
        draft["pending"] = (*draft["pending"], (request, make.__name__))
        self.effects.append(make(request=request, **fields))  # type: ignore[call-arg]
        return request

    def answered(self, request: int) -> bool:
        """The answer to `request` has arrived: stop awaiting it. False (and nothing
        changes) if it was not awaited: a stale answer, of an earlier state."""
        pending: tuple[tuple[int, str], ...] = self._get("pending")
        for awaited, _ in pending:
            if awaited == request:
                self._fields()["pending"] = tuple([p for p in pending if p[0] != request])
                return True
        return False

    def _timers(self) -> tuple[tuple[Timer, int], ...]:
        timers: tuple[tuple[Timer, int], ...] = self._get("timers")
        return timers

    def start_timer(self, name: Timer, delay: float) -> None:
        """Start (or restart) the timer `name`; a fire of its old id becomes stale."""
        draft = self._fields()
        timer_id: int = draft["next_id"]
        draft["next_id"] = timer_id + 1
        draft["timers"] = (*[t for t in draft["timers"] if t[0] != name], (name, timer_id))
        self.effects.append(fx.StartTimer(name=TIMER_NAMES[name], id=timer_id, delay=delay))

    def fired(self, name: Timer, timer_id: int) -> bool:
        """The timer `name` fired with `timer_id`: True if that is its live id (it is
        then no longer live); False, changing nothing, for a stale fire."""
        timers = self._timers()
        for timer, live in timers:
            if live == timer_id:
                if timer != name:
                    return False
                self._fields()["timers"] = tuple([t for t in timers if t[0] != name])
                return True
        return False

    def cancel_timer(self, name: Timer) -> None:
        timers = self._timers()
        for timer, timer_id in timers:
            if timer == name:
                self._fields()["timers"] = tuple([t for t in timers if t[0] != name])
                self.effects.append(fx.CancelTimer(name=TIMER_NAMES[name], id=timer_id))
                return

    def backoff(self, failures: int | None = None) -> float:
        """Capped exponential back-off for the current run of failures (or `failures`)."""
        cfg: CoreConfig = self._get("config")
        count = self._get("failures") if failures is None else failures
        return capped_backoff(cfg.backoff_initial, count, cfg.backoff_max)

    def job_backoff(self, failures: int) -> float:
        """The wait after the `failures`-th job failure in a row (restart or compete)."""
        cfg: CoreConfig = self._get("config")
        return capped_backoff(cfg.child_backoff_initial, failures, cfg.child_backoff_max)

    # --- state changes ---------------------------------------------------------------

    def goto(self, target: StateName, cause: str) -> None:
        """Leave the current state for `target`: cancel its timers, forget its requests
        (and what Failover was repairing); the caller then runs `target`'s entry. Only
        the declared targets of the rule are allowed."""
        name: StateName = self._get("name")
        if target not in self._allowed:
            raise IllegalTransition(f"{name} -> {target} is not in the table")
        if self.previous is None:
            self.previous = name
        self.cause = cause
        for timer, _ in self._timers():
            self.cancel_timer(timer)
        # Leadership ends with the state: the job learns it at once (SIGTERM now, SIGKILL
        # after the grace), and the token is only ever set while Leader.
        self.stop_child()
        self.set(name=target, pending=(), repair=(), cause=cause, token=None, write_due=False)

    def stop_child(self) -> None:
        """Ask the running job (if any, and not already asked) to stop."""
        s = self.state
        if s.child_pid is not None and not s.child_stopping:
            self.effects.append(fx.StopChild(pid=s.child_pid, grace=s.config.exec_grace))
            self.set(child_stopping=True)
