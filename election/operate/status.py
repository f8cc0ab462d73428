"""`election status`: who leads, the members, the pause and the hand-over in force.

The exit code is the answer, as with `systemctl is-active`: 0 while a replica leads, 1
while none does (none elected yet, all down, or the cluster paused). One read of the
election (`election.observe.cluster`), shown as a table for people or, with `--json`,
as one object for scripts.
"""

from __future__ import annotations

import time
from typing import Any

import attrs
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from election.observe.cluster import ClusterView, read_cluster
from election.observe.members import MemberRow, format_duration
from election.observe.top import member_cells
from election.operate.connection import EXIT_NOT_DONE, OperatorSession

__all__ = ["exit_code", "leads", "read_status", "render_status", "status_document"]


def read_status(session: OperatorSession) -> ClusterView:
    """The election's nodes, read within the session's timeout."""
    path = session.connection.election_path
    with session.guarded(f"reading {path}"):
        return read_cluster(session.client, path, deadline=session.timeout)


def leads(view: ClusterView) -> bool:
    """A replica leads: one heads the queue and the cluster is not paused (a head that
    holds its place while paused does not lead)."""
    return view.leader is not None and not view.paused


def exit_code(view: ClusterView) -> int:
    return 0 if leads(view) else EXIT_NOT_DONE


def _member(row: MemberRow, now: float) -> dict[str, Any]:
    readable = row.readable
    in_state = row.in_state(now)
    return {
        "replica": row.name,
        "state": row.state if readable else None,
        "priority": row.priority if readable else None,
        "since": row.since,
        "in_state": None if in_state is None else round(in_state, 1),
        "leader": row.leader,
        "token": row.token,
        "host": row.host or None,
        "pid": row.pid,
        "metrics": row.metrics or None,
        "version": row.version or None,
        "stale": bool(row.stale),  # its data is not believed: it stopped answering
        "stale_reason": row.stale or None,  # why
        "problem": row.problem or None,  # why it cannot be read
    }


def status_document(view: ClusterView, election_path: str, now: float) -> dict[str, Any]:
    """`status --json`: one object (the contract's `leader`, `paused`, `members`,
    `handover`, and what else helps a script: `head`, the head of the candidates' queue,
    which holds its place, not leading, while the cluster is paused)."""
    leader = head = None
    if view.leader is not None:
        head = {
            "replica": view.leader.replica,
            "token": view.leader.token,
            "session": f"0x{view.leader.session:x}",
            "in_office": view.leader.in_office,
        }
    if view.leader is not None and leads(view):
        leader = {
            "replica": view.leader.replica,
            "token": view.leader.token,
            "since": view.leader_since(),
            "session": f"0x{view.leader.session:x}",
        }
    handover: dict[str, Any] | None = None
    if view.handover is not None:
        handover = attrs.asdict(view.handover)
    elif view.handover_standing:
        handover = {"problem": "the request holds no hand-over document"}
    return {
        "election_path": election_path,
        "leads": leads(view),
        "leader": leader,
        "head": head,
        "paused": view.paused,
        "pause": None if view.pause is None else attrs.asdict(view.pause),
        "handover": handover,
        "members": [_member(row, now) for row in view.members],
        "read_at": round(view.wall, 3),
    }


def _clock(wall: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))


def _ago(wall: float, now: float) -> str:
    return f"{format_duration(max(0.0, now - wall))} ago"


def _fact(label: str, value: Text | str) -> Text:
    line = Text(f"{label:<10}", style="dim")
    line.append(value if isinstance(value, Text) else Text(value))
    return line


def _facts(view: ClusterView, now: float) -> list[Text]:
    """The leader, the pause and the hand-over request: a line each."""
    lines = []
    if view.leader is not None and view.paused:
        line = Text("none", style="yellow")
        line.append(f"  ({view.leader.replica} holds its place at the head of the queue)")
        lines.append(_fact("leader", line))
    elif view.leader is not None:
        since = view.leader_since()
        line = Text(view.leader.replica, style="bold green")
        line.append(f"  token {view.leader.token}")
        if since is not None:
            line.append(f"  since {_clock(since)} ({format_duration(max(0.0, now - since))})")
        lines.append(_fact("leader", line))
    else:
        lines.append(_fact("leader", Text("none", style="yellow")))
    if not view.paused:
        lines.append(_fact("paused", "no"))
    elif view.pause is None:
        lines.append(_fact("paused", Text("yes (the node holds no pause document)", "yellow")))
    else:
        pause = view.pause
        line = Text(f"yes, by {pause.by} at {_clock(pause.at)} ({_ago(pause.at, now)})", "yellow")
        if pause.reason:
            line.append(f": {pause.reason}")
        lines.append(_fact("paused", line))
    request = view.handover
    if request is not None:
        to = request.to or "the highest priority"
        line = Text(f"{request.leader} (token {request.token}) -> {to}, asked by {request.by} ")
        line.append(f"at {_clock(request.at)} ({_ago(request.at, now)}), id {request.id}")
        lines.append(_fact("handover", line))
    elif view.handover_standing:
        lines.append(_fact("handover", Text("a request that holds no hand-over document", "red")))
    else:
        lines.append(_fact("handover", "none"))
    return lines


def _members(view: ClusterView, now: float) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("", width=1)
    table.add_column("replica")
    table.add_column("state")
    table.add_column("priority", justify="right")
    table.add_column("in state", justify="right")
    table.add_column("token", justify="right")
    table.add_column("host/pid")
    for row in view.members:
        if not row.readable:
            # Text, never str: a str cell is rich markup, and member data is anyone's.
            table.add_row("?", Text(row.name), Text(row.problem, style="red"))
            continue
        table.add_row(*member_cells(row, now))
    return table


def render_status(view: ClusterView, now: float) -> RenderableType:
    """The human form: the leader, the pause and the hand-over, then the members."""
    if not view.members:
        return Group(*_facts(view, now), Text("members   none (no replica is running)", "yellow"))
    stale = [Text(f"! {row.name} {row.stale}", "red") for row in view.members if row.stale]
    return Group(*_facts(view, now), Text(""), _members(view, now), *stale)
