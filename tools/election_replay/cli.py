"""`election-replay [--json] [--since TIME] [--until TIME|SEQ] JOURNAL...`: exit 0 all well,
1 found, 2 unreadable, 130 interrupted."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console

from election import __version__
from election_replay import report
from election_replay.clock import parse_time
from election_replay.invariants import DEFAULT_SKEW
from election_replay.replay import ReplayError, Window, analyse

EXIT_OK, EXIT_FOUND, EXIT_UNREADABLE = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report it: never mistaken for "found" (1)


def _time(_: click.Context, param: click.Parameter, value: str | None) -> float | int | None:
    """`--since`, `--until`: RFC 3339 (`2026-11-26T04:00:00Z`) or `@UNIX-SECONDS`; to
    `--until` a bare integer is a record SEQ instead, as it always was."""
    if value is None:
        return None
    if param.name == "until" and value.strip().isdigit():
        return int(value)
    try:
        return parse_time(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="election-replay", message="%(prog)s %(version)s"
)
@click.argument("journals", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object instead of the report."
)
@click.option(
    "--since",
    callback=_time,
    metavar="TIME",
    help="Replay only from TIME on (RFC 3339, e.g. 2026-11-26T04:00:00Z, or "
    "@UNIX-SECONDS): each journal from the snapshot nearest before it.",
)
@click.option(
    "--until",
    callback=_time,
    metavar="TIME|SEQ",
    help="Replay only up to TIME; a bare integer instead stops each journal after record "
    "SEQ and shows the replayed state at that moment.",
)
@click.option(
    "--skew",
    type=click.FloatRange(min=0),
    default=DEFAULT_SKEW,
    show_default=True,
    help="Seconds of wall-clock skew between machines: a smaller leader overlap is a note.",
)
@click.option(
    "--svg",
    "svg",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save the report with its timeline as an SVG picture (for a ticket).",
)
@click.option(
    "--html",
    "html",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save the report with its timeline as an HTML page.",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Fold up to N journals at once, each in a process of its own "
    "[default: two per CPU when the journals hold 8 MiB or more, else 1].",
)
@click.option(
    "--width",
    type=click.IntRange(min=10, max=1000),
    default=None,
    help="Characters of the timeline, each one a slice of wall time, at most as many "
    "as fit in the console beside the labels [default: as many as fit, at most 72].",
)
def main(
    journals: tuple[Path, ...],
    as_json: bool,
    since: float | None,
    until: float | int | None,
    skew: float,
    svg: Path | None,
    html: Path | None,
    width: int | None,
    processes: int | None,
) -> None:
    """Replay election JOURNALs through today's reducer and check them across replicas.

    Exit 0 when every journal replays to the states and effects it recorded and no
    invariant is broken; 1 when a divergence or a violation is found; 2 when a journal
    cannot be read (the message names the file and line); 130 when interrupted (Ctrl-C).
    Journals are only read.
    """
    until_seq = until if isinstance(until, int) else None
    until_time = until if isinstance(until, float) else None
    window = None
    if since is not None or until_time is not None:
        if since is not None and until_time is not None and until_time < since:
            raise click.BadParameter("--until is before --since", param_hint="'--until'")
        window = Window(since=since, until=until_time)
    try:
        analysis = analyse(journals, until=until_seq, skew=skew, processes=processes, window=window)
    except ReplayError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        click.echo("election-replay: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    for picture in (svg, html):
        if picture is not None:
            try:
                report.save_picture(analysis, picture, width)
            except OSError as exc:
                _fail(f"{picture}: cannot write: {exc.strerror or exc}")
    if as_json:
        click.echo(report.dumps(analysis))
    else:
        report.print_report(analysis, Console(), width)
    sys.exit(EXIT_OK if analysis.ok else EXIT_FOUND)


def _fail(message: str) -> NoReturn:
    click.echo(f"election-replay: {message}", err=True)
    sys.exit(EXIT_UNREADABLE)
