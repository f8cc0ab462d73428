"""Helpers for the short fuzz tests (tests/unit/test_fuzz_*.py): a per-case hang guard
and the Hypothesis profile they share. A longer run: `FUZZ_EXAMPLES=20000 pytest
tests/unit/test_fuzz_*.py` (docs/security.md)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from types import FrameType

from hypothesis import HealthCheck, settings

# Short in `make test`; FUZZ_EXAMPLES makes a long run of the same tests.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
HANG_SECONDS = 20  # far beyond any sane case: only a hang (or a quadratic blow-up) trips it

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the hang guard bounds each case instead of a flaky timing assert
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("FUZZ_EXAMPLES") is None,  # make test: reproducible
)


class Hang(AssertionError):
    pass


@contextlib.contextmanager
def no_hang(seconds: int = HANG_SECONDS) -> Iterator[None]:
    """Fail (rather than wait forever) if the body runs longer than `seconds`."""

    def expired(_signum: int, _frame: FrameType | None) -> None:
        raise Hang(f"a single case ran longer than {seconds}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
