"""Who leads, told in a waiting replica's log once per change.

A replica that waits knows only that the election node is someone else's: its records
say `Init -> Attempter` and nothing of whom it waits behind. `LeaderNews` watches the
records and, when the node may have changed hands (the replica began waiting, or a
watch fired and the next try found the node taken), looks once at who holds it (one
read of the election node, `LeaderLookout.look_at_holder`) on a thread of its own, and
logs a line when that is news: another replica, or another term. It never feeds the
core, and asks ZooKeeper nothing while the replica merely retries.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from election.core import events as ev
from election.core.record import Record
from election.observe.lookout import Sighting

__all__ = ["LeaderNews"]

log = logging.getLogger("election")

_ATTEMPTER: Final = "Attempter"
_LEADER: Final = "Leader"


class LeaderNews:
    """An observer: `look` says who leads now (`LeaderLookout.look`); `tell` logs it.
    `inline`: look on the caller's thread (tests), not on the observer's own."""

    def __init__(
        self,
        look: Callable[[], Sighting],
        *,
        replica: str = "",
        tell: Callable[[Sighting], None] | None = None,
        inline: bool = False,
    ) -> None:
        self._look = look
        self._tell = tell or (lambda sighting: _log(sighting, replica))
        self._inline = inline
        self._told: tuple[str | None, int | None] | None = None  # (replica, token) last said
        self._wondering = False  # the node may have changed hands: look at the next try
        self._wanted = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="election-leader-news", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        self._wanted.set()
        if self._thread.is_alive():
            self._thread.join(2.0)

    def __call__(self, record: Record) -> None:
        if record.state == _LEADER:
            with self._lock:
                self._told = (None, record.token)  # our own term: the next leader is news
            self._wondering = False
            return
        if record.state != _ATTEMPTER:
            return
        event = record.event
        if record.changed or isinstance(event, ev.NodeWatchFired):
            self._wondering = True
        if self._wondering and _found_taken(event):
            self._wondering = False
            if self._inline:
                self.look_now()
            else:
                self._wanted.set()

    def look_now(self) -> None:
        """One look, told if it is news (what the thread does when asked)."""
        sighting = self._look()
        if sighting.problem or sighting.replica is None:
            return  # nobody holds the node, or we could not tell: nothing to tell
        seen = (sighting.replica, sighting.token)
        with self._lock:
            if seen == self._told:
                return
            self._told = seen
        self._tell(sighting)

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wanted.wait()
            self._wanted.clear()
            if self._closed.is_set():
                return
            self.look_now()


def _found_taken(event: ev.Event) -> bool:
    """A try that found the election node held by another session."""
    if isinstance(event, ev.NodeCreated):
        return event.failure is ev.CreateFailure.NODE_EXISTS
    return isinstance(event, ev.NodeRead) and event.exists


def _log(sighting: Sighting, replica: str) -> None:
    if sighting.replica == replica:  # restarted before the dead run's session expired
        log.info(
            "an earlier run of %s holds the election node (token %s) until its session "
            "ends; waiting for it",
            replica,
            sighting.token,
        )
    else:
        log.info("%s leads (token %s); waiting behind it", sighting.replica, sighting.token)
