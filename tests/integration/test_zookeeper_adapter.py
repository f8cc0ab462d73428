"""The ZooKeeper adapter against a real ZooKeeper: every effect gets one answer event,
session changes arrive as events, and ownership is judged by czxid and session id."""

from __future__ import annotations

import contextlib
import itertools
import queue
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from kazoo.client import KazooClient

from election.core import effects as fx
from election.core import events as ev
from election.core.events import CreateFailure, Outcome
from election.core.queue import in_order, node_prefix, parse_node
from election.runtime.timers import ThreadTimerService
from election.runtime.zookeeper import ZooKeeperAdapter, make_client
from election_testkit.zookeeper import ZooKeeperServer

pytestmark = pytest.mark.zk

E = TypeVar("E", bound=ev.Event)
WAIT = 5.0


class Replica:
    """One adapter on its own kazoo client, answering onto a queue."""

    def __init__(self, hosts: str, deadline: float = 3.0, session_timeout: float = 4.0) -> None:
        self.events: queue.SimpleQueue[ev.Event] = queue.SimpleQueue()
        self.seen: list[ev.Event] = []
        self.backlog: list[ev.Event] = []  # arrived, not yet claimed by `expect`
        self.timers = ThreadTimerService()
        self.client = make_client((hosts,), session_timeout)
        self.adapter = ZooKeeperAdapter(self.client, self.events.put, self.timers, deadline)
        self._ids = itertools.count(1)
        self.session = 0

    def expect(
        self, kind: type[E], where: Callable[[E], bool] = lambda e: True, timeout: float = WAIT
    ) -> E:
        """The first unclaimed event of `kind` (matching `where`), waiting for it if need
        be; every event is also kept in `seen`, in arrival order."""
        for event in self.backlog:
            if isinstance(event, kind) and where(event):
                self.backlog.remove(event)
                return event
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {kind.__name__} within {timeout}s; saw {self.seen}")
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(event)
            if isinstance(event, kind) and where(event):
                return event
            self.backlog.append(event)

    def ask(self, make: type[fx.Effect], answer: type[E], **fields: Any) -> E:
        """Run one effect and wait for the answer bearing its request id."""
        request = next(self._ids)
        self.adapter.run(make(request=request, **fields))  # type: ignore[call-arg]
        return self.expect(answer, lambda e: getattr(e, "request", None) == request)

    def connect(self) -> int:
        """Connect; returns the session id that `SessionConnected` reported."""
        assert self.ask(fx.Connect, ev.ConnectResult).outcome is Outcome.OK
        self.session = self.expect(ev.SessionConnected).session_id
        return self.session

    def close(self) -> None:
        for step in (self.client.stop, self.client.close, self.timers.close):
            with contextlib.suppress(Exception):
                step()


@pytest.fixture
def replicas(zk_server: ZooKeeperServer) -> Iterator[Callable[..., Replica]]:
    made: list[Replica] = []

    def make(hosts: str | None = None, **kw: Any) -> Replica:
        replica = Replica(hosts or zk_server.connect_string, **kw)
        made.append(replica)
        return replica

    yield make
    for replica in made:
        replica.close()


@pytest.fixture
def replica(replicas: Callable[..., Replica]) -> Replica:
    r = replicas()
    r.connect()
    return r


def create(r: Replica, path: str, replica: str = "r1") -> ev.NodeCreated:
    """Make `r`'s queue node under the election path `path`."""
    prefix = f"{path}/{node_prefix(replica, r.session)}"
    return r.ask(fx.CreateNode, ev.NodeCreated, path=prefix, replica=replica)


def ensure(r: Replica, path: str) -> None:
    assert r.ask(fx.EnsurePath, ev.PathEnsured, path=path).outcome is Outcome.OK


# --- the session ------------------------------------------------------------------------


