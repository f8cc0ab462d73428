"""`election top`: a live table of every replica, from the member nodes in ZooKeeper.

It polls (every 0.5 s by default) rather than keeping watches: one `get_children` and
one `get` per member, all asynchronous and bounded by a deadline, so a reconnect, a
vanished node or a slow server never leaves the table stale without saying so. What a
member node holds is parsed by `election.observe.members` (hostile data is a row marked
unreadable, never a crash).
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import attrs
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from election.observe.members import (
    FlashTracker,
    MemberRow,
    build_rows,
    format_duration,
    members_path,
)
from election.observe.tui import state_style

CALL_DEADLINE = 2.0  # seconds for one round of ZooKeeper reads


@attrs.frozen(kw_only=True)
class Snapshot:
    """One poll: the rows, who holds the election node, and whether it worked."""

    rows: tuple[MemberRow, ...] = ()
    holder: str = ""  # the election node's data (the leader's replica id), if any
    holder_token: int | None = None  # its czxid
    error: str = ""  # why this poll failed (the rows are then the last good ones)
    wall: float = 0.0  # when it was taken


def _get(result: Any, deadline: float) -> Any:
    return result.get(timeout=max(0.05, deadline - time.monotonic()))


def poll(client: KazooClient, election_path: str, deadline: float = CALL_DEADLINE) -> Snapshot:
    """Read every member node and the election node (raises on ZooKeeper trouble)."""
    until = time.monotonic() + deadline
    parent = members_path(election_path)
    holder_async = client.get_async(election_path)
    try:
        names = _get(client.get_children_async(parent), until)
    except NoNodeError:
        names = []
    pending = {name: client.get_async(f"{parent}/{name}") for name in names}
    members: dict[str, bytes | None] = {}
    for name, result in pending.items():
        try:
            data, _stat = _get(result, until)
        except NoNodeError:  # left between the listing and the read
            continue
        members[name] = data
    try:
        holder_data, holder_stat = _get(holder_async, until)
        holder = holder_data.decode("utf-8", "replace")[:128] if holder_data else ""
        token: int | None = holder_stat.czxid
    except NoNodeError:
        holder, token = "", None
    return Snapshot(
        rows=tuple(build_rows(members)), holder=holder, holder_token=token, wall=time.time()
    )


def render(snapshot: Snapshot, servers: str, election_path: str, now: float) -> RenderableType:
    """The table for `snapshot` at wall time `now`."""
    table = Table(
        title=f"election top · {election_path} · {servers}",
        title_justify="left",
        expand=False,
    )
    table.add_column("", width=1)
    table.add_column("replica")
    table.add_column("state")
    table.add_column("in state", justify="right")
    table.add_column("token", justify="right")
    table.add_column("host / pid")
    table.add_column("last change")
    table.add_column("metrics")
    for row in snapshot.rows:
        style = "reverse" if row.flash else ""
        if not row.readable:
            # Text, never str: a str cell is rich markup, and names and data come from
            # ZooKeeper, where anyone with access may write `[/red]`.
            table.add_row("?", Text(row.name), Text(row.problem, style="red"), style=style)
            continue
        marker = Text("*", style="bold green") if row.leader else ""
        since = (
            time.strftime("%H:%M:%S", time.localtime(row.since)) if row.since is not None else "-"
        )
        table.add_row(
            marker,
            Text(row.name),
            Text(row.state, style=state_style(row.state)),
            format_duration(row.in_state(now)),
            "-" if row.token is None else str(row.token),
            Text(f"{row.host}/{row.pid}" if row.pid is not None else row.host),
            since,
            Text(row.metrics or "-"),
            style=style,
        )
    leaders = [r.name for r in snapshot.rows if r.leader]
    footer = Text()
    footer.append(f"{len(snapshot.rows)} replicas; ")
    if snapshot.holder:
        footer.append("leader ", style="dim")
        footer.append(snapshot.holder, style="bold green")
        footer.append(f" (token {snapshot.holder_token})", style="dim")
    else:
        footer.append("no leader node", style="yellow")
    if len(leaders) > 1:
        footer.append(f"  several replicas say Leader: {', '.join(leaders)}", style="bold red")
    if snapshot.error:
        footer.append(f"\nZooKeeper: {snapshot.error} (showing the last good view)", style="red")
    footer.append("\n* leader · highlighted: changed within 2 s · q or Ctrl-C quits", style="dim")
    return Group(table, footer)


@contextlib.contextmanager
def _keys(stop: threading.Event) -> Iterator[None]:
    """Read keys in cbreak mode (Ctrl-C still interrupts) when stdin is a terminal;
    `q` sets `stop`. Restores the terminal on the way out."""
    if not sys.stdin.isatty():
        yield
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                key = os.read(fd, 1)
                if key in (b"q", b"Q", b"\x03", b""):
                    stop.set()
                    return

    tty.setcbreak(fd)
    reader = threading.Thread(target=read, name="election-top-keys", daemon=True)
    reader.start()
    try:
        yield
    finally:
        done.set()
        reader.join(1.0)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run_top(
    servers: tuple[str, ...],
    election_path: str,
    *,
    once: bool = False,
    interval: float = 0.5,
    connect_timeout: float = 10.0,
    console: Console | None = None,
) -> int:
    """Show the cluster until `q` or Ctrl-C (or print one snapshot with `once`).
    Returns the exit code: 0, or 1 when ZooKeeper could not be reached for `once`."""
    console = console or Console()
    hosts = ",".join(servers)
    client = KazooClient(
        hosts=hosts,
        timeout=10.0,
        connection_retry={"max_tries": -1, "delay": 0.1, "backoff": 2, "max_delay": 2.0},
        command_retry=None,
    )
    try:
        try:
            client.start(timeout=connect_timeout)
        except Exception as exc:
            console.print(f"election top: cannot connect to ZooKeeper {hosts}: {exc}")
            return 1
        flashes = FlashTracker()
        if once:
            snap = poll(client, election_path)
            snap = attrs.evolve(snap, rows=tuple(flashes.mark(list(snap.rows), time.monotonic())))
            console.print(render(snap, hosts, election_path, time.time()))
            return 0
        return _live(client, hosts, election_path, interval, console, flashes)
    finally:
        with contextlib.suppress(Exception):
            client.stop()
        with contextlib.suppress(Exception):
            client.close()


def _live(
    client: KazooClient,
    hosts: str,
    election_path: str,
    interval: float,
    console: Console,
    flashes: FlashTracker,
) -> int:
    stop = threading.Event()
    current = Snapshot(error="connecting", wall=time.time())

    def view() -> RenderableType:
        return render(current, hosts, election_path, time.time())

    try:
        with _keys(stop), Live(get_renderable=view, console=console, refresh_per_second=8):
            while not stop.is_set():
                try:
                    snap = poll(client, election_path)
                except Exception as exc:  # ZooKeeper trouble: keep the last rows, say so
                    error = type(exc).__name__ + (f": {exc}" if str(exc) else "")
                    current = attrs.evolve(current, error=error)
                else:
                    rows = flashes.mark(list(snap.rows), time.monotonic())
                    current = attrs.evolve(snap, rows=tuple(rows))
                stop.wait(interval)
    except KeyboardInterrupt:
        pass
    return 0
