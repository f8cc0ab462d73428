"""Bounded waits: poll a predicate until it holds, or fail with what was seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A bounded wait ran out (an AssertionError so pytest shows it as a failure)."""


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    message: str | Callable[[], str] = "condition not met",
    interval: float = 0.02,
) -> T:
    """Poll ``predicate`` until it returns something truthy; return that value.

    Raises WaitTimeout after ``timeout`` seconds (the predicate is tried once more at
    the deadline, so a slow machine never fails a check that did become true)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            value = predicate()
            if value:
                return value
            text = message() if callable(message) else message
            raise WaitTimeout(f"after {timeout:g}s: {text}")
        time.sleep(interval)
