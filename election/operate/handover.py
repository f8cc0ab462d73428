"""`election handover [--to REPLICA] [--wait D]`: a planned hand-over, as
`patronictl switchover --candidate` does it, then wait for it like `kubectl rollout
status`.

The request is an **ephemeral** node of the command's own session
(`election.control.handover_path`), made under the election's ACL: it stands while the
command waits, and goes when the command deletes it on the way out or when its session
ends, so a command killed outright withdraws it within its session timeout. The leader
of the request's term ends it gracefully and stays a candidate; while the request
stands, only `to` (or, without it, anyone but the old leader, the highest priority
first) may lead: the old leader moves to the back of the candidates' queue, and so does
every candidate ahead of `to`. Done is a new term, of a higher token, held by the right
one: the head of the queue, in office.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from typing import Final

import attrs
from kazoo.exceptions import NodeExistsError

from election.control import Handover, encode_handover, handover_path
from election.observe.cluster import ClusterView, LeaderNode, read_head
from election.operate.connection import (
    EXIT_NOT_DONE,
    EXIT_USAGE,
    CommandFailed,
    OperatorSession,
    format_seconds,
)
from election.operate.status import read_status
from election.runtime.zookeeper import node_acl

__all__ = ["HandedOver", "check_target", "hand_over"]

# A watch may be lost with a connection: look again at least this often (seconds).
LOOK_EVERY: Final = 0.5


@attrs.frozen(kw_only=True)
class HandedOver:
    """The new term: who leads it, its token, and how long it took (seconds)."""

    replica: str
    token: int
    took: float


def _refuse(message: str) -> CommandFailed:
    return CommandFailed(EXIT_USAGE, f"{message}; nothing was changed")


def check_target(view: ClusterView, to: str | None) -> None:
    """Refuses (exit 2) a hand-over that cannot happen: `to` unknown, unreadable, a
    standby (priority 0) or already the leader; without `to`, no other replica that
    may lead. (No leader at all is not this: nothing to hand over, exit 1.)"""
    live = ", ".join(row.name for row in view.members) or "none"
    leader = view.leader.replica if view.leader is not None else None
    if to is None:
        if leader is not None and not any(
            row.readable and row.priority > 0 and row.name != leader for row in view.members
        ):
            raise _refuse(f"no replica but {leader} may lead (members: {live})")
        return
    row = view.member(to)
    if row is None:
        raise _refuse(f"--to {to}: no such replica among the live members ({live})")
    if not row.readable:
        raise _refuse(f"--to {to}: its member node cannot be read ({row.problem})")
    if row.priority == 0:
        raise _refuse(f"--to {to}: priority 0, a standby that never leads")
    if to == leader:
        raise _refuse(f"--to {to}: it already leads")


def _make_request(session: OperatorSession, request: Handover) -> None:
    path = handover_path(session.connection.election_path)
    acl = node_acl(session.connection.auth)  # None: the open ACL, as the daemon's nodes
    try:
        session.call(
            lambda: session.client.create_async(
                path, encode_handover(request), acl=acl, ephemeral=True, makepath=True
            ),
            f"creating {path}",
        )
    except NodeExistsError:
        raise _pending(read_status(session)) from None


def _pending(view: ClusterView) -> CommandFailed:
    other = view.handover
    if other is None:
        return CommandFailed(EXIT_NOT_DONE, "another hand-over request stands; try again later")
    to = other.to or "the highest priority"
    return CommandFailed(
        EXIT_NOT_DONE,
        f"a hand-over from {other.leader} to {to} is already asked for by {other.by} "
        f"(id {other.id}); try again once it is done",
    )


def _withdraw(session: OperatorSession, request: Handover) -> None:
    """Delete the request if it is still ours (the session's close would remove it too,
    but only once the close reaches the server)."""
    path = handover_path(session.connection.election_path)
    with contextlib.suppress(Exception):
        _data, stat = session.client.get_async(path).get(timeout=session.timeout)
        if stat.ephemeralOwner == session.session_id:
            session.client.delete_async(path, version=stat.version).get(timeout=session.timeout)


def _current(session: OperatorSession, fired: Callable[[object], None]) -> LeaderNode | None:
    """The head of the queue now, watched (the listing and the head): `fired` is called
    when a candidate comes or goes, or the head takes office."""
    path = session.connection.election_path
    with session.guarded(f"reading {path}"):
        until = time.monotonic() + session.timeout
        return read_head(session.client, path, until, watch=fired)


def _await_new_term(
    session: OperatorSession, request: Handover, wait: float, started: float
) -> HandedOver:
    changed = threading.Event()

    def fired(_event: object) -> None:  # one function: kazoo keeps a watcher once
        changed.set()

    deadline = started + wait
    while True:
        changed.clear()
        node = _current(session, fired)
        if node is not None and node.token > request.token and node.in_office:
            if request.to is None or node.replica == request.to:
                return HandedOver(
                    replica=node.replica, token=node.token, took=time.monotonic() - started
                )
            raise CommandFailed(
                EXIT_NOT_DONE,
                f"{node.replica} took over (token {node.token}), not {request.to} as asked",
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            now = f"{node.replica} leads" if node is not None else "no replica leads"
            raise CommandFailed(
                EXIT_NOT_DONE,
                f"no new leader within {format_seconds(wait)}: the request is withdrawn ({now})",
            )
        changed.wait(min(remaining, LOOK_EVERY))


def hand_over(session: OperatorSession, *, to: str | None, wait: float, by: str) -> HandedOver:
    """Ask the leader to hand over (to `to`, if given) and wait up to `wait` seconds for
    the new term. Raises CommandFailed: exit 1 when no replica leads, when another
    request stands or when it is not done in time (the request is then withdrawn), 2
    for a hand-over that cannot happen (nothing is made), 3 and 4 as every command."""
    view = read_status(session)
    check_target(view, to)
    leader = view.leader
    if leader is None:
        raise CommandFailed(EXIT_NOT_DONE, "no replica leads: nothing to hand over")
    if view.paused:
        raise CommandFailed(EXIT_NOT_DONE, "the cluster is paused: resume it first")
    if view.handover_standing:
        raise _pending(view)
    request = Handover(
        id=uuid.uuid4().hex,
        leader=leader.replica,
        token=leader.token,
        to=to,
        by=by,
        at=time.time(),
    )
    started = time.monotonic()
    _make_request(session, request)
    try:
        return _await_new_term(session, request, wait, started)
    finally:
        _withdraw(session, request)
