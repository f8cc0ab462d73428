"""`election run --tui`: the view folds records and renders them (recording console)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from rich.console import Console

from election.core import effects as fx
from election.core import events as ev
from election.core.record import Record
from election.observe.lookout import Sighting
from election.observe.tui import RECENT, LiveView, ReplicaView, one_line, render


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def record(
    seq: int, at: float, event: ev.Event, state: str, previous: str = "", **kw: object
) -> Record:
    return Record(
        seq=seq,
        at=at,
        wall=1_700_000_000.0 + at,
        event=event,
        state=state,
        previous=previous,
        **kw,  # type: ignore[arg-type]
    )


def history() -> list[Record]:
    return [
        record(1, 100.0, ev.Started(), "Init"),
        record(2, 100.1, ev.SessionConnected(session_id=0xABC, server="127.0.0.1:2181"), "Init"),
        record(3, 100.2, ev.PathEnsured(request=3, outcome=ev.Outcome.OK), "Attempter",
               previous="Init", cause="checks passed"),
        record(4, 100.3, ev.NodeCreated(request=4, outcome=ev.Outcome.OK, token=77), "Leader",
               previous="Attempter", cause="election node created", token=77,
               effects=(fx.WriteLeaderFile(request=5, token=77, seq=1, replica="r1"),)),
        record(5, 100.4, ev.FileWritten(request=5, outcome=ev.Outcome.OK, name="election-1"),
               "Leader", token=77),
    ]  # fmt: skip


def make_view(tmp_path: Path, clock: Clock) -> ReplicaView:
    return ReplicaView(
        replica="r1",
        election_path="/election/leader",
        zk_servers=("127.0.0.1:2181",),
        file_dir=tmp_path,
        capacity=5,
        clock=clock,
    )


def screen(view: ReplicaView, now: float) -> str:
    console = Console(record=True, width=140, color_system=None)
    console.print(render(view.snapshot(), now))
    return console.export_text()


def test_the_view_shows_state_token_session_files_and_recent_records(tmp_path: Path) -> None:
    (tmp_path / "election-00000000000000000077-0000000001.json").write_text("{}")
    (tmp_path / "election-foreign.txt").write_text("not ours")
    clock = Clock()
    view = make_view(tmp_path, clock)
    for r in history():
        view(r)
    text = screen(view, now=103.3)
    assert "election · r1 · /election/leader" in text
    assert "Leader" in text and "3.0s" in text  # entered at 100.3
    assert "77" in text
    assert "transitions  2" in text
    assert "connected 0xabc" in text and "127.0.0.1:2181" in text
    assert "1 / 5" in text  # one file of ours, the foreign one does not count
    assert "NodeCreated ok  Attempter -> Leader (election node created)" in text
    assert "FileWritten ok election-1" in text


def test_time_in_state_ticks_with_the_clock(tmp_path: Path) -> None:
    view = make_view(tmp_path, Clock())
    for r in history():
        view(r)
    assert "in state  1.0s" in screen(view, now=101.3)
    assert "in state  9.0s" in screen(view, now=109.3)


def test_only_the_last_records_are_shown(tmp_path: Path) -> None:
    view = make_view(tmp_path, Clock())
    for seq in range(1, 41):
        view(record(seq, 100.0 + seq, ev.TimerFired(name="write", id=seq), "Leader", token=7))
    records = view.snapshot().records
    assert len(records) == RECENT and records[-1].seq == 40


def test_session_trouble_shows(tmp_path: Path) -> None:
    view = make_view(tmp_path, Clock())
    for r in history():
        view(r)
    view(record(6, 101.0, ev.SessionSuspended(), "Failover", previous="Leader",
                cause="session suspended"))  # fmt: skip
    text = screen(view, now=102.0)
    assert "suspended" in text and "Failover" in text and "transitions  3" in text


def test_log_lines_go_beneath_the_panel(tmp_path: Path) -> None:
    view = make_view(tmp_path, Clock())
    console = Console(record=True, width=140, color_system=None, force_terminal=True)
    live = LiveView(view, console=console)
    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        live.start()
        logging.getLogger("election.test").warning("disk is slow")
    finally:
        live.close()
        for handler in saved:
            root.addHandler(handler)
    text = console.export_text()
    panel_end = text.rindex("╰")
    assert text.index("disk is slow") > panel_end


def test_one_line_keeps_a_failure_reason() -> None:
    line = one_line(
        record(9, 1.0, ev.NodeCreated(request=3, outcome=ev.Outcome.FAILED,
                                      failure=ev.CreateFailure.NODE_EXISTS), "Attempter")
    )  # fmt: skip
    assert "NodeCreated failed node-exists" in line


def test_an_invalid_tui_variable_is_refused_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from election.cli import main

    result = CliRunner().invoke(
        main,
        ["run", "--file-dir", str(tmp_path / "f"), "--journal", str(tmp_path / "j.jsonl")],
        env={"ELECTION_TUI": "sometimes"},
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("election: invalid --tui (ELECTION_TUI): must be one of")
    assert list(tmp_path.iterdir()) == []


def test_top_refuses_an_invalid_election_path_in_one_line() -> None:
    from click.testing import CliRunner

    from election.cli import main

    result = CliRunner().invoke(main, ["top", "--election-path", "relative/path", "--once"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "election top: invalid --election-path (ELECTION_ELECTION_PATH)"
    )


def _is_leader_row(line: str) -> bool:
    return line.strip("│ ").startswith("leader ")


def leader_line(view: ReplicaView, seen: Sighting, wall: float = 2000.0) -> str:
    console = Console(record=True, width=140, color_system=None)
    console.print(render(view.snapshot(), 101.0, seen, wall))
    lines = [line for line in console.export_text().splitlines() if _is_leader_row(line)]
    assert len(lines) == 1, console.export_text()
    return lines[0]


def test_a_non_leader_shows_who_leads_and_since_when(tmp_path: Path) -> None:
    view = make_view(tmp_path, Clock())
    view(record(1, 100.0, ev.Started(), "Init"))
    since = 1940.0
    clock = time.strftime("%H:%M:%S", time.localtime(since))
    line = leader_line(view, Sighting(replica="r2", token=88, since=since, problem=""))
    assert f"r2 since {clock} (1m00s), token 88" in line
    mine = leader_line(view, Sighting(replica="r1", token=88, since=since, problem=""))
    assert "this replica since" in mine
    assert "none" in leader_line(view, Sighting(problem=""))
    assert "unknown (not connected)" in leader_line(view, Sighting(problem="not connected"))


def test_without_a_lookout_there_is_no_leader_line(tmp_path: Path) -> None:
    view = make_view(tmp_path, Clock())
    assert not any(_is_leader_row(line) for line in screen(view, 101.0).splitlines())
