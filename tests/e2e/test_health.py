"""/healthz and /readyz of a real `election run`, over HTTP, in every state."""

from __future__ import annotations

import urllib.error
import urllib.request

from election_testkit.replica import Replica
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer, free_port
from tests.e2e.conftest import MakeReplicaSet


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError as err:  # not listening (yet, or any more)
        return 0, str(err)


def probes(port: int) -> tuple[tuple[int, str], tuple[int, str]]:
    return get(port, "/healthz"), get(port, "/readyz")


def wait_probes(replica: Replica, port: int, ready: int, text: str) -> tuple[int, str]:
    """Wait until /readyz answers `ready` with `text` in its body while /healthz is 200."""

    def check() -> tuple[int, str] | None:
        health, readiness = probes(port)
        if health[0] == 200 and readiness[0] == ready and text in readiness[1]:
            return readiness
        return None

    return wait_until(
        check,
        20,
        lambda: (
            f"{replica.id}: want /readyz {ready} {text!r}, have {probes(port)}; "
            f"state {replica.state}\n{replica.log_tail()}"
        ),
    )


def test_probes_answer_in_init_attempter_leader_failover_and_stopping(
    zk_fresh: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    # A replica whose ZooKeeper does not answer stays in Init (and Failover): alive, not ready.
    nowhere = f"127.0.0.1:{free_port()}"
    lonely_port = free_port()
    lonely = replica_set(nowhere, zk_path).add(
        "lonely", metrics_address=f"127.0.0.1:{lonely_port}", session_timeout="10s"
    )
    lonely.start()
    body = wait_probes(lonely, lonely_port, 503, "Init, not connected")[1]
    assert body.startswith("not ok: Init")
    lonely.terminate()
    assert lonely.wait(15) == 0

    rs = replica_set(zk_fresh.connect_string, zk_path, session_timeout="2s")
    ports = [free_port(), free_port()]
    first = rs.add("r1", metrics_address=f"127.0.0.1:{ports[0]}").start()
    rs.wait_for_leader(15)
    second = rs.add("r2", metrics_address=f"127.0.0.1:{ports[1]}").start()
    assert wait_probes(first, ports[0], 200, "Leader, connected")[1] == "ok: Leader, connected\n"
    wait_probes(second, ports[1], 200, "Attempter, connected")

    # ZooKeeper goes away: both fail over; alive but not ready.
    zk_fresh.kill()
    wait_probes(first, ports[0], 503, "Failover")
    wait_probes(second, ports[1], 503, "Failover")

    # Stopping with ZooKeeper still gone lasts until the close gives up: not ready, alive.
    first.terminate()
    wait_probes(first, ports[0], 503, "Stopping")
    assert first.wait(15) == 0


def test_only_the_leader_answers_200_on_leader(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    rs = replica_set(zk_server.connect_string, zk_path)
    ports = {"r1": free_port(), "r2": free_port()}
    replicas = {name: rs.add(name, metrics_address=f"127.0.0.1:{port}").start()
                for name, port in ports.items()}  # fmt: skip
    leader = rs.wait_for_leader(15)
    other = next(name for name in replicas if name != leader.id)
    wait_probes(replicas[other], ports[other], 200, "Attempter, connected")

    def answers() -> dict[str, int]:
        return {name: get(port, "/leader")[0] for name, port in ports.items()}

    assert wait_until(lambda: answers() == {leader.id: 200, other: 503}, 10, lambda: str(answers()))
    status, body = get(ports[leader.id], "/leader")
    assert status == 200 and body.startswith("ok: Leader, connected, token ")
    assert get(ports[other], "/leader") == (503, "not ok: Attempter, connected\n")
    assert get(ports[other], "/readyz")[0] == 200  # /readyz keeps its meaning

    # The leader stops: the other answers 200 once it leads, the old one no more.
    leader.terminate()
    assert leader.wait(15) == 0
    replicas[other].wait_for_state("Leader", 15)
    assert wait_until(lambda: get(ports[other], "/leader")[0] == 200, 10, lambda: str(answers()))
    assert get(ports[leader.id], "/leader")[0] == 0  # not listening any more


def test_a_zookeeper_name_that_does_not_resolve_is_said_once_and_on_readyz(
    zk_path: str, replica_set: MakeReplicaSet
) -> None:
    # kazoo said `Cannot resolve nohost.invalid` once a second; the name may appear later,
    # so the replica keeps retrying, but says so once, with the name, and /readyz says why.
    port = free_port()
    refusing = f"127.0.0.1:{free_port()}"
    replica = replica_set(f"nohost.invalid:2181,{refusing}", zk_path).add(
        "dns", metrics_address=f"127.0.0.1:{port}", session_timeout="2s"
    )
    replica.start()
    body = wait_probes(replica, port, 503, "cannot resolve nohost.invalid")[1]
    assert body.startswith("not ok: Init, not connected (") or body.startswith(
        "not ok: Failover, not connected ("
    ), body
    assert "nohost.invalid: cannot resolve nohost.invalid: Name or service not known" in body
    # Init gives up after its deadline (2 s): kazoo has tried each server four times or
    # more by then (0.1 s doubling), and goes on trying from Failover.
    replica.wait_for_state("Failover", 20)
    assert f"{refusing}: connection refused" in get(port, "/readyz")[1]
    replica.terminate()
    assert replica.wait(15) == 0
    lines = replica.log_path.read_text().splitlines()
    said = [line for line in lines if "nohost.invalid" in line and "resolve" in line]
    assert len(said) == 1, lines
    assert "ZooKeeper server nohost.invalid does not resolve (Name or service not known)" in said[0]
    assert "retrying" in said[0]
    assert sum(f"ZooKeeper server {refusing}: connection refused" in line for line in lines) == 1
