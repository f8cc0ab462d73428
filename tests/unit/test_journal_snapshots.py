"""The periodic snapshots a journal carries: the writer numbers its lines, and every
`snapshot_every`-th record of the daemon's sink (here the simulator's, the same sink)
holds the state after it, where that state began, its own line and its run's header."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from election_replay import analyse
from election_sim import SimConfig, simulate
from journal import JournalWriter
from tests.unit.test_replay import T0, header_config

EVERY = 50  # snapshots in these journals: every 50 records, so that short runs hold many


def sim(directory: Path, seed: int = 1, **config: Any) -> list[Path]:
    settings: dict[str, Any] = {
        "seed": seed,
        "duration": 60.0,
        "leader_timeout": 0.05,
        "fault_rate": 0.1,
        "snapshot_every": EVERY,
        **config,
    }
    result = simulate(SimConfig(**settings), directory)
    return sorted(result.journals)


def lines_of(path: Path) -> list[dict[str, Any]]:
    out = []
    for raw in path.read_bytes().splitlines():
        try:
            out.append(orjson.loads(raw))
        except orjson.JSONDecodeError:
            out.append({})  # a torn line (a simulated crash)
    return out


def test_the_writer_numbers_its_lines_across_a_restart_and_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    header = {"replica": "a", "program": "x", "started_wall": T0, "config": header_config("a")}
    record = {"seq": 1, "at": 1.0, "wall": T0, "event": {"type": "Started"}, "state": "Init"}
    with JournalWriter(path, header, fsync=False) as writer:
        assert (writer.line, writer.header_offset) == (1, 0)
        writer.append(record)
        writer.append({**record, "seq": 2})
        assert writer.line == 3
    with path.open("ab") as f:
        f.write(b'{"seq":3,"at"')  # a crash mid-append
    size = path.stat().st_size
    with JournalWriter(path, header, fsync=False) as writer:
        assert writer.header_offset == size + 1  # after the newline that ends the torn line
        assert writer.line == 5  # 3 lines, the torn one, then the new header
        writer.append(record)
        assert writer.line == 6
    lines = path.read_bytes().splitlines()
    assert lines[4].startswith(b'{"journal"') and orjson.loads(lines[5])["seq"] == 1
    assert path.read_bytes()[size + 1 :].startswith(b'{"journal"')


def test_every_nth_record_carries_a_snapshot_that_says_where_it_stands(tmp_path: Path) -> None:
    (path, *_) = sim(tmp_path)
    lines = lines_of(path)
    raw = path.read_bytes()
    runs: list[tuple[int, int]] = []  # (line, byte offset) of each header
    offset = 0
    for number, text in enumerate(raw.splitlines(keepends=True), 1):
        if text.startswith(b'{"journal"'):
            runs.append((number, offset))
        offset += len(text)
    found = 0
    for number, line in enumerate(lines, 1):
        snapshot = line.get("snapshot")
        if snapshot is None or "journal" in line:
            continue
        found += 1
        assert line["seq"] % EVERY == 0 and snapshot["seq"] == line["seq"]
        assert snapshot["line"] == number
        header_line = max(n for n, _ in runs if n < number)
        assert snapshot["header"] == dict(runs)[header_line]
        # `entered`: the record where the recorded state (and token) last changed.
        entered = snapshot["entered"]
        run = lines[header_line:number]
        began = next(
            r
            for i, r in enumerate(run)
            if all(
                (s["state"], s.get("token")) == (line["state"], line.get("token")) for s in run[i:]
            )
        )
        assert (entered["seq"], entered["wall"]) == (began["seq"], began["wall"])
    assert found >= 3
    assert analyse([path]).ok  # each snapshot is the state today's reducer folds to
