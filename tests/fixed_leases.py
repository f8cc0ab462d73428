"""A lease source without ZooKeeper, for tests of the job runner and its supervisor."""

from __future__ import annotations

import time
from collections.abc import Callable

from election.runtime.lease import Grant
from election.runtime.timers import TimerService


class FixedLeases:
    """Every holder's lease is always `seconds` ahead, renewed every `every` seconds;
    `paused` stops the renewals (the daemon frozen, as the supervisor sees it)."""

    def __init__(
        self,
        timers: TimerService,
        seconds: float = 3600.0,
        every: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timers = timers
        self._seconds = seconds
        self._every = every
        self._clock = clock
        self.paused = False  # True: no more renewals (a frozen daemon, as the job sees it)

    def hold(self, token: int, grant: Grant) -> Callable[[], None]:
        held = True

        def renew() -> None:
            if not held:
                return
            if not self.paused:
                grant(self._clock() + self._seconds)
            self._timers.call_later(self._every, renew)

        def release() -> None:
            nonlocal held
            held = False

        renew()
        return release

    def fitting_grace(self, grace: float) -> float:
        return grace
