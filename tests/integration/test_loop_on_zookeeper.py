"""Two whole replicas (loop, real adapters, real timers) on one ZooKeeper and one
election path: exactly one leads, and stopping it hands over fast through the watch."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.leaderfiles import parse_leader_file_name
from election.core.record import Record
from election.core.state import CoreConfig, initial_state
from election.runtime.filedir import FileDir
from election.runtime.loop import Loop
from election.runtime.timers import ThreadTimerService
from election.runtime.zookeeper import ZooKeeperAdapter, make_client
from election_testkit.zookeeper import ZooKeeperServer

pytestmark = pytest.mark.zk

LEADER_TIMEOUT = 0.2
ATTEMPTER_TIMEOUT = 30.0  # far beyond the test: a hand-over must come from the watch


class Replica:
    """One daemon's worth of wiring, as `run_daemon` does it, with a list as journal."""

    def __init__(
        self, name: str, hosts: str, path: str, file_dir: Path, session_timeout: float = 4.0
    ) -> None:
        self.name = name
        self.journal: list[Record] = []
        self.timers = ThreadTimerService()
        self.client = make_client((hosts,), session_timeout)
        config = CoreConfig(
            replica=name,
            election_path=path,
            leader_timeout=LEADER_TIMEOUT,
            attempter_timeout=ATTEMPTER_TIMEOUT,
            storage_capacity=4,
            init_deadline=5.0,
            stop_deadline=3.0,
        )
        self.zookeeper = ZooKeeperAdapter(self.client, self._put, self.timers, deadline=3.0)
        self.files = FileDir(
            file_dir,
            self._put,
            self.timers,
            deadline=2.0,
            may_write=lambda: self.zookeeper.connected,
        )
        self.loop = Loop(
            initial_state(config),
            journal=self.journal.append,
            handlers=[self.zookeeper, self.files],
            timers=self.timers,
        )
        self.exit_code: int | None = None
        self._thread = threading.Thread(target=self._run, name=f"loop-{name}", daemon=True)

    def _put(self, event: ev.Event) -> None:
        self.loop.put(event)

    def _run(self) -> None:
        self.exit_code = self.loop.run(idle_tick=0.05)

    def start(self) -> None:
        self.loop.put(ev.Started())
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> int | None:
        self.loop.put(ev.StopRequested(signal="SIGTERM"))
        self._thread.join(timeout)
        return self.exit_code

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def records(self, where: Callable[[Record], bool]) -> list[Record]:
        return [r for r in list(self.journal) if where(r)]

    @property
    def leading(self) -> bool:
        return any(r.state == "Leader" for r in list(self.journal))

    def close(self) -> None:
        if self._thread.is_alive():  # a second stop forces the exit
            self.loop.put(ev.StopRequested(signal="SIGINT"))
            self.loop.put(ev.StopRequested(signal="SIGINT"))
            self._thread.join(5.0)
        for step in (self.client.stop, self.client.close, self.files.close, self.timers.close):
            with contextlib.suppress(Exception):
                step()


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `cond` until true; returns when (monotonic); fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)
    return time.monotonic()


def became_leader(r: Record) -> bool:
    return r.changed and r.state == "Leader"


def written(r: Record) -> bool:
    return isinstance(r.event, ev.FileWritten) and r.event.outcome is Outcome.OK


