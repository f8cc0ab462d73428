"""Leader file names and pruning choices, without touching a disk."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from election.core.leaderfiles import (
    files_to_prune,
    highest_token,
    leader_file_name,
    parse_leader_file_name,
)


def test_names_round_trip_and_sort_by_token_then_seq() -> None:
    names = [leader_file_name(t, s) for t, s in [(7, 2), (7, 10), (12, 1), (100, 1)]]
    assert sorted(names) == names
    assert [parse_leader_file_name(n) for n in names] == [(7, 2), (7, 10), (12, 1), (100, 1)]


def test_foreign_files_that_merely_start_with_election_are_not_ours() -> None:
    for name in [
        "election-notes.txt",
        "election-1-1.json",
        "election-00000000000000000007-0000000001.json.bak",
        ".election-tmp-7-1-123",
        "xelection-00000000000000000007-0000000001.json",
    ]:
        assert parse_leader_file_name(name) is None


def test_prune_removes_the_oldest_beyond_capacity() -> None:
    names = [leader_file_name(5, s) for s in range(1, 6)] + ["election-notes.txt"]
    assert files_to_prune(names, keep=3, token=5) == [
        leader_file_name(5, 1),
        leader_file_name(5, 2),
    ]


def test_prune_never_returns_a_file_of_a_higher_token() -> None:
    names = [leader_file_name(9, 1), leader_file_name(9, 2), leader_file_name(5, 1)]
    assert files_to_prune(names, keep=1, token=5) == [leader_file_name(5, 1)]


def test_highest_token() -> None:
    assert highest_token(["x", leader_file_name(3, 1), leader_file_name(8, 1)]) == 8
    assert highest_token(["x"]) is None


@given(
    files=st.lists(st.tuples(st.integers(1, 10**6), st.integers(1, 10**4)), unique=True),
    foreign=st.lists(st.text(min_size=1, max_size=30)),
    keep=st.integers(1, 20),
    token=st.integers(1, 10**6),
)
def test_prune_only_ever_picks_our_own_files_at_or_below_our_token(
    files: list[tuple[int, int]], foreign: list[str], keep: int, token: int
) -> None:
    names = [leader_file_name(t, s) for t, s in files] + foreign
    chosen = files_to_prune(names, keep, token)
    for name in chosen:
        parsed = parse_leader_file_name(name)
        assert parsed is not None and parsed[0] <= token
    ours = [n for n in names if parse_leader_file_name(n)]
    assert len(ours) - len(chosen) >= min(keep, len(ours))
