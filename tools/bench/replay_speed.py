"""Replay throughput: `election-replay`'s fold over >= 1,000,000 journal events, against
the floor of merely parsing the same lines with `orjson.loads`, timed in the same run.

    .venv/bin/python -m tools.bench.replay_speed                   # journals in a temp dir
    .venv/bin/python -m tools.bench.replay_speed --journals /tmp/replay-bench --keep
    .venv/bin/python -m tools.bench.replay_speed --json

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
import json
import sys
import tempfile
import time
from pathlib import Path

import click
import orjson

from election_replay.replay import analyse
from election_sim.world import SimConfig, simulate

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


def fold(directory: Path) -> tuple[float, int, bool]:
    """Seconds to analyse every simulation's journals (one `analyse` per simulation, as
    an engineer would run `election-replay` per incident), events, all replayed clean."""
    groups = sorted(p for p in directory.glob("s*") if p.is_dir())
    events = 0
    clean = True
    start = time.perf_counter()
    for group in groups:
        analysis = analyse(sorted(group.glob("*.jsonl")))
        events += analysis.events
        clean = clean and not analysis.divergences
    return time.perf_counter() - start, events, clean


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
def main(events: int, journals: Path | None, duration: float, repeat: int, as_json: bool) -> None:
    """Time election-replay's fold against plain orjson.loads of the same lines."""
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
            folds.append(fold(directory))
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
    }
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"{result['journals']} journals, {lines:,} lines, {folded:,} events\n"
        f"fold (election-replay analyse): {fold_s:.2f}s = {result['events_per_s']:,} events/s\n"
        f"floor (orjson.loads per line):  {floor_s:.2f}s = "
        f"{result['floor_lines_per_s']:,} lines/s\n"
        f"ratio: {result['ratio']:.1%} of the floor (target {TARGET_RATIO:.0%})"
        + ("" if clean else "\nWARNING: some journal diverged")
    )


if __name__ == "__main__":
    main()
