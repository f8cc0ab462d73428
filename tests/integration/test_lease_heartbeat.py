"""The lease's heartbeat against a real ZooKeeper: the timeout the server granted, and a
proof only for our own queue node of our own term."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.queue import node_prefix
from election.runtime.lease import Proof, lease_until
from election.runtime.zookeeper import ZooKeeperAdapter
from election_testkit.zookeeper import ZooKeeperServer
from tests.integration.test_zookeeper_adapter import Replica

pytestmark = pytest.mark.zk

PATH = "/lease-test/leader"


def _beat(adapter: ZooKeeperAdapter, token: int) -> Proof | None:
    answers: queue.SimpleQueue[Proof | None] = queue.SimpleQueue()
    adapter.heartbeat(token, answers.put)
    return answers.get(timeout=5)


@pytest.fixture
def short_sessions(tmp_path: Path) -> Iterator[ZooKeeperServer]:
    """A server that grants at most 1.5 s, whatever a client asks."""
    with ZooKeeperServer(tmp_path / "zk", max_session_ms=1500) as server:
        yield server


def test_the_granted_timeout_is_what_the_server_negotiated(
    short_sessions: ZooKeeperServer,
) -> None:
    replica = Replica(short_sessions.connect_string, session_timeout=4.0)
    try:
        assert replica.adapter.session_timeout == 4.0  # asked, until connected
        replica.connect()
        assert replica.adapter.session_timeout == 1.5
    finally:
        replica.close()


def test_a_heartbeat_proves_our_own_node_from_when_it_was_sent(
    zk_server: ZooKeeperServer,
) -> None:
    ours, theirs = Replica(zk_server.connect_string), Replica(zk_server.connect_string)
    try:
        ours.connect()
        theirs.connect()
        ours.client.ensure_path(PATH)
        assert _beat(ours.adapter, 1) is None  # no queue node of ours yet
        prefix = f"{PATH}/{node_prefix('r1', ours.session)}"
        created = ours.ask(fx.CreateNode, ev.NodeCreated, path=prefix, replica="r1")
        stat = ours.client.exists(created.path)
        assert stat is not None
        before = time.monotonic()
        proof = _beat(ours.adapter, stat.czxid)
        assert proof is not None
        assert before <= proof.sent_at <= time.monotonic()
        assert proof.timeout == 4.0  # granted as asked (the server allows up to 10 s)
        assert lease_until(proof.sent_at, proof.timeout) > time.monotonic()
        # Not our term's node, or not our session's: no proof.
        assert _beat(ours.adapter, stat.czxid + 1) is None
        assert _beat(theirs.adapter, stat.czxid) is None
        ours.client.delete(created.path)
        assert _beat(ours.adapter, stat.czxid) is None  # gone: leadership is over
    finally:
        ours.close()
        theirs.close()


def test_no_heartbeat_is_answered_without_a_session(zk_server: ZooKeeperServer) -> None:
    replica = Replica(zk_server.connect_string)
    try:
        assert _beat(replica.adapter, 1) is None  # never connected
    finally:
        replica.close()
