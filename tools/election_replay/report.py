"""The three faces of an analysis: the human report (rich), the JSON object, the picture."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from election_replay import timeline
from election_replay.clock import hms, seconds, stamp
from election_replay.model import Analysis, Divergence, Snapshot


def to_json(analysis: Analysis) -> dict[str, Any]:
    """The contract's object: `events`, `divergences`, `violations`, `leadership`, and more."""
    return {
        "ok": analysis.ok,
        "events": analysis.events,
        "until": analysis.until,
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


def render(analysis: Analysis, width: int = 72) -> RenderableType:
    """The whole human report, top to bottom in the order one reads it during an incident."""
    parts: list[RenderableType] = [_headline(analysis), Text(""), _journals(analysis)]
    picture = timeline.build(analysis.journals, width)
    if picture is not None:
        parts += [Text("\nTimeline", style="bold underline"), timeline.render(picture)]
    parts += [Text(""), _terms(analysis), Text(""), _handovers(analysis)]
    if analysis.jobs:
        parts += [Text(""), _jobs(analysis)]
    if analysis.until is not None:
        parts += [Text(""), _states_at(analysis)]
    parts += [p for d in analysis.divergences if (p := _divergence(d))]
    if analysis.violations:
        parts.append(_violations(analysis))
    if analysis.notes:
        notes = Table.grid(padding=(0, 1))
        notes.add_column(width=3, justify="right")
        notes.add_column(style="yellow", overflow="fold")
        for note in analysis.notes:
            notes.add_row("•", note)
        parts += [Text("\nNotes", style="bold underline"), notes]
    return Group(*parts)


def print_report(analysis: Analysis, console: Console, width: int = 72) -> None:
    console.print(render(analysis, width))


def save_picture(analysis: Analysis, path: Path, width: int = 72) -> None:
    """The report as an SVG (or HTML, by the file's suffix) to attach to a ticket."""
    console = Console(record=True, width=max(width + 40, 100), file=io.StringIO())
    console.print(render(analysis, width))
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
    if starts and ends:
        text.append(f"\n{stamp(min(starts))} → {stamp(max(ends))}", style="dim")
    if analysis.until is not None:
        text.append(f"  (stopped after seq {analysis.until})", style="dim")
    return text


def _journals(analysis: Analysis) -> Table:
    table = Table(title="Journals", title_justify="left", title_style="bold underline")
    for column in ("replica", "journal", "runs", "events", "first", "last", "ends in", "replay"):
        table.add_column(
            column,
            justify="right" if column in ("runs", "events") else "left",
            overflow="fold",
        )
    names = [Path(j.journal).name for j in analysis.journals]
    short = len(set(names)) == len(names)  # file names say enough when they differ
    for j in analysis.journals:
        replay = (
            Text("ok", style="green")
            if j.divergence is None
            else Text(
                f"DIVERGES at {Path(j.divergence.where.journal).name}:{j.divergence.where.line}"
                if len(j.files) > 1
                else f"DIVERGES at line {j.divergence.where.line}",
                style="bold red",
            )
        )
        table.add_row(
            j.replica,
            (Path(j.journal).name if short else j.journal)
            + (f" (+{len(j.files) - 1} rotated)" if len(j.files) > 1 else ""),
            str(j.runs),
            str(j.events),
            "-" if j.first_wall is None else hms(j.first_wall),
            "-" if j.last_wall is None else hms(j.last_wall),
            j.segments[-1].state if j.segments else "-",
            replay,
        )
    return table


def _terms(analysis: Analysis) -> RenderableType:
    if not analysis.terms:
        return Text("\nNo leadership terms: no replica became Leader.", style="yellow")
    table = Table(title="Leadership terms", title_justify="left", title_style="bold underline")
    for column in ("replica", "token", "start", "end", "duration"):
        table.add_column(column, justify="right" if column in ("token", "duration") else "left")
    for term in analysis.terms:
        end = Text("still leader", style="green") if term.end is None else Text(hms(term.end))
        table.add_row(term.replica, str(term.token), hms(term.start), end, seconds(term.duration))
    return table


def _handovers(analysis: Analysis) -> RenderableType:
    if not analysis.handovers:
        return Text("")
    table = Table(title="Hand-overs", title_justify="left", title_style="bold underline")
    for column in ("from", "token", "ended", "to", "token ", "started", "gap"):
        table.add_column(column, justify="right" if column.startswith("token") else "left")
    for h in analysis.handovers:
        gap = h.gap
        shown = Text(seconds(gap), style="bold red" if gap is not None and gap < 0 else "")
        table.add_row(
            h.previous.replica,
            str(h.previous.token),
            "-" if h.previous.end is None else hms(h.previous.end),
            h.next.replica,
            str(h.next.token),
            hms(h.next.start),
            shown,
        )
    return table


def _jobs(analysis: Analysis) -> Table:
    """The job's runs (--exec): which term each ran for, from when to when, how it ended."""
    table = Table(title="Job runs", title_justify="left", title_style="bold underline")
    for column in ("replica", "token", "pid", "start", "end", "ran", "exit"):
        table.add_column(column, justify="right" if column in ("token", "pid", "ran") else "left")
    for run in analysis.jobs:
        end = Text("still running", style="green") if run.end is None else Text(hms(run.end))
        ran = None if run.end is None else run.end - run.start
        how = "-" if run.code is None else (run.signal or f"code {run.code}")
        if run.stopped_by:
            how += f" ({run.stopped_by})"
        table.add_row(
            run.replica, str(run.token), str(run.pid), hms(run.start), end, seconds(ran), how
        )
    return table


def _states_at(analysis: Analysis) -> Table:
    table = Table(
        title=f"Replayed state after seq {analysis.until}",
        title_justify="left",
        title_style="bold underline",
    )
    for column in ("replica", "seq", "wall", "state", "token", "conn", "session"):
        table.add_column(column, no_wrap=True)
    table.add_column("timers", overflow="fold")
    table.add_column("pending", overflow="fold")
    for j in analysis.journals:
        s = j.snapshot
        table.add_row(j.replica, *(_snapshot_cells(s) if s else ["-"] * 8))
    return table


def _snapshot_cells(s: Snapshot) -> list[str]:
    return [
        str(s.seq),
        hms(s.wall),
        s.name,
        "-" if s.token is None else str(s.token),
        "yes" if s.connected else "no",
        "-" if s.session_id is None else f"0x{s.session_id:x}",
        ", ".join(f"{name}#{i}" for name, i in s.timers) or "-",
        ", ".join(f"{kind}#{r}" for r, kind in s.pending) or "-",
    ]


def _divergence(d: Divergence) -> Panel:
    body = Text()
    body.append(f"{d.where.journal}:{d.where.line}", style="bold")
    body.append(f"  seq {d.where.seq}  {stamp(d.where.wall)}  replica {d.where.replica}\n")
    body.append("event     ").append(_compact(d.event))
    for field in d.fields:  # only what differs: the rest agreed
        body.append(f"\n{field}\n", style="bold")
        body.append("  today     ", style="green").append(_compact(d.expected.get(field)) + "\n")
        body.append("  recorded  ", style="red").append(_compact(d.recorded.get(field, "?")))
    return Panel(body, title="DIVERGENCE", title_align="left", border_style="red")


def _violations(analysis: Analysis) -> Panel:
    body = Text()
    for i, v in enumerate(analysis.violations):
        if i:
            body.append("\n")
        body.append(f"{v.kind}: ", style="bold red").append(v.message + "\n")
        for w in v.records:
            body.append(f"    {w.journal}:{w.line} seq {w.seq} {stamp(w.wall)} ({w.replica})\n")
    return Panel(
        body, title=f"VIOLATIONS ({len(analysis.violations)})", title_align="left", style="red"
    )


def _compact(value: Any) -> str:
    return orjson.dumps(value).decode()
