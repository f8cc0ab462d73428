"""`election top`: a live table of every replica, from the member nodes in ZooKeeper.

It polls (every 0.5 s by default) rather than keeping watches: each refresh is one
round of `election.observe.cluster` (the queue's head, the member nodes with their
sessions, the pause), all asynchronous and bounded by a deadline, so a reconnect, a
vanished node or a slow server never leaves the table stale without saying so. What a
member node holds is parsed by `election.observe.members` (hostile data is a row marked
unreadable, never a crash), and a member that says Leader while the queue's head is
not its session's is marked stale, never shown as the leader.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from collections.abc import Callable, Iterator

import attrs
from kazoo.client import KazooClient
from kazoo.protocol.states import EventType, WatchedEvent
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from election.observe.cluster import CALL_DEADLINE, read_cluster
from election.observe.members import (
    SESSION_LOST,
    STOPPED,
    Departures,
    FlashTracker,
    MemberRow,
    format_duration,
)
from election.observe.tui import state_style


@attrs.frozen(kw_only=True)
class Snapshot:
    """One poll: the rows, who leads the queue, and whether it worked."""

    rows: tuple[MemberRow, ...] = ()
    left: tuple[MemberRow, ...] = ()  # replicas gone within a few seconds, and how
    holder: str = ""  # the queue head's data (the leader's replica id), if any
    holder_token: int | None = None  # its czxid
    paused: bool = False  # the operator's pause node exists
    error: str = ""  # why this poll failed (the rows are then the last good ones)
    wall: float = 0.0  # when it was taken

    @property
    def leads(self) -> bool:
        """A replica leads (as `election status` says it: held, not paused)."""
        return self.holder_token is not None and not self.paused


def poll(
    client: KazooClient,
    election_path: str,
    deadline: float = CALL_DEADLINE,
    watch: Callable[[WatchedEvent], None] | None = None,
) -> Snapshot:
    """Read every member node and the head of the queue (raises on ZooKeeper trouble);
    `watch` is set on every member node read."""
    view = read_cluster(client, election_path, deadline, watch=watch)
    leader = view.leader
    return Snapshot(
        rows=view.members,
        holder=leader.replica if leader is not None else "",
        holder_token=leader.token if leader is not None else None,
        paused=view.paused,
        wall=view.wall,
    )


# The columns a narrow terminal loses first, last one first: what matters for "who
# leads, and is everyone there" stays whole rather than every column being cut short.
_OPTIONAL = ("host / pid", "last change", "metrics")


def render(
    snapshot: Snapshot,
    servers: str,
    election_path: str,
    now: float,
    width: int | None = None,
    *,
    live: bool = True,
) -> RenderableType:
    """The table for `snapshot` at wall time `now`; within `width` columns (None: no
    limit) by leaving out, if it must, the metrics address, then the last change, then
    host and pid — said under the table (`election status --json` has them all). The
    legend names the keys and the highlighting only when `live`."""
    shown = len(_OPTIONAL)
    table = _table(snapshot, servers, election_path, now, _OPTIONAL)
    while width is not None and shown > 0 and _natural_width(table) > width:
        shown -= 1
        table = _table(snapshot, servers, election_path, now, _OPTIONAL[:shown])
    footer = _footer(snapshot, live)
    if shown < len(_OPTIONAL):
        left_out = ", ".join(_OPTIONAL[shown:])
        footer.append(f"\n(too narrow for {left_out}: see election status --json)", style="dim")
    return Group(table, footer)


def _natural_width(table: Table) -> int:
    """How wide `table` is when nothing is cut short."""
    wide = Console(width=10_000, color_system=None)
    return Measurement.get(wide, wide.options, table).maximum


def _table(
    snapshot: Snapshot, servers: str, election_path: str, now: float, optional: tuple[str, ...]
) -> Table:
    table = Table(
        title=f"election top · {election_path} · {servers}",
        title_justify="left",
        expand=False,
    )
    table.add_column("", width=1)
    table.add_column("replica")
    table.add_column("state")
    table.add_column("prio", justify="right")
    table.add_column("in state", justify="right")
    table.add_column("token", justify="right")
    for name in optional:
        table.add_column(name)
    for row in (*snapshot.rows, *snapshot.left):
        if row.left:
            table.add_row(*_left_cells(row, now)[: 6 + len(optional)], style="dim")
            continue
        style = "reverse" if row.flash else ""
        if not row.readable:
            # Text, never str: a str cell is rich markup, and names and data come from
            # ZooKeeper, where anyone with access may write `[/red]`.
            table.add_row("?", Text(row.name), Text(row.problem, style="red"), style=style)
            continue
        since = (
            time.strftime("%H:%M:%S", time.localtime(row.since)) if row.since is not None else "-"
        )
        cells = member_cells(row, now)
        extra = {
            "host / pid": cells[-1],
            "last change": Text(since),
            "metrics": Text(row.metrics or "-"),
        }
        table.add_row(*cells[:-1], *(extra[name] for name in optional), style=style)
    return table


def _left_cells(row: MemberRow, now: float) -> list[Text]:
    """A replica that left: how, and how long ago, where its state and time in it were."""
    ago = None if row.left_at is None else now - row.left_at
    style = "yellow" if row.left == SESSION_LOST else ""
    return [
        Text(""),
        Text(row.name),
        Text(f"left: {row.left}", style=style),
        Text("-"),
        Text(f"{format_duration(ago)} ago"),
        Text("-"),
        Text(f"{row.host}/{row.pid}" if row.pid is not None else row.host),
        Text("-"),
        Text("-"),
    ]


def _departure(row: MemberRow, now: float) -> str:
    ago = format_duration(None if row.left_at is None else max(0.0, now - row.left_at))
    if row.left == STOPPED:
        return f"{row.name} left {ago} ago: it stopped (its last word was Stopping)"
    was = f" while {row.state}" if row.state else ""
    return (
        f"{row.name} left {ago} ago: its session was lost{was} without a stop (it crashed, "
        "or was cut off until its session expired)"
    )


def member_cells(row: MemberRow, now: float) -> list[Text]:
    """What `top` and `status` both show of a readable member, in their order: the
    leader's mark, replica, state, priority, time in state, token, host/pid."""
    marker = Text("*", style="bold green") if row.leader else Text("!" if row.stale else "")
    # A replica that stopped answering may have said Leader last: never shown as one.
    if row.stale:
        state = Text(f"{row.state}? stale", style="red")
    else:
        state = Text(row.state, style=state_style(row.state))
    return [
        marker,
        Text(row.name),
        state,
        Text(str(row.priority)),
        Text(format_duration(row.in_state(now))),
        Text("-" if row.token is None else str(row.token)),
        Text(f"{row.host}/{row.pid}" if row.pid is not None else row.host),
    ]


