"""Replay throughput: `election-replay`'s fold over >= 1,000,000 journal events, against
the floor of merely parsing the same lines with `orjson.loads`, timed in the same run.

    .venv/bin/python -m tools.bench.replay_speed                   # journals in a temp dir
    .venv/bin/python -m tools.bench.replay_speed --journals /tmp/replay-bench --keep
    .venv/bin/python -m tools.bench.replay_speed --json
    .venv/bin/python -m tools.bench.replay_speed --journals /tmp/replay-bench --phases 15

The journals come from the deterministic simulator (`election_sim`: three replicas,
every fault kind, seeds 0, 1, 2, ... until the set holds `--events` records); a directory
given with `--journals` that already holds such a set is reused as it is. The fold is
`election_replay.replay.analyse` over every journal (decode, reducer, comparison, terms,
invariants: everything but printing the report); the floor is `orjson.loads` of every line
of the same files. Each is timed `--repeat` times, alternately; the best time of each
counts.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click
import orjson

from election.core.effects import Effect
from election.core.events import EVENT_TYPES, Event
from election.core.reducer import reduce
from election.core.state import initial_state
from election.flags import core_config_from_header
from election.record_codec import CODEC
from election_replay.replay import analyse
from election_sim.world import SimConfig, simulate
from journal import JsonObject, read_journal

TARGET_RATIO = 0.20


def generate(directory: Path, events: int, duration: float) -> list[Path]:
    """Simulate seed after seed (one sub-directory each) until `events` records exist."""
    total, seed = 0, 0
    while total < events:
        result = simulate(
            SimConfig(seed=seed, duration=duration, leader_timeout=0.1), directory / f"s{seed}"
        )
        total += result.records
        seed += 1
        print(f"\rgenerating: {total:,} records ({seed} simulations)", end="", file=sys.stderr)
    print(file=sys.stderr)
    return journals_in(directory)


def journals_in(directory: Path) -> list[Path]:
    return sorted(directory.glob("s*/*.jsonl"))


def floor(paths: list[Path]) -> tuple[float, int]:
    """Seconds to `orjson.loads` every line of `paths`, and the number of lines."""
    loads = orjson.loads
    lines = 0
    start = time.perf_counter()
    for path in paths:
        with path.open("rb") as f:
            for line in f:
                # A torn line the simulator left for a crash: replay drops it too.
                with contextlib.suppress(orjson.JSONDecodeError):
                    loads(line)
                lines += 1
    return time.perf_counter() - start, lines


def fold(directory: Path, processes: int | None = None) -> tuple[float, int, bool]:
    """Seconds to analyse every simulation's journals (one `analyse` per simulation, as
    an engineer would run `election-replay` per incident), events, all replayed clean."""
    groups = sorted(p for p in directory.glob("s*") if p.is_dir())
    events = 0
    clean = True
    start = time.perf_counter()
    for group in groups:
        analysis = analyse(sorted(group.glob("*.jsonl")), processes=processes)
        events += analysis.events
        clean = clean and not analysis.divergences
    return time.perf_counter() - start, events, clean


T = TypeVar("T")


def best(repeat: int, work: Callable[[], T]) -> tuple[float, T]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    assert result is not None
    return min(times), result


def phases(journals: Path, sims: int, repeat: int, as_json: bool) -> None:
    """Where a replay's time goes, per event: each phase of the fold timed alone over
    every record of the first `sims` simulations (reading and checking the lines,
    decoding the events, reducing them, matching the recorded effects), then the whole
    fold (`analyse`); the remainder is the observers and the loop's own bookkeeping.
    The cyclic collector is off throughout. Best of `repeat`."""
    groups = sorted((p for p in journals.glob("s*") if p.is_dir()), key=lambda p: int(p.name[1:]))
    groups = groups[:sims]
    paths = sorted(p for g in groups for p in g.glob("*.jsonl"))
    gc.disable()
    floor_s, (_, lines) = best(repeat, lambda: floor(paths))
    read_s, files = best(repeat, lambda: [read_journal(p) for p in paths])
    runs = [(run.header, run.records) for f in files for run in f.runs]
    events = sum(len(records) for _, records in runs)
    decoders = cast(  # each decodes to the event its name names
        dict[str, Callable[[JsonObject, dict[str, Any]], Event]],
        {cls.__name__: CODEC.decoder(cls.__name__) for cls in EVENT_TYPES},
    )

    def decode() -> list[list[Event]]:
        return [
            [decoders[r["event"]["type"]](r["event"], {"at": r["at"]}) for r in records]
            for _, records in runs
        ]

    decode_s, decoded = best(repeat, decode)

    def fold() -> list[list[tuple[Effect, ...]]]:
        out = []
        for (header, _), run_events in zip(runs, decoded, strict=True):
            state = initial_state(core_config_from_header(header["config"]))
            effects = []
            for event in run_events:
                transition = reduce(state, event)
                state = transition.state
                effects.append(transition.effects)
            out.append(effects)
        return out

    reduce_s, computed = best(repeat, fold)

    def match() -> bool:
        return all(
            CODEC.matches_many(effects, record["effects"])
            for (_, records), run_effects in zip(runs, computed, strict=True)
            for record, effects in zip(records, run_effects, strict=True)
        )

    match_s, matched = best(repeat, match)
    whole_s, _ = best(
        repeat, lambda: [analyse(sorted(g.glob("*.jsonl")), processes=1) for g in groups]
    )
    gc.enable()
    per = {
        "floor (orjson.loads)": floor_s * events / lines,  # per line, shown per event
        "read and check lines": read_s,
        "decode events": decode_s,
        "reduce": reduce_s,
        "match effects": match_s,
        "rest (observers, loop)": whole_s - read_s - decode_s - reduce_s - match_s,
        "whole fold (analyse)": whole_s,
    }
    result = {
        "events": events,
        "all_matched": matched,
        "us_per_event": {k: round(v / events * 1e6, 2) for k, v in per.items()},
        "ratio": round((events / whole_s) / (lines / floor_s), 4),
    }
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{events:,} events from {len(groups)} simulations ({len(paths)} journals)")
    for name, seconds in per.items():
        click.echo(f"  {name:24s} {seconds / events * 1e6:6.2f} µs/event")
    click.echo(f"ratio to the floor: {result['ratio']:.1%}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--events", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option(
    "--journals",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the journal set is (reused if it holds one) or is made; default: a temp dir.",
)
@click.option(
    "--duration",
    type=float,
    default=600.0,
    show_default=True,
    help="Simulated seconds per simulation when generating.",
)
@click.option("--repeat", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    help="Processes per analysis, as election-replay --processes [default: its default].",
)
@click.option(
    "--phases",
    "sims",
    type=click.IntRange(min=1),
    default=None,
    help="Instead: time each phase of the fold over the first SIMS simulations of --journals.",
)
def main(
    events: int,
    journals: Path | None,
    duration: float,
    repeat: int,
    as_json: bool,
    processes: int | None,
    sims: int | None,
) -> None:
    """Time election-replay's fold against plain orjson.loads of the same lines."""
    if sims is not None:
        if journals is None or not journals_in(journals):
            raise click.UsageError("--phases needs --journals DIR holding a set (sN/*.jsonl)")
        phases(journals, sims, repeat, as_json)
        return
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as temp:
        directory = journals or Path(temp)
        paths = journals_in(directory)
        lines = sum(1 for p in paths for _ in p.open("rb"))
        if lines < events:
            if paths:
                raise click.UsageError(f"{directory} holds {lines} lines: use an empty directory")
            paths = generate(directory, events, duration)
        # Alternate the two, so that a busy moment of the machine is as likely to slow
        # either; the best time of each counts.
        floors, folds = [], []
        for _ in range(repeat):
            floors.append(floor(paths))
            folds.append(fold(directory, processes))
        floor_s, lines = min(floors)
        fold_s, folded, clean = min(folds)
    result = {
        "journals": len(paths),
        "lines": lines,
        "events": folded,
        "fold_seconds": round(fold_s, 3),
        "events_per_s": round(folded / fold_s),
        "floor_seconds": round(floor_s, 3),
        "floor_lines_per_s": round(lines / floor_s),
        "ratio": round((folded / fold_s) / (lines / floor_s), 4),
        "target_ratio": TARGET_RATIO,
        "replayed_clean": clean,
        "processes": "auto" if processes is None else processes,
        "cpus": os.cpu_count(),
    }
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"{result['journals']} journals, {lines:,} lines, {folded:,} events, "
        f"processes: {result['processes']} ({result['cpus']} CPUs)\n"
        f"fold (election-replay analyse): {fold_s:.2f}s = {result['events_per_s']:,} events/s\n"
        f"floor (orjson.loads per line):  {floor_s:.2f}s = "
        f"{result['floor_lines_per_s']:,} lines/s\n"
        f"ratio: {result['ratio']:.1%} of the floor (target {TARGET_RATIO:.0%})"
        + ("" if clean else "\nWARNING: some journal diverged")
    )


if __name__ == "__main__":
    main()
