"""`Reply`: exactly one outcome event per effect, ok/failed before the deadline or
unknown after it, whichever comes first; later answers are dropped."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from election.core.events import Event, Outcome
from election.runtime.timers import TimerHandle, TimerService

Put = Callable[[Event], None]


class Reply:
    """Answers the effect with `request` by putting `make(request=…, outcome=…, …)`."""

    def __init__(
        self,
        put: Put,
        make: Callable[..., Event],
        request: int,
        timers: TimerService,
        deadline: float,
    ) -> None:
        self._put = put
        self._make = make
        self._request = request
        self._lock = threading.Lock()
        self._done = False
        self._deadline_seconds = deadline
        # A timer thread may expire a zero deadline before `call_later` returns: every
        # field `_expire` reads is set first, and `_send` copes with no handle yet.
        self._deadline: TimerHandle | None = None
        self._deadline = timers.call_later(deadline, self._expire)

    @property
    def done(self) -> bool:
        return self._done

    def _send(self, outcome: Outcome, fields: dict[str, Any]) -> bool:
        with self._lock:
            if self._done:
                return False
            self._done = True
        if self._deadline is not None:
            self._deadline.cancel()
        self._put(self._make(request=self._request, outcome=outcome, **fields))
        return True

    def ok(self, **fields: Any) -> bool:
        return self._send(Outcome.OK, fields)

    def failed(self, reason: str, **fields: Any) -> bool:
        return self._send(Outcome.FAILED, {"reason": reason, **fields})

    def _expire(self) -> None:
        self._send(Outcome.UNKNOWN, {"reason": f"no answer within {self._deadline_seconds:g}s"})
