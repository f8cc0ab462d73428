"""`make demo` exits 0 after what the README invites: a replica killed is part of it."""

from __future__ import annotations

import pytest

from election_testkit.demo import demo_exit_code


@pytest.mark.parametrize(
    ("codes", "exit_code"),
    [
        ([0, 0, 0], 0),
        ([0, -9, 0], 0),  # pkill -KILL, as the README suggests
        ([-15, -9, 0], 0),
        ([0, 2, 0], 1),  # a replica refused its configuration
        ([3, 0, 0], 1),  # an internal error
    ],
)
def test_only_a_replica_that_failed_by_itself_fails_the_demo(
    codes: list[int], exit_code: int
) -> None:
    assert demo_exit_code(codes) == exit_code
