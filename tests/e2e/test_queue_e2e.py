"""Twenty replicas, each as on a machine of its own (its own TMPDIR, so the machine-wide
job lock cannot serialise their jobs, and its own TCP proxy to ZooKeeper), one election:
the candidates' queue as ZooKeeper holds it, and a graceful hand-over, a crash and a
partition in it.

What only twenty show: one queue node per replica, each watched by its owner and by the
one candidate behind it, never by a crowd (ZooKeeper's own `wchp`); a hand-over wakes the
next in line, who leads on its watch alone; the job's promise holds across all of them
(no start finds another term's job alive), and `election-replay` finds nothing wrong.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from election.core.queue import in_order
from election_replay import analyse
from election_testkit.family import FAMILY_JOB, FamilyLog
from election_testkit.proxy import TcpProxy
from election_testkit.replica import Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.e2e.conftest import MakeReplicaSet

pytestmark = pytest.mark.e2e

MACHINES = 20
SESSION = 4.0  # seconds: twenty Python processes starting on two CPUs are slow to ping


class Fleet:
    """`MACHINES` replicas, each with its own TMPDIR and proxy, running the family job."""

    def __init__(
        self, replica_set: MakeReplicaSet, zk: ZooKeeperServer, path: str, tmp: Path
    ) -> None:
        self.path = path
        self.log = FamilyLog(tmp / "family.log")
        worker = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAMILY_JOB))}"
        self.replicas: ReplicaSet = replica_set(
            "unused",
            path,
            exec=f"sh -c {shlex.quote(worker + ' & wait')}",
            exec_grace="0.5s",
            session_timeout=f"{SESSION}s",
            log_level="warning",
        )
        self.replicas.env.update(
            FAMILY_LOG=str(self.log.path), FAMILY_MARK=str(tmp), FAMILY_IGNORE_TERM="0"
        )
        self.proxies: dict[str, TcpProxy] = {}
        for i in range(MACHINES):
            proxy = TcpProxy("127.0.0.1", zk.port)
            replica = self.replicas.add(f"m{i:02d}", zk_servers=proxy.connect_string)
            self.proxies[replica.id] = proxy
            machine = tmp / f"machine{i:02d}"
            machine.mkdir()
            replica.env["TMPDIR"] = str(machine)

    def start(self) -> None:
        for replica in self.replicas:
            replica.start()

    def queue(self, client: KazooClient) -> list[str]:
        """The replicas queued, in order (the first leads)."""
        return [node.replica for node in in_order(client.get_children(self.path))]

    def leader_after(self, wall: float, besides: Replica, timeout: float) -> Replica:
        def found() -> Replica | None:
            leaders = [r for r in self.replicas.leaders() if r is not besides]
            fresh = [r for r in leaders if r.entered("Leader", after_wall=wall)]
            return fresh[0] if len(leaders) == 1 and fresh else None

        return wait_until(found, timeout, self.replicas.describe)

    def close(self) -> None:
        self.replicas.close()
        for proxy in self.proxies.values():
            proxy.close()


@pytest.fixture
def fleet(
    replica_set: MakeReplicaSet, zk_server: ZooKeeperServer, zk_path: str, tmp_path: Path
) -> Iterator[Fleet]:
    f = Fleet(replica_set, zk_server, zk_path, tmp_path)
    yield f
    f.close()


def _watchers(zk: ZooKeeperServer, path: str) -> dict[str, int]:
    """Queue node name -> how many sessions watch it (ZooKeeper's `wchp`)."""
    text = zk.four_letter_word("wchp")
    found: dict[str, int] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("/"):
            current = line.strip()
            if current.startswith(path + "/"):
                found[current.rsplit("/", 1)[-1]] = 0
        elif current is not None and re.match(r"\s+0x[0-9a-f]+", line):
            name = current.rsplit("/", 1)[-1]
            if name in found:
                found[name] += 1
    return found


def test_twenty_machines_queue_once_each_and_hand_over_one_by_one(
    fleet: Fleet, zk_server: ZooKeeperServer, kazoo_client: KazooClient
) -> None:
    fleet.start()
    first = fleet.replicas.wait_for_leader(90)
    wait_until(lambda: len(fleet.queue(kazoo_client)) == MACHINES, 60, fleet.replicas.describe)
    queue = fleet.queue(kazoo_client)
    assert sorted(queue) == sorted(r.id for r in fleet.replicas)  # one node each
    assert queue[0] == first.id

    # No crowd: each node is watched by its owner and at most the one behind it.
    def every_node_watched() -> dict[str, int] | None:
        watched = _watchers(zk_server, fleet.path)
        return watched if len(watched) == MACHINES else None

    watched = wait_until(every_node_watched, 20, "wchp lists the queue")
    assert min(watched.values()) >= 1 and max(watched.values()) <= 2, watched
    assert sum(watched.values()) <= 2 * MACHINES, watched

    # A graceful hand-over: the next in line leads on its watch, asking nothing first.
    second_id = queue[1]
    asked = time.time()
    first.terminate()
    assert first.wait(20) == 0
    second = fleet.leader_after(asked, first, 20)
    assert second.id == second_id
    (entered,) = second.entered("Leader", after_wall=asked)
    assert entered["cause"] == "the node below ours went: we are next"

    # A crash: its keeper closes its session, and the next in line leads at once.
    third_id = fleet.queue(kazoo_client)[1]
    killed = time.time()
    second.kill()
    second.wait(10)
    third = fleet.leader_after(killed, second, SESSION)
    assert third.id == third_id

    # A candidate cut off in the middle of the queue: its node goes with its session,
    # the one behind it closes up; leadership does not move.
    middle = next(r for r in fleet.replicas if r.id == fleet.queue(kazoo_client)[5])
    fleet.proxies[middle.id].blackhole()
    wait_until(
        lambda: middle.id not in fleet.queue(kazoo_client), 3 * SESSION, fleet.replicas.describe
    )
    assert fleet.replicas.leaders() == [third]
    fleet.proxies[middle.id].heal()
    wait_until(lambda: middle.id in fleet.queue(kazoo_client), 4 * SESSION, middle.log_tail)

    third.terminate()
    assert third.wait(20) == 0
    for replica in fleet.replicas:
        if replica.running:
            replica.terminate()
    for replica in fleet.replicas:
        if replica.running:
            replica.wait(30)
    assert fleet.log.starts() and not fleet.log.others_at_start(), fleet.log.lines()[-12:]
    analysis = analyse(sorted(str(r.journal) for r in fleet.replicas))
    assert analysis.ok, (analysis.violations, analysis.divergences)
    tokens = [t.token for t in analysis.terms if t.token is not None]
    assert len(tokens) == len(analysis.terms) >= 3
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)
