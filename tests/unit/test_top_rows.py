"""Member node data -> `election top` rows: our own documents, and anything else."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from election.observe.members import (
    MAX_MEMBER_BYTES,
    SESSION_LOST,
    STOPPED,
    Departures,
    FlashTracker,
    MemberRow,
    build_rows,
    format_duration,
    member_document,
    members_path,
    parse_member,
)
from election.observe.top import Snapshot, render


def doc(replica: str, state: str, since: float = 1000.0, token: int | None = None) -> bytes:
    return member_document(
        replica=replica,
        state=state,
        since=since,
        token=token,
        metrics="127.0.0.1:9101",
        host="vm",
        pid=42,
        version="0.1.0",
    )


def test_members_live_beside_the_election_node() -> None:
    assert members_path("/election/leader") == "/election/members"
    assert members_path("/a/b/c") == "/a/b/members"
    assert members_path("/leader") == "/members"


def test_our_own_document_reads_back_whole() -> None:
    row = parse_member("r1", doc("r1", "Leader", since=1000.5, token=77))
    assert row == MemberRow(
        name="r1",
        state="Leader",
        since=1000.5,
        token=77,
        host="vm",
        pid=42,
        metrics="127.0.0.1:9101",
        version="0.1.0",
    )
    assert row.leader and row.readable
    assert row.in_state(1003.0) == 2.5
    assert row.in_state(900.0) == 0.0  # a clock behind ours never shows negative time


def test_rows_put_the_leader_first_then_sort_by_name() -> None:
    rows = build_rows({"c": doc("c", "Attempter"), "b": doc("b", "Leader"), "a": doc("a", "Init")})
    assert [(r.name, r.state) for r in rows] == [("b", "Leader"), ("a", "Init"), ("c", "Attempter")]


def test_hostile_documents_become_unreadable_rows() -> None:
    cases = {
        "not-json": b"\xff\xfe{",
        "array": b"[1,2]",
        "no-state": b'{"replica":"x"}',
        "wrong-state": b'{"state":"King"}',
        "state-number": b'{"state":5}',
        "token-text": b'{"state":"Leader","token":"7"}',
        "token-bool": b'{"state":"Leader","token":true}',
        "since-text": b'{"state":"Init","since":"yesterday"}',
        "since-nan": b'{"state":"Init","since":NaN}',
        "pid-negative": b'{"state":"Init","pid":-1}',
        "huge": b'{"state":"Init","host":"' + b"x" * MAX_MEMBER_BYTES + b'"}',
        "deep": b"[" * 100_000 + b"]" * 100_000,
        "control-chars": b'{"state":"Init","host":"a\\u001b[2Jb"}',
    }
    rows = {name: parse_member(name, data) for name, data in cases.items()}
    for name, row in rows.items():
        assert not row.readable, name
        assert not row.leader, name
    assert "too large" in rows["huge"].problem
    assert parse_member("empty", None).problem == "no data"


@given(name=st.text(max_size=300), data=st.one_of(st.none(), st.binary(max_size=2000)))
def test_any_bytes_make_a_row_and_never_raise(name: str, data: bytes | None) -> None:
    row = parse_member(name, data)
    assert isinstance(row, MemberRow)
    assert row.name.isprintable()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    fields=st.dictionaries(
        st.sampled_from(["replica", "state", "since", "token", "host", "pid", "metrics"]),
        json_values,
    )
)
def test_any_json_object_makes_a_row_that_renders(fields: dict[str, object]) -> None:
    data = json.dumps(fields).encode()
    row = parse_member("m", data)
    console = Console(record=True, width=160, color_system=None)
    console.print(render(Snapshot(rows=(row,)), "zk:2181", "/e/leader", now=2000.0))
    assert "m" in console.export_text()


def test_a_state_change_flashes_for_two_seconds_and_a_newcomer_does_not() -> None:
    flashes = FlashTracker(seconds=2.0)
    first = flashes.mark([parse_member("a", doc("a", "Leader"))], now=10.0)
    assert not first[0].flash
    changed = flashes.mark([parse_member("a", doc("a", "Stopping"))], now=11.0)
    assert changed[0].flash
    assert flashes.mark([parse_member("a", doc("a", "Stopping"))], now=12.5)[0].flash
    assert not flashes.mark([parse_member("a", doc("a", "Stopping"))], now=13.5)[0].flash


def test_durations_are_short() -> None:
    assert format_duration(None) == "-"
    assert format_duration(4.25) == "4.2s"
    assert format_duration(185) == "3m05s"
    assert format_duration(7380) == "2h03m"


# ---------------------------------------------------------------- how a replica left


def _row(name: str, state: str) -> MemberRow:
    return MemberRow(name=name, state=state, host="vm", pid=7)


def test_a_replica_that_left_stays_a_few_seconds_saying_how() -> None:
    departures = Departures(seconds=5.0)
    assert departures.mark([_row("r1", "Leader"), _row("r2", "Attempter")], now=100.0) == []
    # r2's node said Stopping when last read: it stopped.
    departures.mark([_row("r1", "Leader"), _row("r2", "Stopping")], now=100.5)
    (gone,) = departures.mark([_row("r1", "Leader")], now=101.0)
    assert (gone.name, gone.left, gone.left_at, gone.state) == ("r2", STOPPED, 101.0, "Stopping")
    assert departures.mark([_row("r1", "Leader")], now=105.9) == [gone]
    assert departures.mark([_row("r1", "Leader")], now=106.0) == []  # long enough


def test_a_node_that_changed_just_before_it_went_said_stopping() -> None:
    # A stopping replica's last word lands just before its session closes: too close to
    # read, but its watch fired.
    departures = Departures()
    departures.mark([_row("r1", "Leader")], now=100.0)
    (gone,) = departures.mark([], now=100.5, changed={"r1"})
    assert gone.left == STOPPED


def test_a_node_that_went_from_another_state_lost_its_session() -> None:
    departures = Departures()
    departures.mark([_row("r1", "Leader"), _row("r2", "Attempter")], now=100.0)
    (gone,) = departures.mark([_row("r2", "Attempter")], now=100.5, changed={"r2"})
    assert (gone.name, gone.left, gone.state) == ("r1", SESSION_LOST, "Leader")


def test_a_replica_that_comes_back_is_no_longer_shown_as_gone() -> None:
    departures = Departures()
    departures.mark([_row("r1", "Leader")], now=100.0)
    assert len(departures.mark([], now=100.5)) == 1
    assert departures.mark([_row("r1", "Init")], now=101.0) == []
