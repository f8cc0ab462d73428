"""`election run --tui`: a live view of this replica, drawn with rich's `Live`.

`ReplicaView` is an observer (records in; it never feeds the core) that keeps what the
screen shows, and `LeaderLookout` (`election.observe.lookout`) reads who leads from
ZooKeeper on its own thread; `render` turns a snapshot of both into a rich renderable
(tested with a recording console); `LiveView` runs rich's `Live` (its refresh thread
redraws four times a second, so the time in state ticks) and catches log lines into
the view, beneath the panel, so that they never tear it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from election.core import events as ev
from election.core.leaderfiles import parse_leader_file_name
from election.core.record import Record
from election.observe.lookout import LeaderLookout, Sighting
from election.observe.members import format_duration

RECENT = 15  # journal records shown
LOG_LINES = 8  # log lines shown beneath the panel
STATE_STYLES = {
    "Init": "bold cyan",
    "Attempter": "bold yellow",
    "Leader": "bold green",
    "Failover": "bold red",
    "Stopping": "bold magenta",
}


def state_style(state: str) -> str:
    return STATE_STYLES.get(state, "bold")


def one_line(record: Record) -> str:
    """A journal record in one short line: seq, time, event, what changed."""
    event = record.event
    name = type(event).__name__
    millis = int(record.wall % 1 * 1000)
    stamp = time.strftime("%H:%M:%S", time.localtime(record.wall)) + f".{millis:03d}"
    details = []
    if isinstance(event, ev.TimerFired):
        details.append(event.name)
    elif isinstance(event, ev.SessionConnected):
        details.append(f"0x{event.session_id:x} {event.server}".strip())
    elif isinstance(event, ev.StopRequested):
        details.append(event.signal)
    elif isinstance(event, ev.NodeWatchFired):
        details.append(event.kind)
    outcome = getattr(event, "outcome", None)
    if outcome is not None:
        details.append(str(outcome))
        reason = getattr(event, "failure", "") or getattr(event, "reason", "")
        if reason:
            details.append(str(reason)[:40])
    if isinstance(event, ev.FileWritten) and event.name:
        details.append(event.name)
    text = f"{record.seq:>5} {stamp} {name}"
    if details:
        text += " " + " ".join(details)
    if record.changed:
        text += f"  {record.previous} -> {record.state} ({record.cause})"
    return text


@attrs.frozen(kw_only=True)
class ViewModel:
    """What the screen shows, at one moment (an immutable snapshot)."""

    replica: str
    election_path: str
    zk_servers: str
    capacity: int
    state: str = "Init"
    entered_at: float = 0.0  # monotonic
    transitions: int = 0
    token: int | None = None
    session: str = "not connected"
    server: str = ""
    records: tuple[Record, ...] = ()
    files: int | None = None  # leader files in file-dir; None when unknown
    logs: tuple[tuple[str, str], ...] = ()  # (level, message)


class ReplicaView:
    """The observer: folds records into a `ViewModel` (thread-safe snapshots)."""

    def __init__(
        self,
        *,
        replica: str,
        election_path: str,
        zk_servers: Sequence[str],
        file_dir: Path,
        capacity: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._file_dir = file_dir
        self._clock = clock
        self._model = ViewModel(
            replica=replica,
            election_path=election_path,
            zk_servers=",".join(zk_servers),
            capacity=capacity,
            entered_at=clock(),
        )
        self._records: deque[Record] = deque(maxlen=RECENT)
        self._logs: deque[tuple[str, str]] = deque(maxlen=LOG_LINES)
        self._files: int | None = None
        self._files_at = float("-inf")

    def __call__(self, record: Record) -> None:
        event = record.event
        with self._lock:
            self._records.append(record)
            m = self._model
            changes: dict[str, Any] = {"state": record.state, "token": record.token}
            if record.changed:
                changes["entered_at"] = record.at
                changes["transitions"] = m.transitions + 1
            if isinstance(event, ev.SessionConnected):
                changes["session"] = f"connected 0x{event.session_id:x}"
                changes["server"] = event.server
            elif isinstance(event, ev.SessionSuspended):
                changes["session"] = "suspended"
            elif isinstance(event, ev.SessionLost):
                changes["session"] = "lost"
                changes["server"] = ""
            self._model = attrs.evolve(m, **changes)

    def log(self, level: str, message: str) -> None:
        with self._lock:
            self._logs.append((level, message))

    def _count_files(self) -> int | None:
        now = self._clock()
        if now - self._files_at >= 1.0:  # a directory listing at most once a second
            self._files_at = now
            try:
                names = os.listdir(self._file_dir)
            except OSError:
                self._files = None
            else:
                self._files = sum(1 for n in names if parse_leader_file_name(n) is not None)
        return self._files

    def snapshot(self) -> ViewModel:
        files = self._count_files()
        with self._lock:
            return attrs.evolve(
                self._model, records=tuple(self._records), logs=tuple(self._logs), files=files
            )


def _leader_line(model: ViewModel, sighting: Sighting, wall: float) -> Text:
    """Who leads, as the lookout last saw it in ZooKeeper."""
    if sighting.problem:
        return Text(f"unknown ({sighting.problem})", style="dim")
    if sighting.replica is None:
        return Text("none", style="yellow")
    mine = sighting.replica == model.replica
    line = Text("this replica" if mine else sighting.replica, style="bold green")
    if sighting.since is not None:
        clock = time.strftime("%H:%M:%S", time.localtime(sighting.since))
        line.append(f" since {clock} ({format_duration(max(0.0, wall - sighting.since))})")
    if sighting.token is not None:
        line.append(f", token {sighting.token}", style="dim")
    return line


def render(
    model: ViewModel, now: float, leader: Sighting | None = None, wall: float | None = None
) -> RenderableType:
    """The screen for `model` at monotonic time `now`; with `leader`, the lookout's last
    sighting of who leads, at wall time `wall`."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", justify="right")
    facts.add_column()
    facts.add_column(style="dim", justify="right")
    facts.add_column()
    state = Text(model.state, style=state_style(model.state))
    facts.add_row(
        "state",
        state,
        "in state",
        format_duration(max(0.0, now - model.entered_at)),
    )
    facts.add_row(
        "token",
        "-" if model.token is None else str(model.token),
        "transitions",
        str(model.transitions),
    )
    session_style = "green" if model.session.startswith("connected") else "red"
    facts.add_row(
        "zookeeper",
        Text(model.session, style=session_style),
        "server",
        model.server or "-",
    )
    files = "?" if model.files is None else str(model.files)
    facts.add_row("files", f"{files} / {model.capacity}", "servers", model.zk_servers)
    if leader is not None:
        shown = _leader_line(model, leader, time.time() if wall is None else wall)
        facts.add_row("leader", shown, "", "")
    recent = Text()
    for i, record in enumerate(model.records):
        if i:
            recent.append("\n")
        recent.append(one_line(record), style=state_style(record.state) if record.changed else "")
    panel = Panel(
        Group(facts, Text(""), Text("last journal records", style="dim underline"), recent),
        title=f"election · {model.replica} · {model.election_path}",
        title_align="left",
        border_style=state_style(model.state).replace("bold ", ""),
    )
    logs = Text()
    for i, (level, message) in enumerate(model.logs):
        if i:
            logs.append("\n")
        style = {"WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}.get(level, "dim")
        logs.append(f"{level[:4]:4} ", style=style)
        logs.append(message)
    return Group(panel, logs)


class _ViewLogHandler(logging.Handler):
    def __init__(self, view: ReplicaView) -> None:
        super().__init__()
        self._view = view
        self.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._view.log(record.levelname, self.format(record).splitlines()[0])
        except Exception:  # a log line must never break the daemon
            self.handleError(record)


class LiveView:
    """Shows `view` on the terminal with rich's `Live` until `close()`; with a
    `lookout`, who leads too (it runs while the view does)."""

    def __init__(
        self,
        view: ReplicaView,
        console: Console | None = None,
        lookout: LeaderLookout | None = None,
    ) -> None:
        from rich.live import Live

        self.view = view
        self.console = console or Console()
        self._lookout = lookout
        self._handler = _ViewLogHandler(view)

        def screen() -> RenderableType:
            seen = None if lookout is None else lookout.latest()
            return render(view.snapshot(), time.monotonic(), seen, time.time())

        self._live = Live(
            get_renderable=screen,
            console=self.console,
            refresh_per_second=4,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def start(self) -> None:
        """Take over the root logger (its lines go into the view) and start drawing."""
        root = logging.getLogger()
        for old in list(root.handlers):
            root.removeHandler(old)
        root.addHandler(self._handler)
        if self._lookout is not None:
            self._lookout.start()
        self._live.start()

    def close(self) -> None:
        """Stop drawing (the last screen stays); the caller restores logging."""
        self._live.stop()
        if self._lookout is not None:
            self._lookout.close()
        logging.getLogger().removeHandler(self._handler)
