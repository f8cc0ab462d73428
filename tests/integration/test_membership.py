"""The member node against a real ZooKeeper: appears, follows transitions, goes with the
session, comes back after a new one, and never blocks the loop's thread."""

from __future__ import annotations

import json
import time
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from election.core import events as ev
from election.core.record import Record
from election.observe.membership import Membership
from tests.conftest import KazooFactory
from tests.e2e.replicas import wait_until
from tests.zk import ZooKeeperServer


def record(seq: int, state: str, previous: str = "", token: int | None = None) -> Record:
    return Record(
        seq=seq,
        at=float(seq),
        wall=1_700_000_000.0 + seq,
        event=ev.Started(),
        state=state,
        previous=previous,
        token=token,
    )


def member(client: KazooClient, path: str) -> dict[str, Any] | None:
    try:
        data, _ = client.get(path)
    except NoNodeError:
        return None
    doc: dict[str, Any] = json.loads(data)
    return doc


def wait_member(client: KazooClient, path: str, **expected: object) -> dict[str, Any]:
    def matches() -> dict[str, Any] | None:
        doc = member(client, path)
        if doc is not None and all(doc.get(k) == v for k, v in expected.items()):
            return doc
        return None

    return wait_until(matches, 15, lambda: f"{path}: want {expected}, have {member(client, path)}")


def make(client: KazooClient, zk_path: str, replica: str = "r1") -> Membership:
    return Membership(
        client, zk_path, replica, version="9.9", metrics_address="127.0.0.1:9101", host="h", pid=7
    )


def test_the_member_node_appears_follows_transitions_and_goes_on_close(
    zk_server: ZooKeeperServer, zk_path: str, kazoo_factory: KazooFactory, kazoo_client: KazooClient
) -> None:
    replica = kazoo_factory(zk_server.connect_string, start=False)
    membership = make(replica, zk_path)
    membership(record(1, "Init"))  # before the session: remembered, sent once connected
    replica.start(timeout=10)
    path = zk_path.rsplit("/", 1)[0] + "/members/r1"
    assert membership.path == path
    doc = wait_member(kazoo_client, path, state="Init")
    assert doc == {
        "replica": "r1",
        "state": "Init",
        "since": 1_700_000_001.0,
        "token": None,
        "metrics": "127.0.0.1:9101",
        "host": "h",
        "pid": 7,
        "version": "9.9",
    }
    _, stat = kazoo_client.get(path)
    assert stat.ephemeralOwner == replica.client_id[0]

    membership(record(2, "Attempter", previous="Init"))
    membership(record(3, "Leader", previous="Attempter", token=55))
    doc = wait_member(kazoo_client, path, state="Leader", token=55)
    assert doc["since"] == 1_700_000_003.0
    membership(record(4, "Leader", token=55))  # no change: since stays
    assert wait_member(kazoo_client, path, state="Leader")["since"] == 1_700_000_003.0
    # Stopping is not sent: the close that follows removes the node, and an update would
    # be queued in front of that close, delaying the hand-over.
    membership(record(5, "Stopping", previous="Leader"))
    time.sleep(0.3)
    assert json.loads(kazoo_client.get(path)[0])["state"] == "Leader"

    replica.stop()
    wait_until(lambda: not kazoo_client.exists(path), 15, f"{path} still there after close")
    assert membership.failures == 0


def test_the_member_node_comes_back_after_a_new_session(
    zk_server: ZooKeeperServer, zk_path: str, kazoo_factory: KazooFactory, kazoo_client: KazooClient
) -> None:
    replica = kazoo_factory(zk_server.connect_string)
    membership = make(replica, zk_path)
    membership(record(1, "Attempter", previous="Init"))
    path = membership.path
    wait_member(kazoo_client, path, state="Attempter")
    old_session = replica.client_id[0]

    # Expire the replica's session: another client with its id and password closes it.
    session_id, password = replica.client_id
    thief = kazoo_factory(zk_server.connect_string, client_id=(session_id, password))
    thief.stop()

    def new_owner() -> bool:
        try:
            _, stat = kazoo_client.get(path)
        except NoNodeError:
            return False
        return stat.ephemeralOwner not in (0, old_session)

    wait_until(new_owner, 20, "member node not re-created by the new session")
    assert replica.client_id[0] != old_session
    assert member(kazoo_client, path)["state"] == "Attempter"  # type: ignore[index]


def test_a_node_left_by_an_earlier_run_of_the_same_replica_is_replaced(
    zk_server: ZooKeeperServer, zk_path: str, kazoo_factory: KazooFactory, kazoo_client: KazooClient
) -> None:
    crashed = kazoo_factory(zk_server.connect_string)  # a run killed before its session expired
    path = zk_path.rsplit("/", 1)[0] + "/members/r1"
    crashed.create(path, b'{"state":"Leader"}', ephemeral=True, makepath=True)
    replica = kazoo_factory(zk_server.connect_string)
    membership = make(replica, zk_path)
    membership(record(1, "Attempter", previous="Init"))
    wait_member(kazoo_client, path, state="Attempter")
    assert kazoo_client.get(path)[1].ephemeralOwner == replica.client_id[0]


def test_a_paused_zookeeper_never_blocks_the_caller_and_the_latest_state_wins(
    zk_fresh: ZooKeeperServer, zk_path: str, kazoo_factory: KazooFactory
) -> None:
    replica = kazoo_factory(zk_fresh.connect_string, timeout=20.0)
    membership = make(replica, zk_path)
    membership(record(1, "Attempter", previous="Init"))
    observer = kazoo_factory(zk_fresh.connect_string, timeout=20.0)
    wait_member(observer, membership.path, state="Attempter")

    zk_fresh.pause()  # SIGSTOP: requests hang, nothing answers
    try:
        slowest = 0.0
        states = ["Leader", "Failover", "Init", "Attempter", "Leader", "Stopping", "Init"]
        previous = "Attempter"
        for seq, state in enumerate(states, start=2):
            start = time.monotonic()
            membership(
                record(seq, state, previous=previous, token=9 if state == "Leader" else None)
            )
            slowest = max(slowest, time.monotonic() - start)
            previous = state
    finally:
        zk_fresh.resume()
    # A generous bound: the calls do no I/O; a blocking one would wait for the server.
    assert slowest < 1.0, f"an observer call took {slowest:.3f}s while ZooKeeper was paused"
    wait_member(observer, membership.path, state="Init", since=1_700_000_008.0)
