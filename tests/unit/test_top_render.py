"""`election top`'s table, rendered on rich's recording console."""

from __future__ import annotations

from rich.console import Console

from election.observe.members import (
    SESSION_LOST,
    STOPPED,
    FlashTracker,
    MemberRow,
    build_rows,
    member_document,
)
from election.observe.top import Snapshot, render


def doc(replica: str, state: str, since: float, token: int | None = None) -> bytes:
    return member_document(
        replica=replica,
        state=state,
        since=since,
        token=token,
        metrics=None,
        host="node",
        pid=100,
        version="0.1.0",
    )


def text_of(snapshot: Snapshot, now: float = 1010.0) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(render(snapshot, "127.0.0.1:2181", "/election/leader", now))
    return console.export_text()


def line_of(text: str, replica: str) -> str:
    lines = [line for line in text.splitlines() if f"│ {replica} " in line]
    assert len(lines) == 1, text
    return lines[0]


def test_every_replica_shows_with_its_state_and_the_leader_is_marked() -> None:
    rows = build_rows(
        {
            "r1": doc("r1", "Attempter", since=1000.0),
            "r2": doc("r2", "Leader", since=1004.0, token=4294967310),
            "r3": doc("r3", "Failover", since=1009.0),
        }
    )
    text = text_of(Snapshot(rows=tuple(rows), holder="r2", holder_token=4294967310))
    assert "Attempter" in line_of(text, "r1") and "10.0s" in line_of(text, "r1")
    leader = line_of(text, "r2")
    assert "Leader" in leader and "*" in leader and "4294967310" in leader and "6.0s" in leader
    assert "Failover" in line_of(text, "r3") and "*" not in line_of(text, "r3")
    assert "3 replicas; leader r2 (token 4294967310)" in text


def test_one_replica_is_counted_in_the_singular() -> None:
    rows = build_rows({"r1": doc("r1", "Leader", since=1004.0, token=7)})
    text = text_of(Snapshot(rows=tuple(rows), holder="r1", holder_token=7))
    assert "1 replica; leader r1" in text and "1 replicas" not in text


def test_an_unreadable_member_is_a_row_not_a_crash() -> None:
    rows = build_rows({"evil": b"\x00garbage", "r1": doc("r1", "Leader", since=1000.0)})
    text = text_of(Snapshot(rows=tuple(rows)))
    assert "unreadable" in line_of(text, "evil")
    assert "no leader node" in text


def test_two_replicas_saying_leader_is_called_out() -> None:
    rows = build_rows({"a": doc("a", "Leader", 1000.0), "b": doc("b", "Leader", 1000.0)})
    assert "several replicas say Leader: a, b" in text_of(Snapshot(rows=tuple(rows)))


def test_a_zookeeper_error_is_shown_with_the_last_rows() -> None:
    rows = build_rows({"r1": doc("r1", "Leader", since=1000.0)})
    text = text_of(Snapshot(rows=tuple(rows), error="ConnectionLoss"))
    assert "ZooKeeper: ConnectionLoss" in text and "r1" in text


def test_a_hand_over_highlights_the_rows_that_changed() -> None:
    flashes = FlashTracker()
    before = build_rows({"a": doc("a", "Leader", 1000.0), "b": doc("b", "Attempter", 1000.0)})
    flashes.mark(before, now=5.0)
    after = flashes.mark(
        build_rows({"b": doc("b", "Leader", 1009.0), "c": doc("c", "Init", 1009.0)}), now=5.5
    )
    console = Console(record=True, width=160, color_system="truecolor", force_terminal=True)
    console.print(render(Snapshot(rows=tuple(after)), "zk", "/e/leader", 1010.0))
    assert [r.flash for r in after] == [True, False]  # b changed; c is new
    assert "\x1b[7m" in console.export_text(styles=True)  # reverse video on b's row


def _wide_rows() -> Snapshot:
    docs = {
        name: member_document(
            replica=name,
            state=state,
            since=1000.0,
            token=token,
            metrics="127.0.0.1:9101",
            host="worker-17.example",
            pid=123456,
            version="0.1.0",
        )
        for name, state, token in (("alpha", "Leader", 7), ("beta", "Attempter", None))
    }
    return Snapshot(rows=tuple(build_rows(docs)), holder="alpha", holder_token=7)


def test_a_narrow_terminal_loses_whole_columns_not_the_states() -> None:
    snapshot = _wide_rows()
    console = Console(record=True, width=80, color_system=None)
    console.print(render(snapshot, "127.0.0.1:2181", "/election/leader", 1010.0, console.width))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    beta = line_of(text, "beta")
    assert "Attempter" in beta and "…" not in beta  # nothing cut short
    assert "127.0.0.1:9101" not in text  # the metrics column went first, then the last change
    assert "(too narrow for last change, metrics: see election status --json)" in text


def test_a_wide_terminal_shows_every_column() -> None:
    snapshot = _wide_rows()
    console = Console(record=True, width=160, color_system=None)
    console.print(render(snapshot, "127.0.0.1:2181", "/election/leader", 1010.0, console.width))
    text = console.export_text()
    assert "worker-17.example/123456" in line_of(text, "alpha")
    assert "127.0.0.1:9101" in line_of(text, "alpha")
    assert "too narrow" not in text


def test_one_snapshot_names_no_keys_to_press() -> None:
    console = Console(record=True, width=160, color_system=None)
    console.print(render(_wide_rows(), "zk", "/e", 1010.0, live=False))
    text = console.export_text()
    assert "* leader · ! stale" in text and "q or Ctrl-C" not in text
    assert "q or Ctrl-C quits" in text_of(_wide_rows())  # the live table does


def test_replicas_that_left_show_how_for_a_few_seconds_dimmed_beneath_the_others() -> None:
    rows = build_rows({"r1": doc("r1", "Leader", since=1004.0, token=7)})
    left = (
        MemberRow(name="r2", state="Stopping", host="node", pid=101, left=STOPPED, left_at=1008.8),
        MemberRow(name="r3", state="Leader", host="node", pid=102, left=SESSION_LOST,
                  left_at=1009.5),
    )  # fmt: skip
    text = text_of(Snapshot(rows=tuple(rows), left=left, holder="r1", holder_token=7, wall=1010.0))
    assert "left: stopped" in line_of(text, "r2") and "1.2s ago" in line_of(text, "r2")
    assert "left: session lost" in line_of(text, "r3") and "0.5s ago" in line_of(text, "r3")
    assert "1 replica; leader r1" in text  # those that left are not counted
    said = " ".join(text.split())
    assert "r2 left 1.2s ago: it stopped (its last word was Stopping)" in said
    assert (
        "r3 left 0.5s ago: its session was lost while Leader without a stop (it crashed, "
        "or was cut off until its session expired)"
    ) in said
    assert "dim: left within 5 s" in said
