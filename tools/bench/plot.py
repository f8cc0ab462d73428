"""The hand-over latency distributions side by side, from tools/bench/compare.py's JSON.

    .venv/bin/python -m tools.bench.plot compare.json docs/benchmarks-handover.svg

Needs matplotlib (`pip install -e '.[bench]'`). One strip of points per design with its
median and p95 marked, on a log scale (the polling design is two orders slower).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

LABELS = {
    "election": "election\n(watch, this project)",
    "recipe": "kazoo Election recipe\n(Lock, watch)",
    "polling": "polling\n(create every {t:g} s, no watch)",
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.bench.plot", description=__doc__)
    p.add_argument("compare_json", type=Path)
    p.add_argument("output", type=Path, help=".svg or .png")
    p.add_argument("--measure", default="from_signal", choices=["from_signal", "from_release"])
    args = p.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = json.loads(args.compare_json.read_text())
    polling_t = report["config"]["polling_attempter_timeout"]
    kinds = [k for k in ("election", "recipe", "polling") if k in report["results"]]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, kind in enumerate(kinds):
        stats = report["results"][kind][args.measure]
        values_ms = [max(v * 1000, 0.1) for v in stats["values"]]  # log axis: clamp <= 0
        xs = [i + 1 + (j % 7 - 3) * 0.03 for j in range(len(values_ms))]
        ax.scatter(xs, values_ms, s=14, alpha=0.6)
        for q in ("median", "p95"):
            y = max(stats[q] * 1000, 0.1)
            if q == "median":
                ax.hlines(y, i + 0.75, i + 1.25, colors="black", linestyles="solid")
            else:
                ax.hlines(y, i + 0.75, i + 1.25, colors="black", linestyles="dashed")
            ax.annotate(f"{q} {stats[q] * 1000:.1f} ms", (i + 1.27, y), fontsize=8, va="center")
    ax.set_xticks(range(1, len(kinds) + 1))
    ax.set_xticklabels([LABELS[k].format(t=polling_t) for k in kinds], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel(f"graceful hand-over, {args.measure} (ms, log scale)")
    m = report["machine"]
    load = report["load_average_before"][0]
    ax.set_title(
        f"SIGTERM to the other contender leading, n={report['config']['runs']} each; "
        f"{m['nproc']} CPU, load {load:.2f}, {m['date'][:10]}",
        fontsize=9,
    )
    ax.set_xlim(0.5, len(kinds) + 0.9)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, metadata={"Date": None} if args.output.suffix == ".svg" else None)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
