"""Replay throughput: `election-replay`'s fold of journals, in events per second, against
the floor of merely parsing the same lines with `orjson.loads`, timed in the same run.

    .venv/bin/python -m tools.bench.replay_speed --journals DIR     # journals of real runs
    .venv/bin/python -m tools.bench.replay_speed --journals DIR --record 40  # a run, then
    .venv/bin/python -m tools.bench.replay_speed --simulate 1000000 # the simulator's

The journals: every directory under `--journals` that holds `*.jsonl` files is one set
(one incident: a chaos soak's `cluster/`, a test's replicas), folded by one `analyse`, as
an engineer runs `election-replay` on one incident. With `--simulate N` (and an empty or
missing directory) the deterministic simulator writes sets (three replicas, every fault
kind, seeds 0, 1, ...) until they hold N records. The fold is
`election_replay.replay.analyse` (decode, reducer, comparison, terms, invariants:
everything but printing), in this process, after start-up; the floor is `orjson.loads` of
every line. `--processes N` as `election-replay`'s (by default it folds journals of 8 MiB
or more in all in a process each). Each is timed `--runs` times, alternately; the best
time of each counts.
With `--record SECONDS` a real run writes the set first: two `election run` replicas on a
ZooKeeper of the benchmark's, the leader writing a file every 2 ms, SIGKILLed halfway.
`--cli` also times the `election-replay` command on each set, start-up included.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from election_replay.replay import analyse
from election_sim.world import SimConfig, simulate
from election_testkit.replicas import ReplicaSet

from .report import summary, table
from .runner import Bench

REPLAY = Path(sys.executable).parent / "election-replay"


def sets_in(directory: Path) -> list[list[Path]]:
    """The journal sets under `directory`: the `*.jsonl` files of each directory."""
    found = [
        sorted(d.glob("*.jsonl")) for d in sorted({p.parent for p in directory.rglob("*.jsonl")})
    ]
    return [s for s in found if s]


def generate(directory: Path, events: int) -> None:
    """Simulate seed after seed (one sub-directory each) until `events` records exist."""
    total, seed = 0, 0
    while total < events:
        config = SimConfig(seed=seed, duration=600.0, leader_timeout=0.1)
        total += simulate(config, directory / f"s{seed}").records
        seed += 1


def record(bench: Bench, directory: Path, seconds: float) -> None:
    """Journals of a real run: two `election run` replicas, the leader writing a file
    every 2 ms, SIGKILLed halfway (its successor takes over at the session's expiry)."""
    with bench.zookeeper() as zk:
        path = f"/bench-replay/{uuid.uuid4().hex}/leader"
        flags = {"leader_timeout": "2ms", "session_timeout": "2s", "metrics_address": "off"}
        with ReplicaSet(directory, zk.connect_string, path, **flags) as replicas:
            replicas.start(2)
            leader = replicas.wait_for_leader(30)
            time.sleep(seconds / 2)
            leader.kill()
            time.sleep(seconds / 2)


def floor(sets: list[list[Path]]) -> tuple[float, int]:
    """Seconds to `orjson.loads` every line, and the number of lines."""
    loads, lines = orjson.loads, 0
    start = time.perf_counter()
    for path in (p for s in sets for p in s):
        with path.open("rb") as f:
            for line in f:
                with contextlib.suppress(orjson.JSONDecodeError):  # a torn last line
                    loads(line)
                lines += 1
    return time.perf_counter() - start, lines


def fold(sets: list[list[Path]], processes: int | None) -> tuple[float, int, bool]:
    """Seconds to analyse every set, the events folded, and whether all replayed clean."""
    events, clean = 0, True
    start = time.perf_counter()
    for paths in sets:
        analysis = analyse(paths, processes=processes)
        events += analysis.events
        clean = clean and not analysis.divergences and not analysis.violations
    return time.perf_counter() - start, events, clean


def cli(paths: list[Path]) -> float:
    """Seconds of `election-replay --json` on one set, from exec to exit."""
    start = time.perf_counter()
    subprocess.run([str(REPLAY), "--json", *map(str, paths)], capture_output=True, timeout=600)
    return time.perf_counter() - start


def render(report: Mapping[str, Any]) -> str:
    r = report["replay"]
    lines = [
        f"{r['sets']} set(s), {r['journals']} journals, {r['lines']:,} lines, "
        f"{r['events']:,} events ({r['source']}), processes: {r['processes']}",
        f"fold (analyse, after start-up): {r['fold_seconds']:.2f} s = "
        f"{r['events_per_s']:,} events/s" + ("" if r["clean"] else " (NOT clean)"),
        f"floor (orjson.loads per line):  {r['floor_seconds']:.2f} s = "
        f"{r['floor_lines_per_s']:,} lines/s; the fold is {r['ratio']:.1%} of it",
    ]
    if "cli" in report:
        lines += ["", table("election-replay per set, start-up included", report["cli"], "s")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    bench = Bench("replay_speed", __doc__, argv, runs=3)
    bench.add_argument("--journals", type=Path, help="a directory of journal sets")
    bench.add_argument("--simulate", type=int, help="records to simulate into --journals")
    bench.add_argument("--record", type=float, help="seconds of a real run into --journals")
    bench.add_argument("--cli", action="store_true", help="also time the command per set")
    bench.add_argument("--processes", type=int, help="as election-replay's (default: its own)")
    args = bench.parse()
    with bench:
        directory = args.journals or bench.workdir / "sim"
        sets = sets_in(directory) if directory.exists() else []
        if not sets and args.record:
            record(bench, directory, args.record)
            sets = sets_in(directory)
        if not sets and args.simulate:
            generate(directory, args.simulate)
            sets = sets_in(directory)
        if not sets:
            bench.parser.error(f"no journals under {directory} (give --simulate N for some)")
        floors, folds = [], []
        for _ in range(args.runs):  # alternately: a busy moment slows either alike
            floors.append(floor(sets))
            folds.append(fold(sets, args.processes))
        (floor_s, lines), (fold_s, events, clean) = min(floors), min(folds)
        timed = {"set": summary(cli(paths) for paths in sets)} if args.cli else None
    replay = {
        "source": "simulated" if args.simulate else "recorded" if args.record else str(directory),
        "sets": len(sets),
        "journals": sum(map(len, sets)),
        "lines": lines,
        "events": events,
        "fold_seconds": fold_s,
        "events_per_s": round(events / fold_s),
        "floor_seconds": floor_s,
        "floor_lines_per_s": round(lines / floor_s),
        "ratio": (events / fold_s) / (lines / floor_s),
        "clean": clean,
        "processes": args.processes or "default",
    }
    report = bench.report(replay=replay, **({"cli": timed} if timed else {}))
    return bench.finish(report, render)


if __name__ == "__main__":
    sys.exit(main())
