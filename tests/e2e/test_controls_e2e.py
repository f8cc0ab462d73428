"""The replicas' side of the operator's controls, with real processes: priorities decide
who takes free leadership, a standby never leads, a pause ends every term and keeps
everyone out, a hand-over goes to the replica it names. The control nodes are made here
with kazoo, as `election pause` and `election handover` make them (`election.control`)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from election.control import Handover, Pause, encode_handover, encode_pause
from election.control import handover_path as handover_node
from election.control import pause_path as pause_node
from election_testkit.replica import Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.conftest import KazooFactory
from tests.e2e.conftest import MakeReplicaSet

pytestmark = pytest.mark.e2e

REPLAY = str(Path(sys.executable).with_name("election-replay"))
PRIORITIES = {"p3": 3, "p2": 2, "p1": 1, "p0": 0}


def _four(replica_set: MakeReplicaSet, zk: ZooKeeperServer, path: str) -> ReplicaSet:
    replicas = replica_set(zk.connect_string, path, leader_timeout="0.2s", attempter_timeout="5s")
    for name, priority in PRIORITIES.items():
        replicas.add(name, priority=str(priority)).start()
    return replicas


def _members_up(client: KazooClient, path: str, names: set[str]) -> None:
    members = path.rsplit("/", 1)[0] + "/members"
    wait_until(
        lambda: client.exists(members) and names <= set(client.get_children(members)),
        20,
        f"members {names} not all up",
    )


def _leader(replicas: ReplicaSet, timeout: float = 15.0, besides: Replica | None = None) -> Replica:
    def one() -> Replica | None:
        leaders = [r for r in replicas.leaders() if r is not besides]
        return leaders[0] if len(leaders) == 1 else None

    return wait_until(one, timeout, replicas.describe)


def _replay_ok(replicas: ReplicaSet) -> dict[str, object]:
    done = subprocess.run(
        [REPLAY, "--json", *(str(r.journal) for r in replicas if r.journal.exists())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report: dict[str, object] = json.loads(done.stdout)
    return report


def test_free_leadership_goes_to_the_highest_live_priority_and_a_standby_never_leads(
    replica_set: MakeReplicaSet, zk_server: ZooKeeperServer, zk_path: str, kazoo_client: KazooClient
) -> None:
    replicas = _four(replica_set, zk_server, zk_path)
    _members_up(kazoo_client, zk_path, set(PRIORITIES))
    by_name = {r.id: r for r in replicas}
    # Whoever won the start, leadership freed now goes by priority: p3, then p2, then p1.
    first = _leader(replicas)
    if first.id != "p3":
        first.terminate()
        assert first.wait(15) == 0
        first.start()
        _members_up(kazoo_client, zk_path, set(PRIORITIES))
    assert _leader(replicas).id == "p3"
    by_name["p3"].kill()
    by_name["p3"].wait(10)
    assert _leader(replicas, timeout=20).id == "p2"  # after the session of p3 expired
    by_name["p2"].terminate()
    assert by_name["p2"].wait(15) == 0
    assert _leader(replicas).id == "p1"
    by_name["p1"].terminate()
    assert by_name["p1"].wait(15) == 0
    # Alone, the standby still does not lead.
    time.sleep(3.0)
    assert not replicas.leaders()
    assert by_name["p0"].state == "Attempter"
    assert not by_name["p0"].entered("Leader")
    replicas.close()
    _replay_ok(replicas)


def test_a_pause_stops_all_work_until_resumed_and_survives_restarts(
    replica_set: MakeReplicaSet, zk_server: ZooKeeperServer, zk_path: str, kazoo_client: KazooClient
) -> None:
    replicas = replica_set(zk_server.connect_string, zk_path, leader_timeout="0.2s")
    replicas.start(3)
    _members_up(kazoo_client, zk_path, {r.id for r in replicas})
    leader = _leader(replicas)
    pause = Pause(by="ops@test", at=time.time(), reason="maintenance")
    paused_at = time.time()
    kazoo_client.create(pause_node(zk_path), encode_pause(pause), makepath=True)
    wait_until(lambda: not replicas.leaders(), 2.0, replicas.describe)
    record = leader.entered("Attempter", after_wall=paused_at)[0]
    assert record["cause"] == "paused by ops@test"
    # No leader, and no leader file, for as long as it lasts; a restarted replica too.
    files_then = sorted(p.name for p in replicas.file_dir.glob("election-*.json"))
    restarted = replicas.replicas[0]
    restarted.terminate()
    assert restarted.wait(15) == 0
    restarted.start()
    _members_up(kazoo_client, zk_path, {restarted.id})
    time.sleep(2.0)
    assert not replicas.leaders()
    assert sorted(p.name for p in replicas.file_dir.glob("election-*.json")) == files_then
    kazoo_client.delete(pause_node(zk_path))
    resumed = time.time()
    _leader(replicas, timeout=5)
    assert time.time() - resumed < 3.0
    replicas.close()
    report = _replay_ok(replicas)
    assert report["violations"] == []


def test_a_hand_over_goes_straight_to_the_replica_it_names(
    replica_set: MakeReplicaSet,
    zk_server: ZooKeeperServer,
    zk_path: str,
    kazoo_client: KazooClient,
    kazoo_factory: KazooFactory,
) -> None:
    replicas = replica_set(zk_server.connect_string, zk_path, leader_timeout="0.2s")
    replicas.start(3)
    leader = _leader(replicas)
    target = next(r for r in replicas if r is not leader)
    token = kazoo_client.get(zk_path)[1].czxid
    operator = kazoo_factory(zk_server.connect_string)  # the command's own session
    asked = time.time()
    request = Handover(id="h1", leader=leader.id, token=token, to=target.id, by="ops", at=asked)
    operator.create(handover_node(zk_path), encode_handover(request), ephemeral=True, makepath=True)
    assert _leader(replicas, timeout=5, besides=leader).id == target.id
    wait_until(lambda: leader.state == "Attempter", 5, replicas.describe)
    # Nobody else led in between, and the old leader is a candidate again.
    others = [r for r in replicas if r not in (leader, target)]
    assert all(not r.entered("Leader", after_wall=asked) for r in others)
    assert leader.running and leader.state == "Attempter"
    operator.stop()  # the request goes with the command's session
    time.sleep(0.5)
    assert _leader(replicas).id == target.id  # a leader is never pre-empted
    replicas.close()
    _replay_ok(replicas)
