"""A window of a long history (`--since`, `--until`): the periodic snapshots the journal
carries, finding the one before the window without reading what lies before it, and the
window's report against the full fold's."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
from click.testing import CliRunner

from election.record_codec import SNAPSHOT_EVERY
from election_replay import analyse
from election_replay import seek as seek_module
from election_replay.cli import main
from election_replay.clock import parse_time
from election_replay.model import Analysis, Term
from election_replay.report import dumps
from election_replay.seek import find_start
from election_replay.window import Window
from tests.unit.test_journal_snapshots import EVERY, lines_of, sim
from tests.unit.test_replay import T0


def term_key(term: Term, until: float) -> tuple[Any, ...]:
    """A term as the window shows it: its end only where it lies in the window (beyond
    it, a freeze the window does not look for could cut it short in the full fold)."""
    end = "beyond" if term.end is None or term.end > until else round(term.end, 6)
    return (term.replica, term.token, round(term.start, 6), end, term.end_cause)


def _as_window_sees(term: Term, window: Window, part: Analysis) -> Term:
    """A term the full fold cut short at a freeze that began before the window (its end
    then is the freeze's start, not a record's), as the window sees it: whole, when the
    window's fold starts after that freeze and knows nothing of it."""
    ended = term.ended
    if term.end is None or ended is None or term.end == ended.wall or term.end >= window.start:
        return term
    seen = {(f.replica, f.start) for j in part.journals for f in j.freezes}
    if (term.replica, term.end) in seen:
        return term
    return attrs.evolve(term, end=ended.wall, last_seen=ended.wall)


def disagreements(paths: list[Path], full: Analysis, window: Window) -> list[str]:
    """How the window's report differs from the full fold restricted to the window."""
    part = analyse(paths, window=window)
    problems = []
    seen = [_as_window_sees(t, window, part) for t in full.terms]
    want = [term_key(t, window.end) for t in seen if window.overlaps(t.start, t.until)]
    got = [term_key(t, window.end) for t in part.terms]
    if want != got:
        problems.append(f"terms: full {want} window {got}")

    def kinds(a: Analysis, keep: bool) -> list[tuple[Any, ...]]:
        return sorted(
            (v.kind, tuple((w.replica, w.seq) for w in v.records))
            for v in a.violations
            if not keep or window.keeps(v)
        )

    if kinds(full, True) != kinds(part, False):
        problems.append(f"violations: full {kinds(full, True)} window {kinds(part, False)}")
    if part.divergences:
        problems.append(f"divergence in the window: {part.divergences[0]}")
    to_end = analyse(paths, window=Window(until=window.until))  # the fold from the start
    if [j.snapshot for j in part.journals] != [j.snapshot for j in to_end.journals]:
        problems.append("the state at the window's end differs from the full fold's")
    return problems


# --- the writer and the daemon's sink -----------------------------------------------


