"""A window of a long history: the time to `election-replay`'s report on one hour out of a
week of journals of 50 replicas, against the full fold of the same set; and what the
periodic snapshots that make it possible cost, in journal bytes and append latency.

    .venv/bin/python -m tools.bench.replay_window --journals /tmp/replay-week
    .venv/bin/python -m tools.bench.replay_window --journals /tmp/replay-week --no-full --json

The week is simulated (`election_sim`: the daemon's real loop, reducer and journal sink,
so the journals are in the real format, periodic snapshots and rotation included), made
once into `--journals` and reused. Each window is timed as an engineer runs it: the
installed `election-replay --since @S --until @S+3600` over every file, its report read
from a pipe, from the command's start to its exit. The full fold is `election-replay
--json` over the same files. The snapshots' cost: their bytes in the set, and the sink's
append latency with and without them, on records of the set, fsynced as the daemon does
and not (the CPU's part alone).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
import click
import orjson

from election.record_codec import SNAPSHOT_EVERY, record_from_json, state_from_json
from election.runtime.journaling import JournalSink
from election_sim import SimConfig, simulate
from journal import make_header

REPLAY = Path(sys.executable).parent / "election-replay"
DAY = 86400.0
SET_FILE = "set.json"  # what the set in a directory was made with


def generate(directory: Path, replicas: int, days: float, max_bytes: int, seed: int) -> None:
    """A simulated week (or `days`) of `replicas` replicas at the daemon's defaults:
    10 s leader and attempter timeouts and session, a fault every half hour or so."""
    config = SimConfig(
        seed=seed,
        replicas=replicas,
        duration=days * DAY,
        tick=1.0,  # the server's and clients' clock: 1 s is fine for 10 s sessions
        leader_timeout=10.0,
        attempter_timeout=10.0,
        session_timeout=10.0,
        stop_deadline=5.0,
        storage_capacity=10,
        fault_rate=1 / 1800,
        journal_max_bytes=max_bytes,
    )
    began = time.monotonic()
    result = simulate(config, directory)
    (directory / SET_FILE).write_text(
        json.dumps(
            {
                "replicas": replicas,
                "days": days,
                "journal_max_bytes": max_bytes,
                "seed": seed,
                "records": result.records,
                "faults": len(result.faults),
                "seconds": round(time.monotonic() - began, 1),
            }
        )
    )


def files_of(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("r*.jsonl*") if p.is_file())


def run_replay(args: list[str]) -> tuple[float, int, bytes]:
    """Seconds from start to exit of `election-replay ARGS` (stdout read from a pipe)."""
    began = time.perf_counter()
    done = subprocess.run([str(REPLAY), *args], capture_output=True, timeout=3600)
    return time.perf_counter() - began, done.returncode, done.stdout


def span(files: list[Path]) -> tuple[float, float]:
    """The wall times of the set's first and last records (from the live files' heads
    and tails)."""
    first, last = float("inf"), float("-inf")
    for path in files:
        with path.open("rb") as f:
            head = f.readline() and f.readline()
            f.seek(max(0, path.stat().st_size - 65536))
            tail = f.read().splitlines()
        for raw in (head, *reversed(tail)):
            try:
                wall = orjson.loads(raw).get("wall")
            except orjson.JSONDecodeError:
                continue
            if isinstance(wall, float):
                if raw is head:
                    first = min(first, wall)
                else:
                    last = max(last, wall)
                    break
    return first, last


def windows(
    files: list[Path], count: int, length: float, seed: int, processes: int | None
) -> list[dict[str, Any]]:
    """`count` windows of `length` seconds at seeded random places of the set."""
    first, last = span(files)
    rng = random.Random(seed)
    extra = [] if processes is None else ["--processes", str(processes)]
    out = []
    for _ in range(count):
        since = rng.uniform(first, last - length)
        args = [*extra, "--since", f"@{since:.3f}", "--until", f"@{since + length:.3f}"]
        seconds, code, _ = run_replay([*args, *map(str, files)])
        _, _, shown = run_replay(["--json", *args, *map(str, files)])
        report = orjson.loads(shown)
        out.append(
            {
                "since": since,
                "seconds": round(seconds, 3),
                "exit": code,
                "events_folded": report["events"],
                "terms": len(report["leadership"]),
                "ok": report["ok"],
            }
        )
    return out


def snapshot_bytes(files: list[Path]) -> dict[str, Any]:
    """How many bytes of the set are periodic snapshots (each line's `snapshot` key)."""
    total = snapshot = count = 0
    sizes: list[int] = []
    for path in files:
        with path.open("rb") as f:
            for raw in f:
                total += len(raw)
                if b'"snapshot":{' not in raw or raw.startswith(b'{"journal"'):
                    continue
                line = orjson.loads(raw)
                kept = (
                    len(raw)
                    - len(orjson.dumps({k: v for k, v in line.items() if k != "snapshot"}))
                    - 1
                )
                snapshot += kept
                sizes.append(kept)
                count += 1
    return {
        "journal_bytes": total,
        "snapshot_bytes": snapshot,
        "share": round(snapshot / total, 5) if total else 0.0,
        "snapshots": count,
        "bytes_per_snapshot_median": statistics.median(sizes) if sizes else 0,
    }


def append_latency(files: list[Path], records: int, fsync: bool, rounds: int) -> dict[str, Any]:
    """The sink's append, µs, with a snapshot every SNAPSHOT_EVERY records and without,
    on the same records (a leader's, from the set), alternating in `rounds`."""
    leader = max(files, key=lambda p: p.stat().st_size)
    lines: list[dict[str, Any]] = []
    state = None
    with leader.open("rb") as f:
        header = orjson.loads(f.readline())
        for raw in f:
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if "journal" in line:
                continue
            if state is None and "snapshot" in line:
                state = state_from_json(line["snapshot"]["state"])
            lines.append(line)
            if len(lines) >= records and state is not None:
                break
    assert state is not None, "no snapshot in the set"
    # Numbered afresh: the file may hold several runs, and a run's seqs only grow.
    batch = [
        attrs.evolve(record_from_json(line), seq=index)
        for index, line in enumerate(lines[:records], 1)
    ]
    kinds = {"with": SNAPSHOT_EVERY, "without": 10**15}
    times: dict[str, list[float]] = {"with": [], "without": []}
    carrying: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(rounds):
        for kind, every in kinds.items():
            with tempfile.TemporaryDirectory(prefix="replay-window-append-", dir="/tmp") as d:
                head = make_header(
                    replica="bench",
                    program="bench",
                    started_wall=time.time(),
                    config=header["config"],
                )
                sink = JournalSink(Path(d) / "j.jsonl", head, fsync=fsync, snapshot_every=every)
                sink.follow(lambda: state)
                for record in batch:
                    began = time.perf_counter()
                    sink(record)
                    took = time.perf_counter() - began
                    times[kind].append(took)
                    if record.seq % SNAPSHOT_EVERY == 0:
                        carrying[kind].append(took)
                sink.close()

    def summary(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {
            "mean_us": round(statistics.fmean(values) * 1e6, 2),
            "p50_us": round(ordered[len(ordered) // 2] * 1e6, 2),
            "p99_us": round(ordered[int(len(ordered) * 0.99)] * 1e6, 2),
            "n": len(values),
        }

    return {
        "fsync": fsync,
        "all_appends": {kind: summary(values) for kind, values in times.items()},
        "the_snapshot_records": {kind: summary(values) for kind, values in carrying.items()},
    }


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--journals",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Where the simulated week is (made there once, then reused).",
)
@click.option("--replicas", type=click.IntRange(min=2), default=50, show_default=True)
@click.option("--days", type=click.FloatRange(min=0.01), default=7.0, show_default=True)
@click.option(
    "--journal-max-bytes",
    type=click.IntRange(min=1024),
    default=16 * 1024 * 1024,
    show_default=True,
    help="Rotate the simulated journals at this size (the set then has segments).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--windows", "count", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--window", "length", type=float, default=3600.0, show_default=True)
@click.option("--processes", type=click.IntRange(min=1), default=None)
@click.option("--full/--no-full", default=True, show_default=True, help="Time the full fold too.")
@click.option(
    "--appends", type=click.IntRange(min=SNAPSHOT_EVERY), default=20_000, show_default=True
)
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def main(
    journals: Path,
    replicas: int,
    days: float,
    journal_max_bytes: int,
    seed: int,
    count: int,
    length: float,
    processes: int | None,
    full: bool,
    appends: int,
    rounds: int,
    as_json: bool,
) -> None:
    """Time a window's report against the full fold, and the snapshots' cost."""
    if not (journals / SET_FILE).exists():
        journals.mkdir(parents=True, exist_ok=True)
        if files_of(journals):
            raise click.UsageError(f"{journals} holds journals but no {SET_FILE}: use an empty one")
        print(f"generating {days:g} days of {replicas} replicas in {journals}", file=sys.stderr)
        generate(journals, replicas, days, journal_max_bytes, seed)
    files = files_of(journals)
    result: dict[str, Any] = {
        "set": json.loads((journals / SET_FILE).read_text()),
        "files": len(files),
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
    }
    result["windows"] = windows(files, count, length, seed, processes)
    if full:
        extra = [] if processes is None else ["--processes", str(processes)]
        seconds, code, shown = run_replay(["--json", *extra, *map(str, files)])
        report = orjson.loads(shown)
        result["full"] = {
            "seconds": round(seconds, 1),
            "exit": code,
            "events": report["events"],
            "terms": len(report["leadership"]),
            "ok": report["ok"],
        }
    result["snapshot_bytes"] = snapshot_bytes(files)
    result["append"] = [append_latency(files, appends, fsync, rounds) for fsync in (True, False)]
    result["load_after"] = os.getloadavg()
    if as_json:
        click.echo(json.dumps(result))
        return
    taken = [w["seconds"] for w in result["windows"]]
    click.echo(
        f"{result['files']} files, {result['set']['records']:,} records "
        f"({result['set']['replicas']} replicas, {result['set']['days']:g} days)\n"
        f"window of {length:g} s: median {statistics.median(taken):.2f} s, "
        f"max {max(taken):.2f} s to the report; folded "
        f"{statistics.median(w['events_folded'] for w in result['windows']):,.0f} events"
    )
    if full:
        click.echo(f"full fold: {result['full']['seconds']} s, {result['full']['events']:,} events")
    share = result["snapshot_bytes"]["share"]
    click.echo(f"snapshots: {share:.2%} of the journal bytes")
    for entry in result["append"]:
        a = entry["all_appends"]
        click.echo(
            f"append (fsync={entry['fsync']}): mean {a['with']['mean_us']} µs with snapshots, "
            f"{a['without']['mean_us']} µs without"
        )


if __name__ == "__main__":
    main()
