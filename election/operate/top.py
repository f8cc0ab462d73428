"""`election top`: the live table of `election.observe.top`, as an operator's command
(the same connection flags, `--timeout` and exit codes as `election status`)."""

from __future__ import annotations

from rich.console import Console

from election.observe.top import live, once, render
from election.operate.connection import EXIT_NOT_DONE, OperatorSession

__all__ = ["run_top"]


def run_top(
    session: OperatorSession,
    *,
    one: bool = False,
    interval: float = 0.5,
    console: Console | None = None,
) -> int:
    """Show the cluster until `q` or Ctrl-C, or print one snapshot with `one`. Returns
    the exit code: with `one`, 0 when a replica leads and 1 when none does; ZooKeeper's
    trouble in that one poll raises CommandFailed (its real cause, for stderr)."""
    console = console or Console()
    hosts = ",".join(session.connection.servers)
    path = session.connection.election_path
    if one:
        with session.guarded(f"reading {path}"):
            snap = once(session.client, path, session.timeout)
        console.print(render(snap, hosts, path, snap.wall, console.width, live=False))
        return 0 if snap.leads else EXIT_NOT_DONE

    def describe(exc: Exception) -> str:
        failed = session.failure(exc, "reading")
        return failed.message if failed is not None else type(exc).__name__

    return live(session.client, hosts, path, describe=describe, interval=interval, console=console)
