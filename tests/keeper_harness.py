"""The daemon's side of the keeper (`election.runtime.keeper.Keeper`) in a test: real
processes, its events on a queue, leases from `FixedLeases`."""

from __future__ import annotations

import queue
import time
from pathlib import Path

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.runtime.keeper import Keeper
from election.runtime.timers import ThreadTimerService
from tests.fixed_leases import FixedLeases


class KeeperHarness:
    def __init__(
        self,
        tmp: Path,
        grace: float = 1.0,
        deadline: float = 5.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.events: queue.SimpleQueue[ev.Event] = queue.SimpleQueue()
        self.timers = ThreadTimerService()
        self.tmp = tmp
        self.env = env if env is not None else {}
        self.sup = Keeper(
            self.events.put,
            self.timers,
            lock_path=tmp / "job.lock",
            env=self.env,
            start_deadline=deadline,
            grace=grace,
            leases=FixedLeases(self.timers),
            config={"record": str(tmp / "journal.keeper"), "replica": "r1", "servers": []},
        )
        self.sup.start()
        self._request = 0

    def start_job(self, command: tuple[str, ...], token: int = 7) -> int:
        """Start `command` as the job of term `token`; its pid once it runs."""
        self._request += 1
        self.sup.run(fx.StartChild(request=self._request, token=token, command=command))
        started = self.next(ev.ChildStarted)
        assert isinstance(started, ev.ChildStarted) and started.outcome is Outcome.OK, started
        assert started.pid is not None
        return started.pid

    def next(self, kind: type[ev.Event], timeout: float = 10.0) -> ev.Event:
        """The next event of type `kind` (others are skipped) within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no {kind.__name__} within {timeout}s"
            event = self.events.get(timeout=left)
            if isinstance(event, kind):
                return event

    def close(self) -> None:
        self.sup.close(0, graceful=True)
        assert self.sup.wait(10), "the keeper did not exit after the daemon's stop"
        self.timers.close()
