"""Simulated time: a queue of callbacks ordered by due time (ties in insertion order)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable


class Scheduled:
    """A callback on the queue; `cancel()` makes it a no-op (the timer handle)."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Clock:
    """The one clock of a simulation. `now` only moves in `run_until`."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[tuple[float, int, Scheduled]] = []
        self._order = itertools.count()

    def at(self, due: float, callback: Callable[[], object]) -> Scheduled:
        entry = Scheduled(callback)
        heapq.heappush(self._queue, (max(due, self.now), next(self._order), entry))
        return entry

    def later(self, delay: float, callback: Callable[[], object]) -> Scheduled:
        return self.at(self.now + max(delay, 0.0), callback)

    def run_until(self, end: float) -> None:
        """Run every callback due up to `end`, in time order, then set `now` to `end`."""
        queue = self._queue
        while queue and queue[0][0] <= end:
            due, _, entry = heapq.heappop(queue)
            self.now = due
            if not entry.cancelled:
                entry.callback()
        self.now = max(self.now, end)


class SimTimerService:
    """The loop's `TimerService` on the simulated clock, gated by the process: a timer
    of a crashed process never fires (its callbacks are simply dropped). `after` runs
    after each callback (the loop's callbacks only enqueue: it wakes the loop)."""

    def __init__(
        self, clock: Clock, alive: Callable[[], bool], after: Callable[[], object]
    ) -> None:
        self._clock = clock
        self._alive = alive
        self._after = after

    def call_later(self, delay: float, callback: Callable[[], object]) -> Scheduled:
        def fire() -> None:
            if self._alive():
                callback()
                self._after()

        return self._clock.later(delay, fire)

    def close(self) -> None:
        pass
