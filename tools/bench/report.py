"""What every benchmark reports, one way: the statistics of a measure, its table, the
machine line, the errors, and the choice of JSON or text.

A benchmark's report is a dict (JSON-able) that `Bench.report` starts with the machine,
the load average, the command and the errors; the benchmark adds its sections, each
measure as `summary(values)`. `tables()` renders them as markdown tables, which paste
straight into docs/benchmarks.md.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Summary = dict[str, Any]
HEAD = "| {what} | n | median | p95 | min | max |\n|---|---|---|---|---|---|"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def summary(values: Iterable[float]) -> Summary:
    """n, median, p95 (nearest rank), min, max and the values themselves; {"n": 0} for none."""
    values = list(values)
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p95": percentile(values, 95),
        "min": min(values),
        "max": max(values),
        "values": values,
    }


def collect(runs: Iterable[Mapping[str, Any]]) -> dict[str, Summary]:
    """The summary of each measure (a float value) found in the runs, in first-seen order."""
    runs = list(runs)
    keys: list[str] = []
    for run in runs:
        keys += [k for k, v in run.items() if isinstance(v, float) and k not in keys]
    return {k: summary(r[k] for r in runs if isinstance(r.get(k), float)) for k in keys}


def ms(value: float | None, digits: int = 0) -> str:
    """Seconds as milliseconds for a table; '-' for none."""
    return "-" if value is None else f"{value * 1000:.{digits}f}"


def row(name: str, s: Summary, unit: str = "ms") -> str:
    """One markdown row: name, n, median, p95, min, max (ms with a decimal, or s)."""
    if not s.get("n"):
        return f"| {name} | 0 | - | - | - | - |"
    show: Callable[[float], str] = (lambda v: ms(v, 1)) if unit == "ms" else (lambda v: f"{v:.3f}")
    cells = " | ".join(show(s[k]) for k in ("median", "p95", "min", "max"))
    return f"| {name} | {s['n']} | {cells} |"


def table(title: str, measures: Mapping[str, Summary], unit: str = "ms", what: str = "") -> str:
    """A titled markdown table of measures (name -> summary)."""
    lines = [f"{title} ({unit})", HEAD.format(what=what or "measure")]
    lines += [row(name, s, unit) for name, s in measures.items()]
    return "\n".join(lines)


def machine_line(report: Mapping[str, Any]) -> str:
    m = report.get("machine") or {}
    return (
        f"machine: {m.get('nproc')} CPU ({m.get('cpu')}), Python {m.get('python')}, "
        f"ZooKeeper {m.get('zookeeper') or '-'} (tick {m.get('zookeeper_tick_ms') or '-'} ms), "
        f"{m.get('date')}; load {report.get('load_average_before')} -> "
        f"{report.get('load_average_after')}; commit {m.get('commit') or '-'}"
    )


def text(report: Mapping[str, Any], body: str) -> str:
    """The whole text report: the machine line, the command, the body, the errors."""
    errors = report.get("errors") or []
    lines = [machine_line(report), f"command: {report.get('command', '')}", "", body]
    if errors:
        lines += ["", f"errors ({len(errors)}):", *errors]
    return "\n".join(lines)


def emit(
    report: Mapping[str, Any], render: Callable[[Mapping[str, Any]], str], as_json: bool
) -> None:
    """Print the report: one JSON object, or `render`'s text under the machine line."""
    print(json.dumps(report, indent=1) if as_json else text(report, render(report)))
