"""The timer service: runs a callback after a delay, on one thread.

The core's timers (`StartTimer`/`CancelTimer`) and the shell's request deadlines both
use it. `FakeTimerService` replaces it in tests: time moves only when the test says.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("election.timers")


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class TimerService(Protocol):
    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...

    def close(self) -> None: ...


class _Entry:
    __slots__ = ("callback", "cancelled", "due")

    def __init__(self, due: float, callback: Callable[[], None]) -> None:
        self.due = due
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ThreadTimerService:
    """One daemon thread sleeping until the earliest due entry (a heap), so a daemon
    with many timers and deadlines still has one timer thread. Callbacks must be quick:
    they only put an event on the loop's queue."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, _Entry]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="election-timers", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        entry = _Entry(self._clock() + max(delay, 0.0), callback)
        with self._cond:
            heapq.heappush(self._heap, (entry.due, next(self._order), entry))
            self._cond.notify()
        return entry

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=2.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    wait = self._heap[0][0] - self._clock()
                    if wait <= 0:
                        break
                    self._cond.wait(timeout=wait)
                if self._closed:
                    return
                _, _, entry = heapq.heappop(self._heap)
            if not entry.cancelled:
                try:
                    entry.callback()
                except Exception:  # one buggy callback must not end every later timer
                    log.exception("timer callback %r failed", entry.callback)


class FakeTimerService:
    """A timer service whose time is moved by `advance`; for deterministic tests."""

    def __init__(self) -> None:
        self.now = 0.0
        self._entries: list[tuple[float, int, _Entry]] = []
        self._order = itertools.count()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        entry = _Entry(self.now + max(delay, 0.0), callback)
        heapq.heappush(self._entries, (entry.due, next(self._order), entry))
        return entry

    @property
    def pending(self) -> list[float]:
        """Due times of the live entries, earliest first."""
        return sorted(e.due for _, _, e in self._entries if not e.cancelled)

    def advance(self, seconds: float) -> int:
        """Move time forward, running every entry that comes due; returns how many ran."""
        target = self.now + seconds
        ran = 0
        while self._entries and self._entries[0][0] <= target:
            due, _, entry = heapq.heappop(self._entries)
            self.now = max(self.now, due)
            if not entry.cancelled:
                entry.callback()
                ran += 1
        self.now = target
        return ran

    def close(self) -> None:
        self._entries.clear()
