"""One election as ZooKeeper holds it, read in one round: the head of the candidates'
queue (who leads, the term's token, the session that holds it), the member nodes, the
operator's controls.

Who leads is the lowest child of the election path (`election.core.queue`): its data
names the replica, its czxid is the token. During an upgrade from release 0.1 the
election path may still be a single-node leader's ephemeral node: then it is the leader.

`election top` reads it on every refresh, `election status` once, the TUI's leader line
(`read_leader`) every second. All reads are asynchronous and share one deadline; the
round raises on ZooKeeper trouble (the caller says what that means), never on what a
node holds: member data goes through `election.observe.members`, controls through
`election.control`, and what cannot be read is shown as such.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

import attrs
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import WatchedEvent

from election.control import (
    ControlDataError,
    Handover,
    Pause,
    decode_handover,
    decode_pause,
    handover_path,
    pause_path,
)
from election.core.queue import head
from election.observe.members import MemberRow, judge, members_path, parse_member
from election.values import parse_replica_id

__all__ = [
    "CALL_DEADLINE",
    "ClusterView",
    "LeaderNode",
    "leader_node",
    "read_cluster",
    "read_leader",
]

CALL_DEADLINE: Final = 2.0  # seconds for one round of ZooKeeper reads
_MAX_REPLICA: Final = 128  # a leader node's data is a replica id; more is not ours
_D = TypeVar("_D")


@attrs.frozen(kw_only=True)
class LeaderNode:
    """The leader's queue node (the lowest): its data names the leader, its czxid is the
    term's fencing token, its ephemeralOwner the leader's session, its ctime when it
    queued (or, of a single-node leader, when its term began)."""

    replica: str
    token: int
    session: int
    created: float  # Unix seconds
    # The leader took office with this node: it marks its node as it does (`MarkNode`:
    # its version grows), while a head still held back (a hand-over to another, a higher
    # priority's turn) has not. A single-node leader's node is in office by being there.
    in_office: bool = True


@attrs.frozen(kw_only=True)
class ClusterView:
    """One round of reads. `paused` is the pause node's existence (what the replicas
    obey); `pause` its document, None when it holds none. Likewise `handover_standing`
    and `handover`."""

    leader: LeaderNode | None = None
    members: tuple[MemberRow, ...] = ()
    paused: bool = False
    pause: Pause | None = None
    handover_standing: bool = False
    handover: Handover | None = None
    wall: float = 0.0  # when it was read (Unix seconds)

    def member(self, name: str) -> MemberRow | None:
        return next((row for row in self.members if row.name == name), None)

    def leader_row(self) -> MemberRow | None:
        """The leader's member node, when it is of the leader's own session."""
        if self.leader is None:
            return None
        row = self.member(self.leader.replica)
        return row if row is not None and row.session == self.leader.session else None

    def leader_since(self) -> float | None:
        """When the leader's term began: the leader's member node says when it entered
        Leader; failing that (not yet published), its queue node's creation."""
        if self.leader is None:
            return None
        row = self.leader_row()
        if row is not None and row.leader and row.since is not None:
            return row.since
        return self.leader.created


def _get(result: Any, until: float) -> Any:
    return result.get(timeout=max(0.05, until - time.monotonic()))


def _read(result: Any, until: float) -> tuple[bytes, Any] | None:
    """A `get_async`'s data and stat; None for a node that is not there."""
    try:
        data, stat = _get(result, until)
    except NoNodeError:
        return None
    return data, stat


def leader_node(data: bytes, stat: Any) -> LeaderNode:
    """The leader's node from its data and stat (as kazoo's `get` gives them)."""
    replica = data.decode("utf-8", "replace")[:_MAX_REPLICA] if data else ""
    return LeaderNode(
        replica=replica,
        token=stat.czxid,
        session=stat.ephemeralOwner,
        created=stat.ctime / 1000,
        in_office=stat.version > 0,
    )


def _children(result: Any, until: float) -> list[str]:
    try:
        names: list[str] = _get(result, until)
    except NoNodeError:
        return []
    return names


