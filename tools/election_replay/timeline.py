"""The text Gantt: one row per replica, one character per slice of wall time.

Every row shares one time axis, so a hand-over reads straight down the columns. A slice
shows the state that matters most in it: Leader if the replica led at all during it, then
Failover, then Stopping, else whichever of Init and Attempter took longer. A blank is a
moment when the replica's journal says nothing (not started yet, down, or gone).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from election_replay.clock import hms
from election_replay.model import JournalSummary, Segment

LETTERS = {
    "Init": "I",
    "Attempter": "A",
    "Leader": "L",
    "Failover": "F",
    "Stopping": "S",
    "Job": "J",  # a job (--exec) ran: its own row beneath its replica's
}
STYLES = {
    "Init": "bright_black",
    "Attempter": "cyan",
    "Leader": "bold green",
    "Failover": "bold yellow",
    "Stopping": "magenta",
    "Job": "bold blue",
}
_ANY_OF = ("Leader", "Failover", "Stopping", "Job")  # shown if present at all in a slice


@attrs.frozen(kw_only=True)
class Row:
    label: str
    states: tuple[str | None, ...]  # one per slice; None where the journal is silent


@attrs.frozen(kw_only=True)
class Timeline:
    start: float
    end: float
    rows: tuple[Row, ...]

    @property
    def slice(self) -> float:
        width = len(self.rows[0].states) if self.rows else 1
        return (self.end - self.start) / max(width, 1)


def build(journals: Sequence[JournalSummary], width: int = 72) -> Timeline | None:
    """The timeline of `journals` in `width` slices, or None when there is nothing to draw."""
    walls = [(j.first_wall, j.last_wall) for j in journals if j.first_wall is not None]
    if not walls:
        return None
    start = min(w[0] for w in walls if w[0] is not None)
    end = max(w[1] for w in walls if w[1] is not None)
    end = max(end, start + 1e-3)  # a single instant still gets a visible row
    labels = [j.replica for j in journals]
    rows = []
    for index, journal in enumerate(journals):
        label = journal.replica
        if labels.count(label) > 1:  # one replica's journals in several files
            label = f"{label} #{labels[:index].count(label) + 1}"
        rows.append(Row(label=label, states=_slices(journal.segments, start, end, width)))
        if journal.jobs:
            runs = [
                Segment(
                    state="Job",
                    start=run.start,
                    end=run.end if run.end is not None else (journal.last_wall or run.start),
                )
                for run in journal.jobs
            ]
            rows.append(Row(label=f"{label} job", states=_slices(runs, start, end, width)))
    return Timeline(start=start, end=end, rows=tuple(rows))


def _slices(
    segments: Sequence[Segment], start: float, end: float, width: int
) -> tuple[str | None, ...]:
    step = (end - start) / width
    out: list[str | None] = []
    first = 0  # segments end in order: skip those wholly before the slice
    for i in range(width):
        t0 = start + i * step
        t1 = end if i == width - 1 else t0 + step
        while first < len(segments) and segments[first].end < t0:
            first += 1
        time_in: dict[str, float] = {}
        marked: str | None = None  # the latest state of _ANY_OF in this slice
        for seg in segments[first:]:
            if seg.start > t1 or (seg.start == t1 and i != width - 1):
                break
            overlap = min(seg.end, t1) - max(seg.start, t0)
            if overlap >= 0:
                time_in[seg.state] = time_in.get(seg.state, 0.0) + overlap
                if seg.state in _ANY_OF:
                    marked = seg.state
        out.append(marked or _longest(time_in))
    return tuple(out)


def _longest(time_in: dict[str, float]) -> str | None:
    return max(time_in, key=lambda s: time_in[s]) if time_in else None


def render(timeline: Timeline) -> RenderableType:
    """The timeline as a rich grid (labels, rows of letters, the time axis) and its
    legend beneath. The legend is a line of its own, wrapped to the console: as a row of
    the grid it was wider than 80 columns with job rows, and rich squeezed the labels out
    to make room for it."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", style="bold", no_wrap=True)
    grid.add_column(no_wrap=True)
    for row in timeline.rows:
        text = Text()
        for state in row.states:
            if state is None:
                text.append(" ")
            else:
                text.append(LETTERS.get(state, "?"), style=STYLES.get(state, "red"))
        grid.add_row(row.label, text)
    width = len(timeline.rows[0].states) if timeline.rows else 0
    left, right = hms(timeline.start), hms(timeline.end)
    axis = Text("└" + "─" * max(width - 2, 0) + "┘", style="dim")
    labels = Text(left + " " * max(width - len(left) - len(right), 1) + right, style="dim")
    grid.add_row("", axis)
    grid.add_row("UTC", labels)
    legend = Text()
    shown = {state for row in timeline.rows for state in row.states}
    for state, letter in LETTERS.items():
        if state != "Job" or state in shown:
            legend.append(letter, style=STYLES[state]).append(f" {state}  ")
    legend.append(f"(1 char = {timeline.slice:.3f}s)", style="dim")
    return Group(grid, legend)
