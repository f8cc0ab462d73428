"""Who leads the election now, and since when, for `election run --tui`.

A non-leader's own records cannot say who leads: only ZooKeeper can. The lookout reads
the head of the candidates' queue and the leader's member node
(`election.observe.cluster.read_leader`) every second, on a thread of its own, through
the daemon's kazoo client: asynchronous reads with a deadline, never while the client
is disconnected (kazoo would queue them), never a word to the core. The TUI shows the
latest `Sighting`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

import attrs
from kazoo.client import KazooClient

from election.observe.cluster import read_leader

__all__ = ["LeaderLookout", "Sighting"]

EVERY: Final = 1.0  # seconds between two looks
DEADLINE: Final = 1.0  # for the two reads of one look


@attrs.frozen(kw_only=True)
class Sighting:
    """The last look: who leads (None: nobody), the term's token and when it began
    (Unix seconds), or why the look failed (`problem`; then the rest is unknown)."""

    replica: str | None = None
    token: int | None = None
    since: float | None = None
    problem: str = "not looked yet"
    at: float = 0.0  # when (Unix seconds)


class LeaderLookout:
    """Looks at the head of the queue every `every` seconds until `close()`."""

    def __init__(
        self,
        client: KazooClient,
        election_path: str,
        *,
        every: float = EVERY,
        deadline: float = DEADLINE,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._path = election_path
        self._every = every
        self._deadline = deadline
        self._wall = wall
        self._latest = Sighting()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="election-lookout", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self._deadline + 1.0)

    def latest(self) -> Sighting:
        return self._latest  # an immutable value, replaced whole

    def look(self) -> Sighting:
        """One look, now (what the thread does every `every` seconds)."""
        if not self._client.connected:
            return Sighting(problem="not connected", at=self._wall())
        try:
            view = read_leader(self._client, self._path, self._deadline)
        except Exception as exc:  # a time-out, a lost connection: say so, look again
            text = str(exc)
            problem = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
            return Sighting(problem=problem, at=self._wall())
        if view.leader is None:
            return Sighting(problem="", at=self._wall())
        return Sighting(
            replica=view.leader.replica,
            token=view.leader.token,
            since=view.leader_since(),
            problem="",
            at=self._wall(),
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            self._latest = self.look()
            self._stop.wait(self._every)
