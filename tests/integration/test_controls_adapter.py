"""The operator's controls and the members' priorities, read by the adapter from a real
ZooKeeper: what the nodes say, and the watches that tell when they change."""

from __future__ import annotations

import time

import pytest
from kazoo.client import KazooClient

from election.control import (
    Handover,
    Pause,
    encode_handover,
    encode_pause,
    handover_path,
    pause_path,
)
from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.reducer import members_path
from election.observe.members import member_document
from election_testkit.zookeeper import ZooKeeperServer
from tests.integration.test_zookeeper_adapter import Replica

pytestmark = pytest.mark.zk


def read_control(r: Replica, election_path: str) -> ev.ControlRead:
    return r.ask(
        fx.ReadControl,
        ev.ControlRead,
        pause_path=pause_path(election_path),
        handover_path=handover_path(election_path),
    )


def test_the_controls_are_read_and_their_changes_heard_of(
    zk_server: ZooKeeperServer, zk_path: str, kazoo_client: KazooClient
) -> None:
    r = Replica(zk_server.connect_string)
    r.connect()
    try:
        nothing = read_control(r, zk_path)
        assert nothing.outcome is Outcome.OK
        assert (nothing.paused, nothing.handover) == (False, "")
        pause = Pause(by="ops@host", at=time.time(), reason="kernel upgrade")
        kazoo_client.create(pause_path(zk_path), encode_pause(pause), makepath=True)
        changed = r.expect(ev.ControlChanged)
        assert (changed.path, changed.kind) == (pause_path(zk_path), "CREATED")
        paused = read_control(r, zk_path)
        assert (paused.paused, paused.paused_by, paused.pause_reason) == (
            True,
            "ops@host",
            "kernel upgrade",
        )
        request = Handover(id="h1", leader="r1", token=77, to="r2", by="ops", at=time.time())
        kazoo_client.create(handover_path(zk_path), encode_handover(request), ephemeral=True)
        r.expect(ev.ControlChanged, lambda e: e.path == handover_path(zk_path))
        both = read_control(r, zk_path)
        assert (both.handover, both.handover_leader, both.handover_token, both.handover_to) == (
            "h1",
            "r1",
            77,
            "r2",
        )
        kazoo_client.delete(pause_path(zk_path))
        deleted = r.expect(ev.ControlChanged, lambda e: e.path == pause_path(zk_path))
        assert deleted.kind == "DELETED"
        assert not read_control(r, zk_path).paused
    finally:
        r.close()


def test_a_pause_node_holding_garbage_still_pauses_and_a_garbage_request_is_ignored(
    zk_server: ZooKeeperServer, zk_path: str, kazoo_client: KazooClient
) -> None:
    r = Replica(zk_server.connect_string)
    r.connect()
    try:
        kazoo_client.create(pause_path(zk_path), b"\xff not json", makepath=True)
        kazoo_client.create(handover_path(zk_path), b"[1, 2]", ephemeral=True)
        read = read_control(r, zk_path)
        assert read.paused and "unreadable" in read.pause_reason
        assert read.handover == ""
    finally:
        r.close()


def test_the_members_and_their_priorities_are_read_and_a_newcomer_heard_of(
    zk_server: ZooKeeperServer, zk_path: str, kazoo_client: KazooClient
) -> None:
    r = Replica(zk_server.connect_string)
    r.connect()
    path = members_path(zk_path)
    try:
        empty = r.ask(fx.ReadMembers, ev.MembersRead, path=path)  # no members/ node yet
        assert empty.outcome is Outcome.OK and empty.replicas == ()
        doc = member_document(
            replica="a",
            state="Attempter",
            since=1.0,
            token=None,
            metrics=None,
            host="h",
            pid=1,
            version="1",
            priority=3,
        )
        kazoo_client.create(f"{path}/a", doc, ephemeral=True, makepath=True)
        kazoo_client.create(f"{path}/b", b'{"state":"Init"}', ephemeral=True)  # before priorities
        read = r.ask(fx.ReadMembers, ev.MembersRead, path=path)
        assert (read.replicas, read.priorities) == (("a", "b"), (3, 1))
        kazoo_client.create(f"{path}/c", doc, ephemeral=True)
        assert r.expect(ev.MembersChanged).path == path
    finally:
        r.close()
