"""A silently partitioned leader, a leader frozen past its session, a killed leader.

The partitioned leader must stop writing when kazoo reports SUSPENDED (≈ 2/3 of the
session timeout), before the server expires its session and lets a successor lead; the
frozen one, resumed, must not write a single file with its old token.
"""

from __future__ import annotations

import os
import signal

import pytest

from election_testkit.cluster import (
    RECOVERY_BOUND,
    SESSION_TIMEOUT,
    SLACK,
    START_BOUND,
    Cluster,
    first_write,
    now,
    writes_of,
)
from election_testkit.replica import Record, Replica
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.faults.conftest import MakeCluster

pytestmark = [pytest.mark.e2e, pytest.mark.zk]


def _successor(c: Cluster, old: Replica, after: float, timeout: float) -> tuple[Replica, Record]:
    def found() -> tuple[Replica, Record] | None:
        got = [(r, e) for r in c if r is not old for e in r.entered("Leader", after)]
        return min(got, key=lambda x: x[1]["wall"]) if got else None

    return wait_until(found, timeout, c.replicas.describe)


def _left_leader(replica: Replica, after: float, timeout: float) -> Record:
    return replica.wait_for(
        lambda r: r.get("previous") == "Leader", timeout, "step-down from Leader", after
    )


def test_partitioned_leader_stops_writing_before_the_successor_starts(
    zk_server: ZooKeeperServer, cluster: MakeCluster
) -> None:
    c = cluster(zk_server.connect_string, proxied=True)
    c.start(3)
    old = c.wait_for_writing_leader(START_BOUND)

    cut = now()
    c.links[old.id].blackhole()

    down = _left_leader(old, cut, SESSION_TIMEOUT + SLACK)
    assert down["cause"] == "session suspended", down
    new, entered = _successor(c, old, cut, SESSION_TIMEOUT + SLACK)
    new_first = wait_until(lambda: first_write(new, entered["wall"]), 5.0, c.replicas.describe)
    old_last = writes_of(old)[-1]

    # Stopped before the session expired: the step-down precedes the successor's term,
    # the last write precedes the successor's first, and nothing was written after it.
    assert down["wall"] < entered["wall"], (down, entered)
    assert old_last["wall"] < new_first["wall"]
    assert not writes_of(old, down["wall"])
    assert entered["token"] > old_last["token"]

    healed = now()
    c.links[old.id].heal()
    old.wait_for_state("Attempter", RECOVERY_BOUND, healed)
    c.wait_for_leader(RECOVERY_BOUND, settle=0.5)
    c.assert_safe()


def test_leader_resumed_after_its_session_expired_writes_nothing_old(
    zk_server: ZooKeeperServer, cluster: MakeCluster
) -> None:
    c = cluster(zk_server.connect_string)
    c.start(2)
    old = c.wait_for_writing_leader(START_BOUND)
    old_token = writes_of(old)[-1]["token"]
    assert old.pid is not None

    frozen = now()
    os.kill(old.pid, signal.SIGSTOP)
    try:
        new, entered = _successor(c, old, frozen, SESSION_TIMEOUT + SLACK)
        new_first = wait_until(lambda: first_write(new, entered["wall"]), 5.0, "no new file")
        # Several of its write ticks are overdue when it wakes: its timer fires first.
        wait_until(lambda: len(writes_of(new)) >= 3, 5.0, "successor not writing")
    finally:
        os.kill(old.pid, signal.SIGCONT)
    resumed = now()

    down = _left_leader(old, frozen, RECOVERY_BOUND)
    assert down["wall"] >= resumed - 0.5
    old.wait_for_state("Attempter", RECOVERY_BOUND, resumed)
    late = [w for w in writes_of(old, new_first["wall"]) if w["token"] == old_token]
    assert not late, late
    c.wait_for_leader(RECOVERY_BOUND, settle=0.5)
    assert c.replicas.leaders() == [new]
    c.assert_safe()


def test_killed_leader_is_replaced_and_its_restart_follows(
    zk_server: ZooKeeperServer, cluster: MakeCluster
) -> None:
    c = cluster(zk_server.connect_string)
    c.start(3)
    old = c.wait_for_writing_leader(START_BOUND)

    old.kill()
    assert old.wait(10) == -signal.SIGKILL
    assert old.killed_wall is not None
    new, entered = _successor(c, old, old.killed_wall, SESSION_TIMEOUT + SLACK)
    assert entered["wall"] - old.killed_wall < RECOVERY_BOUND

    old.start()  # the same journal gets a second run
    old.wait_for_state("Attempter", START_BOUND, entered["wall"])
    c.wait_one_leader_writing(RECOVERY_BOUND, entered["wall"])
    assert c.replicas.leaders() == [new]
    c.assert_safe()