def test_a_snapshot_that_disagrees_with_the_fold_is_a_divergence(tmp_path: Path) -> None:
    (path, *_) = sim(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    number = next(
        i
        for i, line in enumerate(lines)
        if b'"snapshot":{"seq"' in line and b'"journal"' not in line
    )
    record = orjson.loads(lines[number])
    record["snapshot"]["state"]["next_id"] += 1000
    lines[number] = orjson.dumps(record) + b"\n"
    path.write_bytes(b"".join(lines))
    (divergence,) = analyse([path]).divergences
    assert divergence.fields == ("snapshot",) and divergence.where.line == number + 1
    assert list(divergence.expected["snapshot"]) == ["next_id"]


def test_a_snapshot_of_an_older_configuration_is_no_divergence(tmp_path: Path) -> None:
    """A snapshot repeats the run's configuration as its daemon knew it; an older daemon's
    lacks what today's has grown (read as defaults). The run's header is the one judge of
    the configuration: the fold compares the rest, and a window starts under the header's."""
    (path, *_) = sim(tmp_path, duration=60.0)
    lines = path.read_bytes().splitlines(keepends=True)
    edited = 0
    for i, raw in enumerate(lines):
        if b'"snapshot"' in raw and not raw.startswith(b'{"journal"'):
            record = orjson.loads(raw)
            record["snapshot"]["state"]["config"]["leader_timeout"] = 99.0
            lines[i] = orjson.dumps(record) + b"\n"
            edited += 1
    path.write_bytes(b"".join(lines))
    assert edited >= 2
    assert analyse([path]).ok
    walls = [orjson.loads(raw)["wall"] for raw in lines[1:] if b'"wall"' in raw]
    window = Window(since=walls[len(walls) // 2], until=walls[-1])
    part = analyse([path], window=window)
    assert part.journals[0].start is not None and part.journals[0].start["from"] == "snapshot"
    assert part.ok  # its timers' delays are the header's, not the snapshot's 99 s


# --- finding the start -------------------------------------------------------------


def test_the_start_is_the_nearest_snapshot_before_since(tmp_path: Path) -> None:
    paths = sim(tmp_path, duration=120.0)
    path = max(paths, key=lambda p: p.stat().st_size)
    lines = lines_of(path)
    walls = [(n, line["wall"]) for n, line in enumerate(lines, 1) if "wall" in line]
    for _, since in walls[:: max(1, len(walls) // 40)]:
        start = find_start(path, since)
        assert start is not None
        first = next(n for n, wall in walls if wall >= since)
        assert start.line <= first  # nothing of the window is skipped
        starts = [
            n
            for n, line in enumerate(lines, 1)
            if n < first and ("journal" in line or ("snapshot" in line and "seq" in line))
        ]
        nearest = max(starts)
        assert start.line - (0 if start.after is None else 1) == nearest
        assert first - nearest <= EVERY + 2  # a few records more than EVERY at most
        if start.after is not None:
            assert lines[start.line - 2]["seq"] == start.after.seq


class _Counting:
    """orjson as `seek` sees it, its `loads` counted."""

    JSONDecodeError = orjson.JSONDecodeError

    def __init__(self, loads: Any) -> None:
        self.loads = loads


def test_seeking_decodes_a_few_lines_not_the_records_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = sim(tmp_path, duration=200.0, snapshot_every=SNAPSHOT_EVERY)
    path = max(paths, key=lambda p: p.stat().st_size)
    lines = lines_of(path)
    assert len(lines) > 4 * SNAPSHOT_EVERY
    # A moment deep in the longest run, well past its first snapshot (a moment early in a
    # run starts at its header, a snapshot of nothing).
    headers = [i for i, line in enumerate(lines) if "journal" in line] + [len(lines)]
    first, end = max(itertools.pairwise(headers), key=lambda run: run[1] - run[0])
    assert end - first > 2 * SNAPSHOT_EVERY
    since = lines[first + int((end - first) * 0.8)]["wall"]
    decoded = 0
    loads = orjson.loads

    def counting(data: Any) -> Any:
        nonlocal decoded
        decoded += 1
        return loads(data)

    monkeypatch.setattr(seek_module, "orjson", _Counting(counting))
    start = find_start(path, since)
    assert start is not None and start.after is not None
    assert decoded < 100, decoded  # the bisection and the lines around the start


# --- the window against the full fold -----------------------------------------------


@pytest.mark.long
@pytest.mark.parametrize("seed", [1, 3, 6])
def test_windows_agree_with_the_full_fold_restricted_to_them(tmp_path: Path, seed: int) -> None:
    paths = sim(tmp_path, seed=seed, duration=120.0)
    full = analyse(paths)
    t0 = min(j.first_wall for j in full.journals if j.first_wall is not None)
    for since in (t0 - 1, t0 + 11.3, t0 + 47.9, t0 + 90.0):
        for length in (0.7, 9.0, 45.0):
            window = Window(since=since, until=since + length)
            assert disagreements(paths, full, window) == [], window


def test_a_window_across_rotated_segments_agrees_too(tmp_path: Path) -> None:
    paths = sim(tmp_path, seed=3, duration=120.0, journal_max_bytes=150_000)
    assert any(p.suffix != ".jsonl" for p in paths)  # rotated: r0.jsonl.1, ...
    full = analyse(paths)
    t0 = min(j.first_wall for j in full.journals if j.first_wall is not None)
    for since in (t0 + 20, t0 + 61, t0 + 95):
        window = Window(since=since, until=since + 12)
        assert disagreements(paths, full, window) == [], window


def test_an_old_journal_without_periodic_snapshots_replays_a_window(tmp_path: Path) -> None:
    """Journals written before periodic snapshots: each window folds from a header."""
    paths = sim(tmp_path, seed=6, duration=120.0, snapshot_every=10**9)
    assert not any(b'"snapshot"' in p.read_bytes() for p in paths)
    full = analyse(paths)
    t0 = min(j.first_wall for j in full.journals if j.first_wall is not None)
    window = Window(since=t0 + 70, until=t0 + 80)
    assert disagreements(paths, full, window) == []
    starts = [j.start for j in analyse(paths, window=window).journals]
    assert {s["from"] for s in starts if s} == {"header"}


def test_a_term_across_the_window_keeps_its_true_start_and_end(tmp_path: Path) -> None:
    paths = sim(tmp_path, seed=1, duration=120.0)
    full = analyse(paths)
    # The longest term ended by a record (not cut short at a freeze: see `term_key`).
    ended = [t for t in full.terms if t.ended is not None and t.end == t.ended.wall]
    term = max(ended, key=lambda t: t.until - t.start)
    assert term.end is not None and term.end - term.start > 3
    middle = (term.start + term.end) / 2
    window = Window(since=middle - 0.5, until=middle + 0.5)
    part = analyse(paths, window=window)
    (seen,) = [t for t in part.terms if t.replica == term.replica]
    assert (seen.start, seen.end, seen.end_cause) == (term.start, term.end, term.end_cause)
    assert part.events < full.events / 4


# --- the command ------------------------------------------------------------------------


def test_times_are_rfc_3339_or_unix_seconds() -> None:
    assert parse_time("@1700000000.5") == 1700000000.5
    assert parse_time("2023-11-14T22:13:20Z") == 1700000000.0
    assert parse_time("2023-11-14 23:13:20+01:00") == 1700000000.0
    with pytest.raises(ValueError, match="time zone"):
        parse_time("2023-11-14T22:13:20")
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_time("yesterday")


def test_the_command_takes_a_window_and_says_so(tmp_path: Path) -> None:
    paths = sim(tmp_path)
    full = analyse(paths)
    t0 = min(j.first_wall for j in full.journals if j.first_wall is not None)
    args = ["--since", f"@{t0 + 20}", "--until", f"@{t0 + 30}", *map(str, paths)]
    result = CliRunner().invoke(main, ["--json", *args])
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.stdout)
    assert out["window"] == {"since": t0 + 20, "until": t0 + 30}
    assert 0 < out["events"] < full.events
    assert all(r["window_start"]["from"] in ("snapshot", "header") for r in out["replicas"])
    human = CliRunner().invoke(main, args)
    assert "window 2023-11-14" in human.stdout and "folded from the nearest start" in human.stdout


def test_a_bare_integer_to_until_is_still_a_seq(tmp_path: Path) -> None:
    paths = sim(tmp_path)
    result = CliRunner().invoke(main, ["--json", "--until", "12", str(paths[0])])
    out = orjson.loads(result.stdout)
    assert out["until"] == 12 and "window" not in out and out["events"] == 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2023-11-14T22:13:20"], "time zone"),
        (["--until", "soon"], "RFC 3339"),
        (["--since", "@20", "--until", "@10"], "before --since"),
    ],
)
def test_a_bad_time_is_a_usage_error(tmp_path: Path, args: list[str], message: str) -> None:
    paths = sim(tmp_path, duration=5.0)
    result = CliRunner().invoke(main, [*args, str(paths[0])])
    assert result.exit_code == 2 and message in result.output


def test_a_window_after_every_journal_shows_no_term(tmp_path: Path) -> None:
    paths = sim(tmp_path, duration=10.0)
    part = analyse(paths, window=Window(since=T0 + 10**6, until=math.inf))
    assert part.terms == () and part.ok


def test_a_window_folded_in_processes_is_the_same_as_in_one(tmp_path: Path) -> None:
    """A window folds journals in shares, one process each (forks cost more than a
    window's short folds): the report is the same as in one process."""
    paths = sim(tmp_path, replicas=9, duration=40.0)
    full = analyse(paths)
    t0 = min(j.first_wall for j in full.journals if j.first_wall is not None)
    window = Window(since=t0 + 10, until=t0 + 25)
    alone = analyse(paths, window=window, processes=1)
    together = analyse(paths, window=window, processes=3)
    assert dumps(alone) == dumps(together)
    assert [j.replica for j in together.journals] == [j.replica for j in full.journals]
