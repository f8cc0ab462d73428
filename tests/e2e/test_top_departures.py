"""`election top` tells how a replica left, for a few seconds, instead of its row
vanishing: real replicas stopped (SIGTERM) and crashed (SIGKILL: its keeper closes the
session at once), watched as `top` watches them (`Watcher`: the poll, with a watch on
every member node)."""

from __future__ import annotations

from election.observe.members import SESSION_LOST, STOPPED, MemberRow
from election.observe.top import Snapshot, Watcher
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.conftest import KazooFactory
from tests.e2e.conftest import MakeReplicaSet


def _left(watcher: Watcher, name: str) -> MemberRow | None:
    snap: Snapshot = watcher.refresh()
    return next((row for row in snap.left if row.name == name), None)


def test_top_says_which_replica_stopped_and_which_lost_its_session(
    zk_server: ZooKeeperServer,
    zk_path: str,
    replica_set: MakeReplicaSet,
    kazoo_factory: KazooFactory,
) -> None:
    replicas = replica_set(zk_server.connect_string, zk_path)
    stopped, crashed, _ = replicas.start(3)
    watcher = Watcher(kazoo_factory(zk_server.connect_string), zk_path)
    wait_until(lambda: len(watcher.refresh().rows) == 3, 20, lambda: str(watcher.current))
    stopped.terminate()
    gone = wait_until(lambda: _left(watcher, stopped.id), 20, lambda: str(watcher.current))
    assert gone.left == STOPPED, gone
    assert stopped.wait(15) == 0
    crashed.kill()
    lost = wait_until(lambda: _left(watcher, crashed.id), 20, lambda: str(watcher.current))
    assert lost.left == SESSION_LOST and lost.state in ("Attempter", "Leader"), lost
    snap = watcher.refresh()
    assert [row.name for row in snap.rows] == [replicas[2].id]  # only the live one counts
    assert {row.name for row in snap.left} == {stopped.id, crashed.id}
