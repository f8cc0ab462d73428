"""Where a replay's time goes, per event: the phases of `election-replay`'s fold timed one
at a time over the same journals, against the `orjson.loads` floor.

    .venv/bin/python -m tools.bench.replay_phases --journals /tmp/replay-bench --sims 15

Each phase runs over every record of the first `--sims` simulations of a set made by
`tools.bench.replay_speed` (it reuses that set): reading and checking the lines (the
reader), decoding the events, folding them through the reducer, matching the recorded
effects against the recomputed ones; then the whole fold (`analyse`), whose remainder is
the observers (terms, invariants, files, jobs, freezes) and the loop's own bookkeeping.
The cyclic collector is off throughout, as in `analyse`. Best of `--repeat`.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from election.core.effects import Effect
from election.core.events import EVENT_TYPES, Event
from election.core.reducer import reduce
from election.core.state import initial_state
from election.runtime.journaling import CODEC, core_config_from_header
from election_replay.replay import analyse
from journal import JsonObject, read_journal
from tools.bench.replay_speed import floor

T = TypeVar("T")


def best(repeat: int, work: Callable[[], T]) -> tuple[float, T]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    assert result is not None
    return min(times), result


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--journals",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("/tmp/replay-bench"),
    show_default=True,
    help="A set made by tools.bench.replay_speed (sN/*.jsonl).",
)
@click.option("--sims", type=click.IntRange(min=1), default=15, show_default=True)
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def main(journals: Path, sims: int, repeat: int, as_json: bool) -> None:
    """Time each phase of election-replay's fold, in microseconds per event."""
    groups = sorted((p for p in journals.glob("s*") if p.is_dir()), key=lambda p: int(p.name[1:]))
    groups = groups[:sims]
    paths = sorted(p for g in groups for p in g.glob("*.jsonl"))
    if not paths:
        raise click.UsageError(f"{journals} holds no sN/*.jsonl: make it with replay_speed")
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
    whole_s, _ = best(repeat, lambda: [analyse(sorted(g.glob("*.jsonl"))) for g in groups])
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


if __name__ == "__main__":
    main()