def test_connect_answers_ok_and_reports_the_clients_session(
    replicas: Callable[..., Replica], zk_server: ZooKeeperServer
) -> None:
    r = replicas()
    assert not r.adapter.connected
    result = r.ask(fx.Connect, ev.ConnectResult)
    assert result == ev.ConnectResult(request=1, outcome=Outcome.OK)
    connected = r.expect(ev.SessionConnected)
    assert connected.session_id == r.client.client_id[0] != 0
    assert connected.server == f"127.0.0.1:{zk_server.port}"
    assert r.adapter.connected


def test_connect_while_connected_answers_ok_at_once(replica: Replica) -> None:
    assert replica.ask(fx.Connect, ev.ConnectResult).outcome is Outcome.OK
    assert not [e for e in replica.seen if isinstance(e, ev.SessionConnected)][1:]


def test_connect_to_nobody_is_unknown_after_the_deadline(
    replicas: Callable[..., Replica],
) -> None:
    from election_testkit.zookeeper import free_port

    r = replicas(f"127.0.0.1:{free_port()}", deadline=0.3)
    result = r.ask(fx.Connect, ev.ConnectResult)
    assert result == ev.ConnectResult(
        request=1, outcome=Outcome.UNKNOWN, reason="no answer within 0.3s"
    )
    assert not r.adapter.connected


def test_close_session_answers_ok_and_the_session_is_lost(
    replica: Replica, kazoo_client: KazooClient, zk_path: str
) -> None:
    ensure(replica, zk_path)
    assert create(replica, zk_path).outcome is Outcome.OK
    closed = replica.ask(fx.CloseSession, ev.SessionClosed)
    assert closed.outcome is Outcome.OK
    replica.expect(ev.SessionLost)
    assert not replica.adapter.connected
    assert kazoo_client.get_children(zk_path) == []  # our queue node went with the session
    late = create(replica, zk_path)  # a closed client answers at once, never hangs
    assert (late.outcome, late.failure) == (Outcome.FAILED, CreateFailure.CONNECTION)


# --- the queue ------------------------------------------------------------------------


def test_ensure_path_makes_the_election_path_a_persistent_node(
    replica: Replica, kazoo_client: KazooClient, zk_path: str
) -> None:
    deep = zk_path.replace("/leader", "/a/b/leader")
    ensure(replica, deep)
    stat = kazoo_client.exists(deep)
    assert stat is not None and stat.ephemeralOwner == 0  # the queue's parent: persistent
    ensure(replica, deep)  # again: already there is fine


def test_create_makes_our_sequential_node_and_answers_its_path_and_czxid(
    replica: Replica, kazoo_client: KazooClient, zk_path: str
) -> None:
    ensure(replica, zk_path)
    created = create(replica, zk_path, replica="replica-one")
    assert created.outcome is Outcome.OK
    name = created.path.rsplit("/", 1)[-1]
    node = parse_node(name)
    assert node is not None and node.replica == "replica-one" and node.of_session(replica.session)
    data, stat = kazoo_client.get(created.path)
    assert created.token == stat.czxid
    assert stat.ephemeralOwner == replica.session
    assert data == b"replica-one"
    assert kazoo_client.get_children(zk_path) == [name]


def test_candidates_queue_in_the_order_they_came(
    replicas: Callable[..., Replica], zk_path: str
) -> None:
    first, second = replicas(), replicas()
    first.connect()
    second.connect()
    ensure(first, zk_path)
    a = create(first, zk_path, replica="ra")
    b = create(second, zk_path, replica="rb")
    assert a.outcome is b.outcome is Outcome.OK
    assert a.token is not None and b.token is not None and a.token < b.token
    listed = first.ask(fx.ReadQueue, ev.QueueRead, path=zk_path)
    assert listed.outcome is Outcome.OK and listed.exists
    assert [n.replica for n in in_order(listed.names)] == ["ra", "rb"]


def test_create_without_its_parent_fails_no_parent(replica: Replica, zk_path: str) -> None:
    refused = create(replica, zk_path)
    assert (refused.outcome, refused.failure) == (Outcome.FAILED, CreateFailure.NO_PARENT)


