"""`election-replay` after real incidents: a SIGTERMed leader's term ends by `stop`, a
SIGKILLed one's by `crash` no later than its successor's start; and a window around the
crash of a long journal folds a small part of it, yet tells the hand-over as the full
fold does."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from election_replay import analyse
from election_replay.window import Window
from election_testkit.replica import Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.zookeeper import ZooKeeperServer
from tests.e2e.conftest import MakeReplicaSet

pytestmark = [pytest.mark.e2e, pytest.mark.zk]

SESSION = "2s"


def _journals(replicas: ReplicaSet) -> list[Path]:
    return [r.journal for r in replicas]


def test_a_stopped_leader_ends_by_stop_and_a_killed_one_by_crash(
    replica_set: MakeReplicaSet, zk_server: ZooKeeperServer, zk_path: str
) -> None:
    replicas = replica_set(zk_server.connect_string, zk_path, session_timeout=SESSION)
    replicas.start(3)
    stopped = replicas.wait_for_leader(timeout=20, settle=0.5)
    stopped.terminate()
    assert stopped.wait(10) == 0
    killed = replicas.wait_for_leader(timeout=10, exclude=[stopped], settle=0.5)
    killed.kill()
    killed.wait(10)
    last = replicas.wait_for_leader(timeout=15, exclude=[stopped, killed], settle=0.5)
    last.terminate()
    assert last.wait(10) == 0
    others = [r for r in replicas if r.running]
    for replica in others:
        replica.terminate()
        replica.wait(10)

    analysis = analyse(_journals(replicas))
    assert analysis.ok, (analysis.divergences, analysis.violations)
    by_replica = {t.replica: t for t in analysis.terms}
    assert by_replica[stopped.id].end_cause == "stop"
    crashed, successor = by_replica[killed.id], by_replica[last.id]
    assert crashed.end_cause == "crash" and crashed.end is not None
    assert crashed.end <= successor.start
    assert successor.end_cause == "stop"
    assert next(h.gap for h in analysis.handovers if h.previous == crashed) is not None
    # Its keeper recorded the death: the term ends there, how it died beside it.
    assert any(f"{killed.id}'s daemon" in note and "died" in note for note in analysis.notes)
    assert crashed.end_detail


def _leader_now(replicas: list[Replica]) -> Replica | None:
    """The replica whose journal's last line is a Leader record (the tail only: these
    journals grow by thousands of records a second)."""
    for replica in replicas:
        try:
            with replica.journal.open("rb") as f:
                f.seek(max(0, replica.journal.stat().st_size - 4096))
                tail = f.read().splitlines()
        except FileNotFoundError:
            continue
        if len(tail) > 1 and b'"state":"Leader"' in tail[-2]:
            return replica
    return None


@pytest.mark.long
def test_a_window_around_the_crash_of_a_long_journal_folds_a_small_part(
    replica_set: MakeReplicaSet, zk_server: ZooKeeperServer, zk_path: str
) -> None:
    """A real run, the leader writing every 2 ms for 40 s, its leader SIGKILLed halfway."""
    replicas = replica_set(
        zk_server.connect_string, zk_path, session_timeout=SESSION, leader_timeout="2ms"
    )
    started = replicas.start(2)
    began = time.monotonic()
    deadline = began + 20
    leader = None
    while leader is None and time.monotonic() < deadline:
        time.sleep(0.2)
        leader = _leader_now(started)
    assert leader is not None, replicas.describe()
    time.sleep(max(0.0, began + 20 - time.monotonic()))
    crash_wall = time.time()
    leader.send_signal(signal.SIGKILL)
    leader.wait(10)
    time.sleep(max(0.0, began + 40 - time.monotonic()))
    for replica in replicas.running():
        replica.terminate()
        replica.wait(15)

    journals = _journals(replicas)
    full = analyse(journals)
    assert full.ok, (full.divergences, full.violations)
    crashed = next(t for t in full.terms if t.replica == leader.id and t.end_cause == "crash")
    successor = next(t for t in full.terms if t.start >= crashed.start and t.replica != leader.id)
    assert crashed.end is not None and crashed.end <= successor.start
    assert crashed.end <= crash_wall + 0.1

    window = Window(since=crashed.end - 1.0, until=successor.start + 1.0)
    part = analyse(journals, window=window)
    assert part.ok == full.ok
    assert part.events < 0.15 * full.events, (part.events, full.events)
    seen = [(t.replica, t.token, t.start, t.end, t.end_cause) for t in part.terms]
    assert (crashed.replica, crashed.token, crashed.start, crashed.end, "crash") in seen
    assert (successor.replica, successor.token, successor.start) in [s[:3] for s in seen]
    (handover,) = [h for h in part.handovers if h.previous.token == crashed.token]
    assert handover.gap == pytest.approx(successor.start - crashed.end)
    # The window's verdict over the span is the full fold's restricted to it.
    assert [v for v in full.violations if window.keeps(v)] == list(part.violations)
