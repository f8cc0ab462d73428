"""The member node's publishes against a real ZooKeeper: the adapter makes, updates,
adopts and replaces the node, answers with the session it used, and never blocks the
loop's thread."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.observe.members import member_document
from election.runtime.incarnation import started
from election.runtime.zookeeper import MemberFacts
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.conftest import KazooFactory
from tests.integration.test_zookeeper_adapter import Replica

pytestmark = pytest.mark.zk


def member(client: KazooClient, path: str) -> dict[str, Any] | None:
    try:
        data, _ = client.get(path)
    except NoNodeError:
        return None
    doc: dict[str, Any] = json.loads(data)
    return doc


def replica(zk: ZooKeeperServer) -> Replica:
    r = Replica(zk.connect_string)
    assert r.adapter.member is None
    r.adapter.member = MemberFacts(
        replica="r1", version="9.9", host="h", pid=7, metrics_address="127.0.0.1:9101", started=70
    )
    r.connect()
    return r


def publish(
    r: Replica,
    path: str,
    state: str,
    *,
    create: bool,
    token: int | None = None,
    since: float | None = None,
) -> ev.MemberPublished:
    return r.ask(
        fx.PublishMember,
        ev.MemberPublished,
        path=path,
        state=state,
        since=time.monotonic() if since is None else since,
        token=token,
        create=create,
    )


def test_a_publish_makes_the_node_an_update_follows_and_it_goes_with_the_session(
    zk_server: ZooKeeperServer, zk_path: str, kazoo_client: KazooClient
) -> None:
    path = zk_path.rsplit("/", 1)[0] + "/members/r1"
    r = replica(zk_server)
    try:
        entered = time.monotonic() - 2.5  # the state was entered 2.5 s ago
        answer = publish(r, path, "Init", create=True, since=entered)
        assert answer.outcome is Outcome.OK and answer.session_id == r.session
        doc = member(kazoo_client, path)
        assert doc is not None
        assert abs(doc.pop("since") - (time.time() - 2.5)) < 1.0  # the wall time it was
        assert doc == {
            "replica": "r1",
            "state": "Init",
            "token": None,
            "metrics": "127.0.0.1:9101",
            "host": "h",
            "pid": 7,
            "version": "9.9",
            "priority": 1,
            "started": 70,
        }
        assert kazoo_client.get(path)[1].ephemeralOwner == r.session
        assert publish(r, path, "Leader", create=False, token=55).outcome is Outcome.OK
        assert member(kazoo_client, path)["state"] == "Leader"  # type: ignore[index]
        assert member(kazoo_client, path)["token"] == 55  # type: ignore[index]
    finally:
        r.close()
    wait_until(lambda: not kazoo_client.exists(path), 15, f"{path} still there after close")


def test_an_update_of_a_node_someone_deleted_makes_it_again(
    zk_server: ZooKeeperServer, zk_path: str, kazoo_client: KazooClient
) -> None:
    path = zk_path.rsplit("/", 1)[0] + "/members/r1"
    r = replica(zk_server)
    try:
        publish(r, path, "Attempter", create=True)
        kazoo_client.delete(path)
        assert publish(r, path, "Leader", create=False, token=3).outcome is Outcome.OK
        assert member(kazoo_client, path)["state"] == "Leader"  # type: ignore[index]
    finally:
        r.close()


def _left_by(host: str, pid: int, started: int | None) -> bytes:
    return member_document(
        replica="r1", state="Leader", since=1.0, token=5, metrics=None, host=host, pid=pid,
        version="9.9", started=started,
    )  # fmt: skip


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(
    "left",
    [
        pytest.param(lambda: _left_by("h", 7, 69), id="this pid, an earlier run (pid 1 again)"),
        pytest.param(lambda: _left_by("h", _dead_pid(), 5), id="a process that is gone"),
        pytest.param(
            lambda: _left_by("h", os.getpid(), (started(os.getpid()) or 0) + 1),
            id="its pid taken by another process",
        ),
    ],
)
def test_a_node_left_by_an_earlier_run_of_the_same_replica_is_replaced(
    zk_server: ZooKeeperServer,
    zk_path: str,
    kazoo_factory: KazooFactory,
    kazoo_client: KazooClient,
    left: Callable[[], bytes],
) -> None:
    # Restarted right after a crash (systemd does so within seconds), before the dead
    # run's session expired: its member node is ours to replace, not another replica's.
    crashed = kazoo_factory(zk_server.connect_string)
    path = zk_path.rsplit("/", 1)[0] + "/members/r1"
    crashed.create(path, left(), ephemeral=True, makepath=True)
    r = replica(zk_server)
    try:
        assert publish(r, path, "Attempter", create=True).outcome is Outcome.OK
        assert kazoo_client.get(path)[1].ephemeralOwner == r.session
        assert member(kazoo_client, path)["state"] == "Attempter"  # type: ignore[index]
        # Ours already (a create that raced a reconnect): adopted, not replaced.
        assert publish(r, path, "Leader", create=True, token=9).outcome is Outcome.OK
        assert kazoo_client.get(path)[1].ephemeralOwner == r.session
        assert member(kazoo_client, path)["state"] == "Leader"  # type: ignore[index]
    finally:
        r.close()


@pytest.mark.parametrize(
    ("left", "held_by"),
    [
        pytest.param(
            lambda: _left_by("h", os.getpid(), started(os.getpid())),
            lambda session: f"host h, pid {os.getpid()}, session 0x{session:x}",
            id="a live process on this host",
        ),
        pytest.param(
            lambda: _left_by("elsewhere", 7, 70),
            lambda session: f"host elsewhere, pid 7, session 0x{session:x}",
            id="another host",
        ),
        pytest.param(
            lambda: b'{"state":"Leader"}',
            lambda session: f"session 0x{session:x}",
            id="a node that says no more",
        ),
    ],
)
def test_a_node_held_by_another_live_replica_is_left_alone_and_named(
    zk_server: ZooKeeperServer,
    zk_path: str,
    kazoo_factory: KazooFactory,
    kazoo_client: KazooClient,
    left: Callable[[], bytes],
    held_by: Callable[[int], str],
) -> None:
    other = kazoo_factory(zk_server.connect_string)
    path = zk_path.rsplit("/", 1)[0] + "/members/r1"
    data = left()
    other.create(path, data, ephemeral=True, makepath=True)
    r = replica(zk_server)
    try:
        answer = publish(r, path, "Init", create=True)
        assert answer.outcome is Outcome.FAILED
        assert answer.held_by == held_by(other.client_id[0])
        data_now, stat = kazoo_client.get(path)
        assert (data_now, stat.ephemeralOwner) == (data, other.client_id[0])  # untouched
    finally:
        r.close()


def test_a_paused_zookeeper_never_blocks_the_caller(
    zk_fresh: ZooKeeperServer, zk_path: str
) -> None:
    path = zk_path.rsplit("/", 1)[0] + "/members/r1"
    r = Replica(zk_fresh.connect_string, deadline=1.0)
    r.connect()
    try:
        zk_fresh.pause()  # SIGSTOP: requests hang, nothing answers
        try:
            start = time.monotonic()
            r.adapter.run(
                fx.PublishMember(
                    request=99, path=path, state="Leader", since=start, token=1, create=True
                )
            )
            took = time.monotonic() - start
            # The answer comes at the deadline, unknown; the call itself returned at once.
            answer = r.expect(ev.MemberPublished, lambda e: e.request == 99)
        finally:
            zk_fresh.resume()
        assert took < 0.5, f"publishing took {took:.3f}s while ZooKeeper was paused"
        assert answer.outcome is Outcome.UNKNOWN
    finally:
        r.close()
