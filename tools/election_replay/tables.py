"""The report's tables: journals, leadership terms, hand-overs, job runs, replayed states.

Drawn to read well in 80 columns, the width of a pipe, a ticket or a mail: no boxes,
two spaces between columns, and nothing a reader would copy (a file name) ever wrapped.
A table too wide for the console with its file names lists the files beneath it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from election_replay.causes import CRASH, OTHER
from election_replay.clock import hms, seconds
from election_replay.model import Analysis, Handover, JournalSummary, Snapshot, Term, Where

GAP = 2  # spaces between two columns


def table(title: str, *columns: str, right: Sequence[str] = ()) -> Table:
    """A table in the report's style: a bold title, plain columns two spaces apart."""
    grid = Table(
        title=title,
        title_justify="left",
        title_style="bold underline",
        box=None,
        pad_edge=False,
        padding=(0, GAP // 2),
        header_style="bold",
    )
    for column in columns:
        grid.add_column(column, justify="right" if column in right else "left", no_wrap=True)
    return grid


def width_of(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> int:
    """Characters a `table` of these rows takes."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    return sum(widths) + GAP * (len(widths) - 1)


def journal_name(j: JournalSummary, short: bool) -> str:
    name = Path(j.journal).name if short else j.journal
    return name + (f" (+{len(j.files) - 1} rotated)" if len(j.files) > 1 else "")


def journals(analysis: Analysis, columns: int) -> RenderableType:
    """One row per journal; its file in a column when that fits, else listed beneath."""
    names = [Path(j.journal).name for j in analysis.journals]
    short = len(set(names)) == len(names)  # file names say enough when they differ
    headers = ["replica", "journal", "runs", "events", "first", "last", "ends in", "replay"]
    rows = [
        [
            j.replica,
            journal_name(j, short),
            str(j.runs),
            f"{j.events:,}",
            "-" if j.first_wall is None else hms(j.first_wall),
            "-" if j.last_wall is None else hms(j.last_wall),
            j.segments[-1].state if j.segments else "-",
            "ok" if j.divergence is None else "DIVERGES",
        ]
        for j in analysis.journals
    ]
    if all(j.runs == 1 for j in analysis.journals):  # restarts are worth a column
        headers.pop(2)
        for row in rows:
            row.pop(2)
    beside = width_of(rows, headers) <= columns
    if not beside:
        headers.pop(1)
    grid = table("Journals", *headers, right=("runs", "events"))
    for row in rows:
        cells: list[str | Text] = [*row]
        if not beside:
            cells.pop(1)
        replay = cells[-1]
        cells[-1] = Text(str(replay), style="green" if replay == "ok" else "bold red")
        grid.add_row(*cells)
    if beside:
        return grid
    files = Text()
    for j in analysis.journals:
        files.append(f"\n  {j.replica}  ", style="bold").append(journal_name(j, False))
    return Group(grid, Text.assemble(Text("Files", style="dim"), files, no_wrap=True))


def cause_text(term: Term) -> Text:
    """Why a term ended, as the report shows it: the cause, the event's type for one the
    table does not name, `-` while still leading."""
    if term.end_cause is None:
        return Text("-")
    if term.end_cause == OTHER:
        return Text(f"{OTHER} ({term.end_event})", style="yellow")
    return Text(term.end_cause, style="yellow" if term.end_cause == CRASH else "")


def terms(analysis: Analysis) -> RenderableType:
    if not analysis.terms:
        return Text("\nNo leadership terms: no replica became Leader.", style="yellow")
    grid = table(
        "Leadership terms",
        "replica",
        "token",
        "start",
        "end",
        "duration",
        "ended by",
        right=("token", "duration"),
    )
    for term in analysis.terms:
        end = Text("still leader", style="green") if term.end is None else Text(hms(term.end))
        grid.add_row(
            term.replica,
            str(term.token),
            hms(term.start),
            end,
            seconds(term.duration),
            cause_text(term),
        )
    return grid


def handovers(analysis: Analysis) -> RenderableType:
    """One row per hand-over; `gap` is only ever the time between the old term's end and
    the new one's start. When the old leader's journal ends its term after the new one
    began (it was cut off or frozen and heard late), there was no such gap: the cell says
    what happened instead, and a line beneath the table gives the figure."""
    if not analysis.handovers:
        return Text("")
    grid = table(
        "Hand-overs",
        "from",
        "token",
        "ended",
        "to",
        "token ",
        "started",
        "gap",
        right=("token", "token ", "gap"),
    )
    overlapping = _overlapping_pairs(analysis)
    footnotes: list[str] = []
    for h in analysis.handovers:
        gap = h.gap
        if gap is None or gap >= 0:
            cell = Text(seconds(gap))
        else:
            worked = (h.previous.began, h.next.began) in overlapping
            cell = Text("OVERLAP*", style="bold red") if worked else Text("ended late*")
            footnotes.append(_late_end(h, -gap, worked))
        grid.add_row(
            h.previous.replica,
            str(h.previous.token),
            "-" if h.previous.end is None else hms(h.previous.end),
            h.next.replica,
            str(h.next.token),
            hms(h.next.start),
            cell,
        )
    if not footnotes:
        return grid
    return Group(grid, Text("\n".join(footnotes), style="dim"))


def _overlapping_pairs(analysis: Analysis) -> set[tuple[Where, Where]]:
    """The (earlier, later) terms, by their first records, that the checks found both
    leading with the earlier one at work (`overlapping-leaders`)."""
    return {
        (v.records[0], v.records[1])
        for v in analysis.violations
        if v.kind == "overlapping-leaders" and len(v.records) >= 2
    }


def _late_end(h: Handover, late: float, worked: bool) -> str:
    old, new = h.previous, h.next
    said = (
        f"* {old.replica}'s term (token {old.token}) ended {late:.3f}s after {new.replica}'s began"
    )
    if worked:
        return f"{said}, and {old.replica} worked meanwhile: a violation (below)"
    return f"{said}: cut off or frozen, {old.replica} heard late and did no work meanwhile"


def jobs(analysis: Analysis) -> RenderableType:
    """The job's runs (--exec): which term each ran for, from when to when, how it ended."""
    grid = table(
        "Job runs",
        "replica",
        "token",
        "pid",
        "start",
        "end",
        "ran",
        "exit",
        right=("token", "pid", "ran"),
    )
    grid.columns[-1].no_wrap = False  # "(lease: why)" may be long: words wrap
    for run in analysis.jobs:
        end = Text("still running", style="green") if run.end is None else Text(hms(run.end))
        ran = None if run.end is None else run.end - run.start
        how = "-" if run.code is None else (run.signal or f"code {run.code}")
        shown_ran = seconds(ran)
        if not run.end_known and run.end is not None:  # its daemon died: gone by then
            end, shown_ran, how = Text(f"≤ {end}"), f"≤ {shown_ran}", "daemon died"
        if run.stopped_by:
            how += f" ({run.stopped_by})"
        grid.add_row(run.replica, str(run.token), str(run.pid), hms(run.start), end, shown_ran, how)
    return grid


def states_at(analysis: Analysis) -> RenderableType:
    """The replayed state of each journal where its fold stopped (`--until`): three lines
    a replica, so that the session, timers and pending requests have the width they need."""
    grid = Table.grid(padding=(0, GAP))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for j in analysis.journals:
        s = j.snapshot
        grid.add_row(j.replica, _state_text(s) if s is not None else Text("-"))
    title = Text(f"Replayed state after seq {analysis.until}", style="bold underline")
    return Group(title, grid)


def _state_text(s: Snapshot) -> Text:
    text = Text(f"seq {s.seq}  {hms(s.wall)}  ")
    text.append(s.name, style="bold")
    if s.token is not None:
        text.append(f" (token {s.token})")
    session = "none" if s.session_id is None else f"0x{s.session_id:x}"
    text.append(f"\nsession {session}, {'connected' if s.connected else 'not connected'}")
    timers = ", ".join(f"{name}#{i}" for name, i in s.timers) or "-"
    pending = ", ".join(f"{kind}#{r}" for r, kind in s.pending) or "-"
    text.append(f"\ntimers {timers}  pending {pending}", style="dim")
    return text
