"""`election pause` and `election resume`: the whole cluster stops working, and starts
again, without stopping a daemon.

The pause is a persistent node (`election.control.pause_path`) made under the
election's ACL, so it survives restarts of the replicas and of the command, and only a
holder of the credential may make or remove it. The replicas do the rest: the leader
ends its term when it reads the pause and holds its place at the head of the queue, and
none leads until it is gone. The
command waits up to `--timeout` to see that happen and says whether it did.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Callable
from typing import Final

from kazoo.exceptions import NodeExistsError, NoNodeError

from election.control import Pause, encode_pause, pause_path
from election.observe.cluster import ClusterView
from election.operate.connection import CommandFailed, OperatorSession, format_seconds
from election.operate.status import read_status
from election.runtime.zookeeper import node_acl

__all__ = ["operator", "pause", "resume"]

POLL: Final = 0.1  # seconds between two looks at the cluster while waiting


def operator() -> str:
    """`user@host`: who asked, as the control documents record it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for our uid (a bare container)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def _nobody_leads(view: ClusterView) -> bool:
    """The leader's term is over: no member says Leader (the head of the queue holds its
    place through a pause; its member node tells whether it still works)."""
    return not any(row.readable and row.state == "Leader" for row in view.members)


def _someone_leads(view: ClusterView) -> bool:
    """A leader is back: the head of the queue, and its member node says so."""
    row = view.leader_row()
    return not view.paused and row is not None and row.leader


def _watch(
    session: OperatorSession, until: Callable[[ClusterView], bool]
) -> tuple[ClusterView | None, float, str]:
    """Look at the cluster until `until` holds or the session's timeout passes: the last
    view (None if none could be read), the seconds it took, and why the watch failed
    ('' when it did not)."""
    started = time.monotonic()
    deadline = started + session.timeout
    view = None
    while True:
        try:
            view = read_status(session)
        except CommandFailed as failed:
            return view, time.monotonic() - started, failed.message
        if until(view) or time.monotonic() >= deadline:
            return view, time.monotonic() - started, ""
        time.sleep(POLL)


def _described(pause: Pause | None) -> str:
    if pause is None:
        return "paused (the pause node holds no pause document)"
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(pause.at))
    return f"paused by {pause.by} at {when}" + (f": {pause.reason}" if pause.reason else "")


def pause(session: OperatorSession, *, reason: str, by: str) -> str:
    """Pause the cluster; the line to print. Already paused is not an error."""
    path = pause_path(session.connection.election_path)
    before = read_status(session)
    if before.paused:
        return f"already {_described(before.pause)}"
    document = Pause(by=by, at=time.time(), reason=reason)
    acl = node_acl(session.connection.auth)  # None: the open ACL, as the daemon's nodes
    try:
        session.call(
            lambda: session.client.create_async(
                path, encode_pause(document), acl=acl, makepath=True
            ),
            f"creating {path}",
        )
    except NodeExistsError:  # another operator was quicker
        return f"already {_described(read_status(session).pause)}"
    done = _described(document)
    leader = before.leader
    if leader is None:
        return f"{done}; no replica was leading"
    view, took, failed = _watch(session, _nobody_leads)
    if failed:
        return f"{done}; could not see {leader.replica} stop leading: {failed}"
    if view is not None and _nobody_leads(view):
        return f"{done}; {leader.replica} stopped leading within {format_seconds(took)}"
    return (
        f"{done}; {leader.replica} still leads after {format_seconds(took)} "
        "(a replica ends its term when it reads the pause)"
    )


def resume(session: OperatorSession) -> str:
    """Resume a paused cluster; the line to print. Not paused is not an error."""
    path = pause_path(session.connection.election_path)
    before = read_status(session)
    if not before.paused:
        return "not paused"
    try:
        session.call(lambda: session.client.delete_async(path), f"deleting {path}")
    except NoNodeError:  # another operator was quicker
        return "not paused"
    done = f"resumed (was {_described(before.pause)})"
    if not before.members:
        return f"{done}; no replica is running"
    view, took, failed = _watch(session, _someone_leads)
    if failed:
        return f"{done}; could not see a leader back: {failed}"
    if view is not None and view.leader is not None:
        return f"{done}; {view.leader.replica} leads (token {view.leader.token})"
    return f"{done}; no leader yet after {format_seconds(took)}"