def test_create_under_a_single_node_leaders_node_fails_parent_ephemeral(
    replica: Replica, kazoo_client: KazooClient, zk_path: str
) -> None:
    """An upgrade: the election path is a leader's ephemeral node of release 0.1."""
    kazoo_client.ensure_path(zk_path.rsplit("/", 1)[0])
    kazoo_client.create(zk_path, b"old-leader", ephemeral=True)
    ensure(replica, zk_path)  # it exists: nothing to make
    refused = create(replica, zk_path)
    assert (refused.outcome, refused.failure) == (Outcome.FAILED, CreateFailure.PARENT_EPHEMERAL)


def test_a_queue_whose_path_is_gone_reads_as_not_existing(replica: Replica, zk_path: str) -> None:
    listed = replica.ask(fx.ReadQueue, ev.QueueRead, path=zk_path)
    assert (listed.outcome, listed.exists, listed.names) == (Outcome.OK, False, ())


def test_read_node_reports_the_owner_and_its_watch_fires_on_delete(
    replicas: Callable[..., Replica], kazoo_client: KazooClient, zk_path: str
) -> None:
    holder, watcher = replicas(), replicas()
    holder_session = holder.connect()
    watcher.connect()
    ensure(holder, zk_path)
    created = create(holder, zk_path)
    asked = time.monotonic()
    read = watcher.ask(fx.ReadNode, ev.NodeRead, path=created.path)
    assert read == ev.NodeRead(
        request=read.request,
        outcome=Outcome.OK,
        exists=True,
        owner=holder_session,
        token=created.token,
        answered_at=read.answered_at,
        asked_at=read.asked_at,
        path=created.path,
    )
    # Stamped when the answer arrived, so a loop frozen meanwhile can tell it is old; and
    # when the request was sent: the session was alive then.
    assert read.answered_at is not None and asked <= read.answered_at <= time.monotonic()
    assert read.asked_at is not None and asked <= read.asked_at <= read.answered_at
    assert holder_session != watcher.session
    kazoo_client.delete(created.path)
    fired = watcher.expect(ev.NodeWatchFired)
    assert (fired.path, fired.kind) == (created.path, "DELETED")
    assert fired.answered_at is not None and asked <= fired.answered_at <= time.monotonic()


def _one_behind_another(
    replicas: Callable[..., Replica], zk_path: str
) -> tuple[Replica, Replica, ev.NodeCreated, ev.NodeCreated]:
    """Two replicas queued, each on its own session: the one ahead, the one behind
    (watching its own node), and their nodes."""
    ahead, behind = replicas(), replicas()
    ahead.connect()
    behind.connect()
    ensure(ahead, zk_path)
    below = create(ahead, zk_path, replica="r-ahead")
    ours = create(behind, zk_path, replica="r-behind")
    behind.ask(fx.ReadNode, ev.NodeRead, path=ours.path)
    return ahead, behind, below, ours


def test_the_deletion_of_the_node_below_ours_comes_with_a_proof_of_our_session(
    replicas: Callable[..., Replica], kazoo_client: KazooClient, zk_path: str
) -> None:
    ahead, behind, below, ours = _one_behind_another(replicas, zk_path)
    behind.ask(fx.ReadNode, ev.NodeRead, path=below.path)  # watch the one below ours
    kazoo_client.delete(below.path)
    fired = behind.expect(ev.NodeWatchFired)
    assert (fired.path, fired.kind) == (below.path, "DELETED")
    # `exists` of our node was sent as the news arrived, and answered: our node is there.
    assert fired.answered_at is not None and fired.proven_at is not None
    assert fired.answered_at <= fired.proven_at <= time.monotonic()

    # Our own node gone first (by hand): the news of another's deletion proves nothing.
    other = create(ahead, zk_path, replica="r-ahead")
    behind.ask(fx.ReadNode, ev.NodeRead, path=other.path)
    kazoo_client.delete(ours.path)
    assert behind.expect(ev.NodeWatchFired).path == ours.path  # ours: no proof asked
    kazoo_client.delete(other.path)
    fired = behind.expect(ev.NodeWatchFired)
    assert (fired.path, fired.kind, fired.proven_at) == (other.path, "DELETED", None)


