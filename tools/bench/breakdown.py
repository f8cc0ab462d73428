"""Where the time of a graceful hand-over goes, step by step, from kept journals.

Reads the runs that ``python -m tools.bench.handover --workdir DIR`` kept (each
``DIR/graceful-NN/`` holds the two replicas' journals) and splits each hand-over at the
journals' wall times:

* ``stop_to_release``:  old leader's StopRequested record -> its SessionClosed record
  (the delete's round trip, and the journal appends on the way)
* ``release_to_watch``: SessionClosed -> the other replica's NodeWatchFired record
* ``watch_to_leader``:  NodeWatchFired -> its first record in Leader (the create's round
  trip and the appends)

    .venv/bin/python -m tools.bench.handover --runs 20 --sigkill-runs 0 --workdir /tmp/hb
    .venv/bin/python -m tools.bench.breakdown /tmp/hb
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from journal import read_journal

from .handover import summary


def records(path: Path) -> list[dict[str, Any]]:
    return [r for run in read_journal(path).runs for r in run.records]


def first(recs: list[dict[str, Any]], event: str, after: float = float("-inf")) -> Any:
    return next((r for r in recs if r["event"]["type"] == event and r["wall"] >= after), None)


def split(run_dir: Path) -> dict[str, float] | None:
    journals = [records(p) for p in sorted(run_dir.glob("*.jsonl"))]
    # Both release at the end (the successor at teardown): the first release is the hand-over.
    released_at = [(first(j, "SessionClosed") or {"wall": float("inf")})["wall"] for j in journals]
    if len(journals) != 2 or min(released_at) == float("inf"):
        return None
    old = journals[released_at.index(min(released_at))]
    new = journals[1 - journals.index(old)]
    stop = first(old, "StopRequested")
    released = first(old, "SessionClosed")
    # NodeWatchFired shortly after our stop: the deletion reached the waiting replica
    watch = first(new, "NodeWatchFired", stop["wall"])
    leader = next((r for r in new if r["state"] == "Leader" and r["wall"] >= stop["wall"]), None)
    if watch is None or leader is None:
        return None
    return {
        "stop_to_release": released["wall"] - stop["wall"],
        "release_to_watch": watch["wall"] - released["wall"],
        "watch_to_leader": leader["wall"] - watch["wall"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.bench.breakdown", description=__doc__)
    p.add_argument("workdir", type=Path)
    args = p.parse_args(argv)
    parts: dict[str, list[float]] = {}
    for run_dir in sorted(args.workdir.glob("graceful-*")):
        measured = split(run_dir)
        for key, value in (measured or {}).items():
            parts.setdefault(key, []).append(value)
    for key, values in parts.items():
        s = summary(values)
        print(
            f"{key:<18} n={s['n']:>3} median={s['median'] * 1000:6.1f} ms "
            f"p95={s['p95'] * 1000:6.1f} ms max={s['max'] * 1000:6.1f} ms"
        )
    return 0 if parts else 1


if __name__ == "__main__":
    sys.exit(main())
