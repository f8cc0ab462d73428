"""SIGTERM and SIGINT become `StopRequested` events; the reducer decides the rest (the
second one forces the exit). Should the loop itself be wedged, a third signal ends the
process from the handler."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from types import FrameType

from election.core.events import StopRequested

FORCED_EXIT = 1


def install(put: Callable[[StopRequested], None]) -> Callable[[], None]:
    """Route SIGTERM/SIGINT to `put`; returns a function restoring the old handlers."""
    received = 0

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        received += 1
        if received >= 3:  # the loop did not act on the first two: it is stuck
            os._exit(FORCED_EXIT)
        put(StopRequested(signal=signal.Signals(signum).name))

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, previous in old.items():
            signal.signal(sig, previous)

    return restore
