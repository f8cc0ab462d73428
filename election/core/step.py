"""`Step`: the scratch pad of one reduction.

A handler of the transition table receives a `Step`, reads `step.state`, and records what
should happen: new field values, effects, timers, and at most one state change. It is
local to one call of `reduce`, so the reducer stays a pure function of (state, event).
"""

from __future__ import annotations

import math

import attrs

from election.core import effects as fx
from election.core.state import State, StateName, Timer


class IllegalTransition(Exception):
    """A handler tried a state change the transition table does not declare."""


class Step:
    def __init__(self, state: State, allowed: tuple[StateName, ...]) -> None:
        self.state = state
        self.effects: list[fx.Effect] = []
        self.previous: StateName | None = None
        self.cause = ""
        self._allowed = allowed

    # --- fields and effects ----------------------------------------------------------

    def set(self, **changes: object) -> None:
        self.state = attrs.evolve(self.state, **changes)  # type: ignore[arg-type]

    def _new_id(self) -> int:
        new_id = self.state.next_id
        self.set(next_id=new_id + 1)
        return new_id

    def new_request(self) -> int:
        """A fresh request id for an effect tracked outside `pending`."""
        return self._new_id()

    def request(self, make: type[fx.Effect], **fields: object) -> int:
        """Emit the effect `make(request=<new id>, **fields)` and await its answer."""
        request = self._new_id()
        self.effects.append(make(request=request, **fields))  # type: ignore[call-arg]
        self.set(pending=(*self.state.pending, (request, make.__name__)))
        return request

    def answered(self, request: int) -> None:
        """The answer to `request` has arrived: stop awaiting it."""
        self.set(pending=tuple(p for p in self.state.pending if p[0] != request))

    def start_timer(self, name: Timer, delay: float) -> None:
        """Start (or restart) the timer `name`; a fire of its old id becomes stale."""
        timer_id = self._new_id()
        others = tuple(t for t in self.state.timers if t[0] != name)
        self.set(timers=(*others, (name, timer_id)))
        self.effects.append(fx.StartTimer(name=name.value, id=timer_id, delay=delay))

    def cancel_timer(self, name: Timer) -> None:
        timer_id = self.state.timer_id(name)
        if timer_id is not None:
            self.set(timers=tuple(t for t in self.state.timers if t[0] != name))
            self.effects.append(fx.CancelTimer(name=name.value, id=timer_id))

    def backoff(self) -> float:
        """Capped exponential back-off for the current run of failures."""
        cfg = self.state.config
        exponent = max(self.state.failures - 1, 0)
        if exponent > 60:  # 2**61 * anything positive is past any cap
            return cfg.backoff_max
        return min(cfg.backoff_initial * math.pow(2.0, exponent), cfg.backoff_max)

    # --- state changes ---------------------------------------------------------------

    def goto(self, target: StateName, cause: str) -> None:
        """Leave the current state for `target`: cancel its timers, forget its requests,
        then run `target`'s entry. Only the declared targets of the rule are allowed."""
        if target not in self._allowed:
            raise IllegalTransition(f"{self.state.name} -> {target} is not in the table")
        if self.previous is None:
            self.previous = self.state.name
        self.cause = cause
        for name, _ in self.state.timers:
            self.cancel_timer(name)
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
