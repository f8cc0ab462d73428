"""The test infrastructure itself works against a real ZooKeeper."""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kazoo.client import KazooClient, KazooState

from election_testkit.proxy import TcpProxy
from election_testkit.zookeeper import ZooKeeperEnsemble, ZooKeeperServer, four_letter_word
from tests.conftest import KazooFactory

pytestmark = pytest.mark.zk


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); check its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def state_recorder(client: KazooClient) -> queue.Queue[str]:
    """Kazoo connection states as they happen (the listener never blocks)."""
    states: queue.Queue[str] = queue.Queue()
    client.add_listener(lambda state: states.put(state))
    return states


def wait_state(states: queue.Queue[str], wanted: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {wanted} within {timeout}s; saw {seen}")
        try:
            s = states.get(timeout=remaining)
        except queue.Empty:
            continue
        seen.append(s)
        if s == wanted:
            return seen


# ------------------------------------------------------------------ standalone


def test_session_server_answers_four_letter_words(zk_server: ZooKeeperServer) -> None:
    assert zk_server.four_letter_word("ruok") == "imok"
    srvr = zk_server.four_letter_word("srvr")
    assert "Mode: standalone" in srvr
    assert "Zookeeper version: 3." in srvr
    assert zk_server.connect_string == f"127.0.0.1:{zk_server.port}"


def test_ephemeral_node_roundtrip(kazoo_client: KazooClient, zk_path: str) -> None:
    kazoo_client.ensure_path(zk_path.rsplit("/", 1)[0])
    kazoo_client.create(zk_path, b"me", ephemeral=True)
    data, stat = kazoo_client.get(zk_path)
    assert data == b"me"
    assert stat.ephemeralOwner == kazoo_client.client_id[0]


def test_zk_path_is_unique_per_test(zk_path: str) -> None:
    assert zk_path.startswith("/election-tests/")
    assert zk_path.endswith("/leader")


def test_kill_and_restart_keep_port_and_data(
    zk_fresh: ZooKeeperServer, kazoo_factory: KazooFactory, zk_path: str
) -> None:
    port = zk_fresh.port
    client = kazoo_factory(zk_fresh.connect_string)
    states = state_recorder(client)
    client.create(zk_path, b"kept", makepath=True)

    zk_fresh.kill()
    assert not zk_fresh.running
    assert not port_open(port)
    wait_state(states, KazooState.SUSPENDED, 5)

    zk_fresh.restart()
    assert zk_fresh.port == port
    assert zk_fresh.running
    wait_state(states, KazooState.CONNECTED, 10)
    assert client.get(zk_path)[0] == b"kept"

    zk_fresh.restart(hard=False)  # graceful stop + start works too
    assert zk_fresh.four_letter_word("ruok") == "imok"


def test_pause_and_resume(zk_fresh: ZooKeeperServer) -> None:
    zk_fresh.pause()
    with pytest.raises(OSError):
        four_letter_word("127.0.0.1", zk_fresh.port, "srvr", timeout=0.5)
    zk_fresh.resume()
    wait_until(zk_fresh.is_serving, 5, "resumed server to serve")


def test_close_leaves_no_java_behind(tmp_path: Path) -> None:
    server = ZooKeeperServer(tmp_path / "zk")
    with server:
        pid = server.pid
        assert pid is not None and pid_alive(pid)
        server.pause()  # even a stopped (SIGSTOP) JVM is reaped
    assert not pid_alive(pid)
    assert "ZooKeeperServerMain" in server.log_path.read_text()


# -------------------------------------------------------------------- ensemble


def test_ensemble_elects_leader_and_survives_losing_one(
    tmp_path: Path, kazoo_factory: KazooFactory, zk_path: str
) -> None:
    with ZooKeeperEnsemble(tmp_path / "ensemble", size=3) as ens:
        leader = ens.leader_index()
        assert leader is not None
        modes = ens.modes()
        assert sorted(m or "" for m in modes) == ["follower", "follower", "leader"]

        client = kazoo_factory(ens.connect_string)
        client.create(zk_path, b"quorum", makepath=True)

        ens.kill_node(leader)
        new_leader = ens.wait_for_quorum(timeout=15)
        assert new_leader != leader
        assert ens.node_mode(leader) is None

        # The surviving majority still serves reads and writes.
        wait_until(lambda: client.connected, 10, "client to reconnect to the survivors")
        assert client.get(zk_path)[0] == b"quorum"
        client.set(zk_path, b"after")

        ens.start_node(leader)
        wait_until(lambda: ens.node_mode(leader) == "follower", 10, "old leader to rejoin")
        pids = [ens.node_pid(i) for i in ens]
    assert not any(pid is not None and pid_alive(pid) for pid in pids)


# ----------------------------------------------------------------------- proxy


def test_proxy_relays(
    zk_server: ZooKeeperServer, kazoo_factory: KazooFactory, zk_path: str
) -> None:
    with TcpProxy("127.0.0.1", zk_server.port) as proxy:
        assert proxy.port != zk_server.port
        client = kazoo_factory(proxy.connect_string)
        client.create(zk_path, b"via proxy", makepath=True)
        assert client.get(zk_path)[0] == b"via proxy"
        assert proxy.connection_count >= 1


def test_blackhole_suspends_session_and_heal_reconnects(
    zk_server: ZooKeeperServer, kazoo_factory: KazooFactory
) -> None:
    with TcpProxy("127.0.0.1", zk_server.port) as proxy:
        client = kazoo_factory(proxy.connect_string, timeout=2.0)
        states = state_recorder(client)
        t0 = time.monotonic()
        proxy.blackhole()
        wait_state(states, KazooState.SUSPENDED, 5)
        suspended_after = time.monotonic() - t0
        assert suspended_after < 4, suspended_after  # ~2/3 of the session timeout

        proxy.heal()
        wait_until(lambda: client.connected, 10, "client to reconnect after heal")
        assert client.exists("/") is not None


def test_proxy_close_stops_its_threads(zk_server: ZooKeeperServer) -> None:
    proxy = TcpProxy("127.0.0.1", zk_server.port)
    conns = [socket.create_connection(("127.0.0.1", proxy.port), timeout=1) for _ in range(3)]
    try:
        conns[0].sendall(b"ruok")
        assert conns[0].recv(16) == b"imok"
        proxy.close()
    finally:
        for c in conns:
            c.close()
    wait_until(
        lambda: not any(t.name.startswith("tcpproxy") for t in threading.enumerate()),
        3,
        "proxy threads to end",
    )
