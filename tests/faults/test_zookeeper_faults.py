"""ZooKeeper itself fails: a standalone server killed and restarted; a 3-node ensemble
losing its leader, then its quorum, then regaining it. Nobody writes while no session
can be trusted, and exactly one leader writes again after the fault ends."""

from __future__ import annotations

import time

import pytest

from election_testkit.cluster import (
    RECOVERY_BOUND,
    SESSION_TIMEOUT,
    SLACK,
    START_BOUND,
    Cluster,
    now,
    writes_of,
)
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperEnsemble, ZooKeeperServer
from tests.faults.conftest import MakeCluster

pytestmark = [pytest.mark.e2e, pytest.mark.zk]


def _all_failed_over_and_idle(c: Cluster, after: float) -> float:
    """Wait until every replica left its state for Failover after `after`; then check
    that no file is written for a while. Returns the moment the last one failed over."""
    found = c.replicas.wait_all("Failover", SESSION_TIMEOUT + SLACK, after_wall=after)
    latest = float(max(r["wall"] for r in found.values()))
    time.sleep(1.0)
    for r in c:
        late = writes_of(r, found[r.id]["wall"])
        assert not late, (r.id, late)
    assert not c.replicas.leaders(), c.replicas.describe()
    return latest


def test_standalone_zookeeper_killed_and_restarted(
    zk_fresh: ZooKeeperServer, cluster: MakeCluster
) -> None:
    c = cluster(zk_fresh.connect_string)
    c.start(3)
    c.wait_one_leader_writing(START_BOUND, 0.0)

    killed = now()
    zk_fresh.kill()
    _all_failed_over_and_idle(c, killed)

    zk_fresh.start()
    back = now()
    c.wait_one_leader_writing(RECOVERY_BOUND, back)
    c.wait_for_leader(RECOVERY_BOUND, settle=0.5)
    c.assert_safe()


def test_ensemble_loses_its_leader_then_quorum_then_regains_it(
    ensemble: ZooKeeperEnsemble, cluster: MakeCluster
) -> None:
    c = cluster(ensemble.connect_string)
    c.start(3)
    c.wait_one_leader_writing(START_BOUND, 0.0)

    # 1. The ZooKeeper leader dies: the two others elect one; sessions survive or expire,
    #    and one replica leads again.
    zk_leader = ensemble.leader_index()
    assert zk_leader is not None
    lost_leader = now()
    ensemble.kill_node(zk_leader)
    ensemble.wait_for_quorum(20.0)
    c.wait_one_leader_writing(RECOVERY_BOUND + 10.0, lost_leader)

    # 2. One more node dies: no quorum, nobody may write.
    other = next(i for i in ensemble if ensemble.node_running(i))
    lost_quorum = now()
    ensemble.kill_node(other)
    _all_failed_over_and_idle(c, lost_quorum)

    # 3. A node comes back: quorum again, one leader again.
    ensemble.start_node(zk_leader, wait=False)
    ensemble.wait_for_quorum(30.0)
    regained = now()
    c.wait_one_leader_writing(RECOVERY_BOUND, regained)
    c.wait_for_leader(RECOVERY_BOUND, settle=0.5)
    wait_until(
        lambda: sorted(str(r.state) for r in c) == ["Attempter", "Attempter", "Leader"],
        RECOVERY_BOUND,
        c.replicas.describe,
    )
    c.assert_safe()
