"""The three faces of an analysis: the human report (rich), the JSON object, the picture."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from election_replay import tables, timeline
from election_replay.clock import stamp
from election_replay.model import Analysis, Divergence


def to_json(analysis: Analysis) -> dict[str, Any]:
    """The contract's object: `events`, `divergences`, `violations`, `leadership`, and more."""
    return {
        "ok": analysis.ok,
        "events": analysis.events,
        "until": analysis.until,
        **({} if analysis.window is None else {"window": analysis.window.as_json()}),
        "divergences": [d.as_json() for d in analysis.divergences],
        "violations": [v.as_json() for v in analysis.violations],
        "leadership": [t.as_json() for t in analysis.terms],
        "handovers": [h.as_json() for h in analysis.handovers],
        "jobs": [r.as_json() for r in analysis.jobs],
        "replicas": [j.as_json() for j in analysis.journals],
        "notes": list(analysis.notes),
    }


def dumps(analysis: Analysis) -> str:
    return orjson.dumps(to_json(analysis), option=orjson.OPT_INDENT_2).decode()


# The width of a pipe (rich's when stdout is no terminal), of a ticket, of a mail.
COLUMNS = 80
TIMELINE_WIDTH = 72  # characters of the timeline at most, unless asked for


def render(analysis: Analysis, width: int | None = None, columns: int = COLUMNS) -> RenderableType:
    """The whole human report, top to bottom in the order one reads it during an incident,
    laid out for a console `columns` wide (the timeline `width` characters, or as many
    as fit, at most 72 by default)."""
    parts: list[RenderableType] = [_headline(analysis), Text("")]
    parts.append(tables.journals(analysis, columns))
    picture = timeline.build(analysis.journals, _timeline_width(analysis, columns, width))
    if picture is not None:
        parts += [Text("\nTimeline", style="bold underline"), timeline.render(picture)]
    parts += [Text(""), tables.terms(analysis), Text(""), tables.handovers(analysis)]
    if analysis.jobs:
        parts += [Text(""), tables.jobs(analysis)]
    if analysis.until is not None:
        parts += [Text(""), tables.states_at(analysis)]
    parts += [p for d in analysis.divergences if (p := _divergence(d))]
    if analysis.violations:
        parts.append(_violations(analysis, columns))
    if analysis.notes:
        notes = Table.grid(padding=(0, 1))
        notes.add_column(width=3, justify="right")
        notes.add_column(style="yellow", overflow="fold")
        for note in analysis.notes:
            notes.add_row("•", note)
        parts += [Text("\nNotes", style="bold underline"), notes]
    return Group(*parts)


def _timeline_width(analysis: Analysis, columns: int, asked: int | None = None) -> int:
    """The slices of the timeline: `asked` (else `TIMELINE_WIDTH`), but never more than
    fit beside the longest row label in `columns` (a wider one would squeeze the labels
    out of the picture); 10 at the least."""
    labels = [len(j.replica) + (4 if j.jobs else 0) for j in analysis.journals]
    label = max([*labels, len("UTC")]) + 3  # " #2" for a replica of several journals
    return max(10, min(asked or TIMELINE_WIDTH, columns - label - 1))


def print_report(analysis: Analysis, console: Console, width: int | None = None) -> None:
    console.print(render(analysis, width, console.width), crop=False)  # paths stay whole


def save_picture(analysis: Analysis, path: Path, width: int | None = None) -> None:
    """The report as an SVG (or HTML, by the file's suffix) to attach to a ticket."""
    columns = max((width or TIMELINE_WIDTH) + 40, 100)
    console = Console(record=True, width=columns, file=io.StringIO())
    console.print(render(analysis, width, columns))
    title = "election-replay"
    if path.suffix.lower() in (".html", ".htm"):
        console.save_html(str(path))
    else:
        console.save_svg(str(path), title=title)


def _headline(analysis: Analysis) -> Text:
    if analysis.ok:
        verdict = Text("OK", style="bold green")
    else:
        verdict = Text(
            f"{len(analysis.divergences)} divergence(s), {len(analysis.violations)} violation(s)",
            style="bold red",
        )
    text = Text(f"election-replay: {len(analysis.journals)} journal(s), ")
    text.append(f"{analysis.events} events, {len(analysis.terms)} leadership term(s): ")
    text.append_text(verdict)
    starts = [j.first_wall for j in analysis.journals if j.first_wall is not None]
    ends = [j.last_wall for j in analysis.journals if j.last_wall is not None]
    window = analysis.window
    if window is not None:
        since = "the start" if window.since is None else stamp(window.since)
        until = "the end" if window.until is None else stamp(window.until)
        text.append(f"\nwindow {since} → {until}", style="bold")
        text.append(f"\n{_folded_from(analysis)}", style="dim")
    elif starts and ends:
        text.append(f"\n{stamp(min(starts))} → {stamp(max(ends))}", style="dim")
    if analysis.until is not None:
        text.append(f"  (stopped after seq {analysis.until})", style="dim")
    return text


def _folded_from(analysis: Analysis) -> str:
    """How each journal's fold of a window began: from a snapshot (how long before the
    window), from a header, or from the journal's start."""
    kinds = [j.start["from"] if j.start else "start" for j in analysis.journals]
    counts = ", ".join(f"{kinds.count(k)} from {_FROM[k]}" for k in _FROM if k in kinds)
    return f"folded from the nearest start before it: {counts}"


_FROM = {"snapshot": "a snapshot", "header": "a header", "start": "the journal's start"}


def _whole(text: str, style: str = "bold") -> Text:
    """A line that is never wrapped nor cut, however narrow the console (a journal's path
    is copied from here into an editor); `print_report` prints it past the width."""
    return Text(text, style=style, no_wrap=True, overflow="ignore")


def _divergence(d: Divergence) -> RenderableType:
    # No box around it: a box narrows the lines, and a file name must never break.
    head = Text("\n")
    head.append("DIVERGENCE", style="bold red underline")
    head.append(f"  {d.where.replica}  seq {d.where.seq}  {stamp(d.where.wall)}")
    body = Text("  event\n", style="bold").append("    " + _compact(d.event))
    for field in d.fields:  # only what differs: the rest agreed
        body.append(f"\n  {field}\n", style="bold")
        body.append("    today     ", style="green").append(_compact(d.expected.get(field)))
        body.append("\n    recorded  ", style="red").append(_compact(d.recorded.get(field, "?")))
    return Group(head, _whole(f"  {d.where.journal}:{d.where.line}"), body)


def _violations(analysis: Analysis, columns: int) -> RenderableType:
    lines: list[RenderableType] = [
        Text(f"\nVIOLATIONS ({len(analysis.violations)})", style="bold red underline")
    ]
    for v in analysis.violations:
        lines.append(Text(f"{v.kind}: ", style="bold red").append(v.message))
        for w in v.records:  # the file name first and whole; the rest after it or beneath
            where = f"  {w.journal}:{w.line}"
            rest = f"  seq {w.seq}  {stamp(w.wall)}  ({w.replica})"
            if len(where + rest) <= columns:
                lines.append(Text().append(where, style="bold").append(rest))
            else:
                lines += [_whole(where), Text(f"  {rest}")]
    return Group(*lines)


def _compact(value: Any) -> str:
    return orjson.dumps(value).decode()
