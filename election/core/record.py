"""A journal record: one stamped event and what the reducer made of it."""

from __future__ import annotations

import attrs

from election.core.effects import Effect
from election.core.events import Event


@attrs.frozen(kw_only=True)
class Record:
    """What the loop journals and observers watch: the event, the resulting state's
    name, the effects it caused and, on a state change, the previous state and cause."""

    seq: int
    at: float  # monotonic seconds
    wall: float  # Unix seconds
    event: Event
    state: str  # name of the resulting state, e.g. "Leader"
    effects: tuple[Effect, ...] = ()
    previous: str = ""  # the state before, when it changed
    cause: str = ""  # why the state changed, for a reader (empty when it did not)
    why: str = ""  # its kind (`election.core.cause.Why`); "" in journals from before it
    token: int | None = None  # fencing token while Leader

    @property
    def changed(self) -> bool:
        return bool(self.previous) and self.previous != self.state
