"""Who leads, told in a waiting replica's log once per change.

A replica that waits knows only where its own node stands in the candidates' queue: its
records say `Init -> Attempter` and list the queue's nodes, not whom it waits behind.
`LeaderNews` watches the records and, when a read of the queue shows another node at its
head than the last one did, logs who that is — from the node's name alone (its replica
id), with how many wait ahead of us. It asks ZooKeeper nothing: a hand-over costs no
request per waiting replica, however long the queue. It never feeds the core.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import attrs

from election.core import events as ev
from election.core.queue import in_order
from election.core.record import Record

__all__ = ["Head", "LeaderNews"]

log = logging.getLogger("election")

_ATTEMPTER: Final = "Attempter"
_LEADER: Final = "Leader"


@attrs.frozen
class Head:
    """The head of the queue as a read showed it: its replica, and how many nodes were
    ahead of ours (the head among them)."""

    replica: str
    ahead: int


class LeaderNews:
    """An observer of the records; `tell` logs (default: `election`'s logger)."""

    def __init__(self, *, replica: str = "", tell: Callable[[Head], None] | None = None) -> None:
        self._tell = tell or (lambda head: _log(head, replica))
        self._session: int | None = None  # ours, as the records last said
        self._head = ""  # the queue's head at the last read (its node's name)

    def __call__(self, record: Record) -> None:
        event = record.event
        if isinstance(event, ev.SessionConnected):
            self._session = event.session_id
        if record.state == _LEADER:
            self._head = ""  # our own term: the next head is news, whoever it is
            return
        if record.state != _ATTEMPTER or not isinstance(event, ev.QueueRead):
            return
        if event.outcome is not ev.Outcome.OK:
            return
        nodes = in_order(event.names)
        first = nodes[0] if nodes else None
        name = "" if first is None else first.name
        if name == self._head:
            return  # the same head as before: nothing is news
        self._head = name
        if first is None or first.of_session(self._session):
            return  # nobody queues ahead of us
        ours = next((i for i, n in enumerate(nodes) if n.of_session(self._session)), len(nodes))
        self._tell(Head(replica=first.replica, ahead=ours))


def _log(head: Head, replica: str) -> None:
    if head.replica == replica:  # restarted before the dead run's session expired
        log.info(
            "an earlier run of %s heads the queue until its session ends; waiting behind it",
            replica,
        )
    else:
        log.info("%s leads the queue; waiting behind it (%d ahead of us)", head.replica, head.ahead)