def read_head(
    client: KazooClient,
    election_path: str,
    until: float,
    listing: Any = None,
    watch: Callable[[Any], None] | None = None,
) -> LeaderNode | None:
    """Who leads: the lowest queue node under the election path (a listing, then a read
    of it; again if it went in between, a few times at most), or the election path itself
    when it is a single-node leader's ephemeral node. `listing`: a `get_children_async`
    of the election path already sent; `watch`: left on the listing, the head and the
    path, so that it is called when any of them changes."""
    path_async = client.get_async(election_path, watch=watch)
    children = listing
    for _ in range(3):  # bounded: heads that go between our looks, again and again
        if children is None:
            children = client.get_children_async(election_path, watch=watch)
        first = head(_children(children, until))
        if first is None:
            break
        found = _read(client.get_async(f"{election_path}/{first.name}", watch=watch), until)
        if found is not None:
            return leader_node(*found)
        children = None
    path = _read(path_async, until)
    if path is not None and path[1].ephemeralOwner != 0:
        single = leader_node(*path)  # the single-node protocol's leader (an upgrade)
        return attrs.evolve(single, in_office=True)
    return None


def _members(
    client: KazooClient,
    election_path: str,
    until: float,
    names: list[str],
    watch: Callable[[WatchedEvent], None] | None = None,
) -> tuple[dict[str, bytes | None], dict[str, int]]:
    parent = members_path(election_path)
    pending = {name: client.get_async(f"{parent}/{name}", watch=watch) for name in names}
    members: dict[str, bytes | None] = {}
    sessions: dict[str, int] = {}
    for name, result in pending.items():
        found = _read(result, until)
        if found is None:  # left between the listing and the read
            continue
        members[name], sessions[name] = found[0], found[1].ephemeralOwner
    return members, sessions


def _judged(
    members: dict[str, bytes | None], sessions: dict[str, int], leader: LeaderNode | None
) -> tuple[MemberRow, ...]:
    rows = [parse_member(name, data) for name, data in members.items()]
    return tuple(
        judge(
            rows,
            sessions,
            holder=None if leader is None else leader.replica,
            holder_session=None if leader is None else leader.session,
            holder_token=None if leader is None else leader.token,
        )
    )


def read_cluster(
    client: KazooClient,
    election_path: str,
    deadline: float = CALL_DEADLINE,
    *,
    watch: Callable[[WatchedEvent], None] | None = None,
) -> ClusterView:
    """Every node of the election, in one round of at most `deadline` seconds (raises
    on ZooKeeper trouble: a time-out, a lost connection, NoAuth). `watch`, if given,
    is set on every member node read (`election top` hears of a change between reads)."""
    until = time.monotonic() + deadline
    listing = client.get_children_async(election_path)
    pause_async = client.get_async(pause_path(election_path))
    handover_async = client.get_async(handover_path(election_path))
    names = _children(client.get_children_async(members_path(election_path)), until)
    leader = read_head(client, election_path, until, listing)
    members, sessions = _members(client, election_path, until, names, watch)
    pause_found = _read(pause_async, until)
    handover_found = _read(handover_async, until)
    return ClusterView(
        leader=leader,
        members=_judged(members, sessions, leader),
        paused=pause_found is not None,
        pause=None if pause_found is None else _document(decode_pause, pause_found[0]),
        handover_standing=handover_found is not None,
        handover=None if handover_found is None else _document(decode_handover, handover_found[0]),
        wall=time.time(),
    )


def read_leader(
    client: KazooClient, election_path: str, deadline: float = CALL_DEADLINE
) -> ClusterView:
    """Who leads and since when: the head of the queue, then its replica's member node
    (the only member in the view)."""
    until = time.monotonic() + deadline
    leader = read_head(client, election_path, until)
    if leader is None or not _member_name(leader.replica):
        return ClusterView(leader=leader, wall=time.time())
    members, sessions = _members(client, election_path, until, [leader.replica])
    return ClusterView(leader=leader, members=_judged(members, sessions, leader), wall=time.time())


def _member_name(replica: str) -> bool:
    """Whether the leader node's data can name a member node (it is anyone's to write)."""
    try:
        return parse_replica_id(replica) == replica
    except ValueError:
        return False


def _document(decode: Callable[[bytes], _D], data: bytes) -> _D | None:
    try:
        return decode(data)
    except ControlDataError:
        return None
