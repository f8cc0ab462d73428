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
# a new state is the old one's field dict with the changes applied, without the
# 30-argument call (the reducer's hot path; replay folds a million events through it).
assert not any(f.validator or f.converter for f in attrs.fields(State))
_new_state = object.__new__
_set_dict = object.__setattr__


def _evolve(state: State, changes: dict[str, object]) -> State:
    fields = state.__dict__.copy()
    fields.update(changes)
    new: State = _new_state(State)
    _set_dict(new, "__dict__", fields)  # a fresh object: nothing else sees it yet
    return new


class Step:
    """Field changes accumulate in `_changes` and become a new `State` only when
    `state` is read (typically once per reduction): the reducer's hot path."""

    __slots__ = ("_allowed", "_changes", "_state", "cause", "effects", "previous")

    def __init__(self, state: State, allowed: tuple[StateName, ...]) -> None:
        self._state = state
        self._changes: dict[str, object] = {}
        self.effects: list[fx.Effect] = []
        self.previous: StateName | None = None
        self.cause = ""
        self._allowed = allowed

    @property
    def state(self) -> State:
        """The state with every change so far."""
        if self._changes:
            self._state = _evolve(self._state, self._changes)
            self._changes = {}
        return self._state

    def _get(self, name: str) -> Any:
        """One field's current value, without building a state."""
        changes = self._changes
        return changes[name] if name in changes else getattr(self._state, name)

    # --- fields and effects ----------------------------------------------------------

    def set(self, **changes: object) -> None:
        if not _STATE_FIELDS.issuperset(changes):  # what State(**fields) would refuse
            unknown = ", ".join(sorted(set(changes) - _STATE_FIELDS))
            raise TypeError(f"State has no field(s) {unknown}")
        self._changes.update(changes)

    def _new_id(self) -> int:
        new_id: int = self._get("next_id")
        self._changes["next_id"] = new_id + 1
        return new_id

    def new_request(self) -> int:
        """A fresh request id for an effect tracked outside `pending`."""
        return self._new_id()

    def request(self, make: type[fx.Effect], **fields: object) -> int:
        """Emit the effect `make(request=<new id>, **fields)` and await its answer."""
        request = self._new_id()
        self.effects.append(make(request=request, **fields))  # type: ignore[call-arg]
        self._changes["pending"] = (*self._get("pending"), (request, make.__name__))
        return request

    def answered(self, request: int) -> None:
        """The answer to `request` has arrived: stop awaiting it."""
        pending = self._get("pending")
        self._changes["pending"] = tuple([p for p in pending if p[0] != request])

    def _timers(self) -> tuple[tuple[Timer, int], ...]:
        timers: tuple[tuple[Timer, int], ...] = self._get("timers")
        return timers

    def start_timer(self, name: Timer, delay: float) -> None:
        """Start (or restart) the timer `name`; a fire of its old id becomes stale."""
        timer_id = self._new_id()
        others = [t for t in self._timers() if t[0] != name]
        self._changes["timers"] = (*others, (name, timer_id))
        self.effects.append(fx.StartTimer(name=TIMER_NAMES[name], id=timer_id, delay=delay))

    def cancel_timer(self, name: Timer) -> None:
        timers = self._timers()
        for timer, timer_id in timers:
            if timer == name:
                self._changes["timers"] = tuple([t for t in timers if t[0] != name])
                self.effects.append(fx.CancelTimer(name=TIMER_NAMES[name], id=timer_id))
                return

    def backoff(self) -> float:
        """Capped exponential back-off for the current run of failures."""
        cfg: CoreConfig = self._get("config")
        exponent = max(self._get("failures") - 1, 0)
        if exponent > 60:  # 2**61 * anything positive is past any cap
            return cfg.backoff_max
        return min(cfg.backoff_initial * math.pow(2.0, exponent), cfg.backoff_max)

    # --- state changes ---------------------------------------------------------------

    def goto(self, target: StateName, cause: str) -> None:
        """Leave the current state for `target`: cancel its timers, forget its requests,
        then run `target`'s entry. Only the declared targets of the rule are allowed."""
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
        self.set(name=target, pending=(), cause=cause, token=None, write_due=False)

    def stop_child(self) -> None:
        """Ask the running job (if any, and not already asked) to stop."""
        s = self.state
        if s.child_pid is not None and not s.child_stopping:
            self.effects.append(fx.StopChild(pid=s.child_pid, grace=s.config.exec_grace))
            self.set(child_stopping=True)