def test_next_in_line_the_proof_is_kept_fresh_and_the_news_needs_no_round_trip(
    replicas: Callable[..., Replica], kazoo_client: KazooClient, zk_path: str
) -> None:
    _, behind, below, _ = _one_behind_another(replicas, zk_path)
    behind.ask(fx.ReadNode, ev.NodeRead, path=below.path, prove=True)  # next in line
    every = behind.adapter._prove_every()  # a sixth of the session timeout
    time.sleep(2.5 * every)  # two probes at least
    kazoo_client.delete(below.path)
    fired = behind.expect(ev.NodeWatchFired)
    assert (fired.path, fired.kind) == (below.path, "DELETED")
    # The probe's proof, sent before the news arrived and fresh: no round trip after it.
    assert fired.answered_at is not None and fired.proven_at is not None
    assert fired.proven_at < fired.answered_at < fired.proven_at + 2 * every
    # The watch is spent: the probe stops (its cost lasts only while next in line).
    time.sleep(2 * every)
    assert behind.adapter._proving is None and behind.adapter._prover is None


def test_marking_our_node_wakes_the_one_watching_it(
    replicas: Callable[..., Replica], kazoo_client: KazooClient, zk_path: str
) -> None:
    leader, behind = replicas(), replicas()
    leader.connect()
    behind.connect()
    ensure(leader, zk_path)
    created = create(leader, zk_path, replica="r-lead")
    behind.ask(fx.ReadNode, ev.NodeRead, path=created.path)
    marked = leader.ask(fx.MarkNode, ev.NodeMarked, path=created.path)
    assert marked.outcome is Outcome.OK
    fired = behind.expect(ev.NodeWatchFired)
    assert (fired.path, fired.kind) == (created.path, "CHANGED")
    data, stat = kazoo_client.get(created.path)
    assert (data, stat.version) == (b"r-lead", 1)


def test_release_deletes_the_node_of_our_token(
    replica: Replica, kazoo_client: KazooClient, zk_path: str
) -> None:
    ensure(replica, zk_path)
    created = create(replica, zk_path)
    assert created.token is not None
    path, token = created.path, created.token
    released = replica.ask(fx.ReleaseNode, ev.NodeReleased, path=path, token=token)
    assert released == ev.NodeReleased(request=released.request, outcome=Outcome.OK)
    assert kazoo_client.exists(path) is None
    again = replica.ask(fx.ReleaseNode, ev.NodeReleased, path=path, token=token)
    assert (again.outcome, again.reason) == (Outcome.OK, "already gone")


# --- losing the server ------------------------------------------------------------------


def test_server_loss_suspends_requests_go_unknown_and_restart_reconnects(
    replicas: Callable[..., Replica], zk_fresh: ZooKeeperServer, zk_path: str
) -> None:
    r = replicas(zk_fresh.connect_string, deadline=1.0)
    r.connect()
    ensure(r, zk_path)
    r.ask(fx.ReadNode, ev.NodeRead, path=zk_path)  # leaves a watch

    zk_fresh.kill()
    r.expect(ev.SessionSuspended)
    assert not r.adapter.connected
    # kazoo drops its watches on a disconnect: ours fires with no path and kind NONE.
    dropped = r.expect(ev.NodeWatchFired)
    assert (dropped.path, dropped.kind) == ("", "NONE")
    started = time.monotonic()
    stuck = create(r, zk_path)
    assert stuck == ev.NodeCreated(
        request=stuck.request, outcome=Outcome.UNKNOWN, reason="no answer within 1s"
    )
    assert 0.9 <= time.monotonic() - started < 3.0

    zk_fresh.restart()
    reconnected = r.expect(ev.SessionConnected, timeout=10.0)
    # Back within the session timeout: the server restored the session we had.
    assert reconnected.session_id == r.session == r.client.client_id[0]
    assert r.adapter.connected
    assert r.ask(fx.Connect, ev.ConnectResult).outcome is Outcome.OK
