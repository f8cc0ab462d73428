"""The candidates' queue as ZooKeeper holds it: the names of its nodes and their order.

Pure: no ZooKeeper, no clock. The election path is a persistent node; each candidate
keeps one ephemeral *sequential* node under it, made with the name prefix
`<replica id>-<priority>-<session id, 16 hex digits>-`, to which ZooKeeper appends a
10-digit sequence number (`r1-1-0000018f2a3c0001-0000000042`). The live node of the
lowest sequence number leads; its data is the replica id, its czxid the term's fencing
token.

The name says whose node it is, of which priority and of which session, so that

- a candidate whose create went unanswered finds its node again by its own prefix
  (Curator's "protected" mode; etcd names the key after the lease) before it creates
  another: never two nodes of one session;
- the head of the queue sees, from one listing, which replicas wait behind it and their
  priorities (for a hand-over to a named replica and for free leadership) without
  reading any node: what a hand-over costs does not grow with the queue.

The reducer, the observers, the operator's commands and the simulator all read names
through this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import attrs

PROTOCOL: Final = "queue"  # what a journal header's configuration says (`protocol`)
SINGLE_NODE: Final = "single-node"  # the protocol before the queue: no `protocol` in a header
SEQUENCE_DIGITS: Final = 10  # ZooKeeper's sequential suffix: %010d of the parent's counter
SESSION_DIGITS: Final = 16  # a session id is a 64-bit number
_MASK: Final = (1 << 64) - 1
# '<replica>-<session>-<sequence>': the parts after the replica have a fixed width.
_TAIL: Final = 1 + SESSION_DIGITS + 1 + SEQUENCE_DIGITS


def session_hex(session: int) -> str:
    """A session id as the queue names it (kazoo reports it signed, as Java does)."""
    return f"{session & _MASK:0{SESSION_DIGITS}x}"


def node_prefix(replica: str, session: int, priority: int = 1) -> str:
    """The name prefix of the queue node `replica` (of `priority`) makes on `session`."""
    return f"{replica}-{priority}-{session_hex(session)}-"


@attrs.frozen
class QueueNode:
    """One candidate's node: its name, whose it is, its priority, on which session, and
    its place."""

    name: str
    replica: str
    priority: int
    session: str  # 16 hex digits (`session_hex`)
    sequence: int

    def of_session(self, session: int | None) -> bool:
        return session is not None and self.session == session_hex(session)


def parse_node(name: str) -> QueueNode | None:
    """The queue node `name` names, or None for a child that is not a candidate's (a
    foreign node under the election path is never taken for one)."""
    if len(name) <= _TAIL:
        return None
    sequence, session = name[-SEQUENCE_DIGITS:], name[-_TAIL + 1 : -SEQUENCE_DIGITS - 1]
    if name[-SEQUENCE_DIGITS - 1] != "-" or name[-_TAIL] != "-":
        return None
    if not (sequence.isascii() and sequence.isdigit()):
        return None
    if len(session) != SESSION_DIGITS or any(c not in "0123456789abcdef" for c in session):
        return None
    replica, dash, priority = name[:-_TAIL].rpartition("-")
    if not (replica and dash and priority.isascii() and priority.isdigit()):
        return None
    return QueueNode(
        name=name,
        replica=replica,
        priority=int(priority),
        session=session,
        sequence=int(sequence),
    )


def in_order(names: Iterable[str]) -> tuple[QueueNode, ...]:
    """The candidates' nodes among `names` (a listing of the election path), lowest
    sequence first: the first one leads."""
    nodes = (parse_node(name) for name in names)
    return tuple(sorted((n for n in nodes if n is not None), key=lambda n: n.sequence))


def head(names: Iterable[str]) -> QueueNode | None:
    """The node that leads the queue (None: nobody queues)."""
    nodes = in_order(names)
    return nodes[0] if nodes else None