@pytest.fixture
def pair(
    zk_server: ZooKeeperServer, zk_path: str, tmp_path: Path
) -> Iterator[tuple[Replica, Replica]]:
    file_dir = tmp_path / "files"  # shared, as on a common volume
    a = Replica("alpha", zk_server.connect_string, zk_path, file_dir)
    b = Replica("beta", zk_server.connect_string, zk_path, file_dir)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_two_replicas_one_leader_and_fast_hand_over_on_stop(
    pair: tuple[Replica, Replica], tmp_path: Path
) -> None:
    a, b = pair
    a.start()
    b.start()

    wait_until(lambda: a.leading or b.leading, 10.0, "a leader")
    leader, other = (a, b) if a.leading else (b, a)
    # The other has looked at the node (held by someone else) and left its watch on it.
    wait_until(
        lambda: bool(other.records(lambda r: isinstance(r.event, ev.NodeRead) and r.event.exists)),
        5.0,
        "the other replica to watch the node",
    )
    wait_until(lambda: len(leader.records(written)) >= 3, 5.0, "three leader files")
    assert other.loop.state.name.value == "Attempter"
    assert not other.leading
    (first_term,) = leader.records(became_leader)
    old_token = first_term.token
    assert old_token is not None

    stop_asked = time.monotonic()
    leader.loop.put(ev.StopRequested(signal="SIGTERM"))
    handed_over = wait_until(lambda: other.leading, 5.0, "the other replica to lead")
    assert handed_over - stop_asked < 1.0, "hand-over waited for something slow"

    leader._thread.join(5.0)
    assert leader.exit_code == 0
    assert leader.journal[-1].state == "Stopping"
    (second_term,) = other.records(became_leader)
    assert second_term.token is not None and second_term.token > old_token
    # Next in line: it led on its watch alone, asking ZooKeeper nothing first.
    assert second_term.cause == "the node below ours went: we are next"
    # Never two leaders: the old term ended (Stopping) before the new one began.
    (old_end,) = leader.records(lambda r: r.changed and r.previous == "Leader")
    assert old_end.wall <= second_term.wall

    wait_until(lambda: bool(other.records(written)), 5.0, "the new leader's first file")
    files = sorted(p.name for p in (tmp_path / "files").iterdir())
    tokens = {parsed[0] for n in files if (parsed := parse_leader_file_name(n))}
    assert tokens == {old_token, second_term.token}
    newest = json.loads((tmp_path / "files" / files[-1]).read_text())
    assert (newest["replica"], newest["token"]) == (other.name, second_term.token)

    assert other.stop() == 0
    assert not other.running


def test_leader_stops_writing_when_the_server_goes_and_resumes_its_term_after(
    zk_fresh: ZooKeeperServer, zk_path: str, tmp_path: Path
) -> None:
    # The session must outlive the server's restart, a JVM's start: 10 s (the server's
    # maximum), as 4 s did not on a loaded machine. The kill is noticed at once either way.
    solo = Replica("solo", zk_fresh.connect_string, zk_path, tmp_path / "files", 10.0)
    try:
        solo.start()
        wait_until(lambda: len(solo.records(written)) >= 2, 10.0, "a leader writing files")
        (first_term,) = solo.records(became_leader)

        zk_fresh.kill()
        wait_until(lambda: solo.loop.state.name.value == "Failover", 5.0, "failover")
        (suspended,) = solo.records(lambda r: isinstance(r.event, ev.SessionSuspended))
        assert (suspended.previous, suspended.cause) == ("Leader", "session suspended")
        time.sleep(3 * LEADER_TIMEOUT)  # several write ticks pass while disconnected
        assert not solo.records(lambda r: written(r) and r.seq > suspended.seq)

        zk_fresh.restart()
        wait_until(lambda: len(solo.records(became_leader)) == 2, 10.0, "leading again")
        second_term = solo.records(became_leader)[1]
        # The session survived the restart: the node is still ours, and leads the queue.
        assert second_term.cause == "our node leads the queue"
        assert second_term.token == first_term.token
        wait_until(
            lambda: bool(solo.records(lambda r: written(r) and r.seq > second_term.seq)),
            5.0,
            "a file of the resumed term",
        )
        # The resumed term continues its sequence: no file name is ever written twice.
        asked = [
            e.seq for r in solo.journal for e in r.effects if isinstance(e, fx.WriteLeaderFile)
        ]
        assert asked == list(range(1, len(asked) + 1))
        names = sorted(p.name for p in (tmp_path / "files").iterdir())
        seqs = [parsed[1] for n in names if (parsed := parse_leader_file_name(n))]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert solo.stop() == 0
    finally:
        solo.close()