def _footer(snapshot: Snapshot, live: bool) -> Text:
    leaders = [r.name for r in snapshot.rows if r.leader]
    footer = Text()
    count = len(snapshot.rows)
    footer.append(f"{count} replica{'' if count == 1 else 's'}; ")
    if snapshot.holder:
        footer.append("leader ", style="dim")
        footer.append(snapshot.holder, style="bold green")
        footer.append(f" (token {snapshot.holder_token})", style="dim")
    else:
        footer.append("no leader node", style="yellow")
    if snapshot.paused:
        footer.append("  paused (election status says by whom)", style="yellow")
    if len(leaders) > 1:
        footer.append(f"  several replicas say Leader: {', '.join(leaders)}", style="bold red")
    for row in snapshot.rows:
        if row.stale:
            footer.append("\n")
            footer.append(f"! {row.name} {row.stale}: not answering?", style="red")
    for row in snapshot.left:
        footer.append("\n")
        footer.append(
            _departure(row, snapshot.wall), style="yellow" if row.left == SESSION_LOST else "dim"
        )
    if snapshot.error:
        footer.append(f"\nZooKeeper: {snapshot.error} (showing the last good view)", style="red")
    legend = "* leader · ! stale"
    if live:
        legend += " · highlighted: changed within 2 s · dim: left within 5 s · q or Ctrl-C quits"
    footer.append(f"\n{legend}", style="dim")
    return footer


class _Changes:
    """The member nodes whose data changed since the last read: their watch fired (a
    replica's last word, Stopping, is written just before its node goes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: set[str] = set()

    def __call__(self, event: WatchedEvent) -> None:
        if event.type == EventType.CHANGED and event.path:
            with self._lock:
                self._names.add(event.path.rsplit("/", 1)[-1])

    def take(self) -> set[str]:
        with self._lock:
            names, self._names = self._names, set()
        return names


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


def once(client: KazooClient, election_path: str, deadline: float) -> Snapshot:
    """One snapshot, for `--once` (raises on ZooKeeper trouble)."""
    snap = poll(client, election_path, deadline=deadline)
    return attrs.evolve(snap, rows=tuple(FlashTracker().mark(list(snap.rows), time.monotonic())))


class Watcher:
    """What `top` shows, refreshed: each `refresh` is one poll, its rows highlighted where
    they changed (`FlashTracker`), and the replicas that left in the last few seconds with
    how they left (`Departures`, told by their nodes' last word: the member nodes are
    read with a watch, which hears of a change the next read may come too late to see).
    ZooKeeper's trouble keeps the last rows, saying why as `describe` words it."""

    def __init__(
        self,
        client: KazooClient,
        election_path: str,
        describe: Callable[[Exception], str] = str,
    ) -> None:
        self._client = client
        self._path = election_path
        self._describe = describe
        self._flashes = FlashTracker()
        self._departures = Departures()
        self._changes = _Changes()
        self.current = Snapshot(error="connecting", wall=time.time())

    def refresh(self) -> Snapshot:
        try:
            snap = poll(self._client, self._path, watch=self._changes)
        except Exception as exc:  # ZooKeeper trouble: keep the last rows, say so
            self.current = attrs.evolve(self.current, error=self._describe(exc))
        else:
            rows = self._flashes.mark(list(snap.rows), time.monotonic())
            left = self._departures.mark(snap.rows, snap.wall, self._changes.take())
            self.current = attrs.evolve(snap, rows=tuple(rows), left=tuple(left))
        return self.current


def live(
    client: KazooClient,
    hosts: str,
    election_path: str,
    *,
    describe: Callable[[Exception], str],
    interval: float = 0.5,
    console: Console | None = None,
) -> int:
    """Show the cluster until `q` or Ctrl-C; ZooKeeper's trouble is shown under the last
    good rows, as `describe` words it. Returns the exit code: 0."""
    console = console or Console()
    watcher = Watcher(client, election_path, describe)
    stop = threading.Event()

    def view() -> RenderableType:
        return render(watcher.current, hosts, election_path, time.time(), console.width)

    try:
        with _keys(stop), Live(get_renderable=view, console=console, refresh_per_second=8):
            while not stop.is_set():
                watcher.refresh()
                stop.wait(interval)
    except KeyboardInterrupt:
        pass
    return 0
