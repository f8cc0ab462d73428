"""A replica's ZooKeeper session as kazoo shows it to the daemon.

The client is CONNECTED, SUSPENDED (connection lost, the session may live on) or LOST
(expired: a new session follows). It notices a silent server after 2/3 of the session
timeout (kazoo's read timeout) and a server that went down at once (the socket closes);
it reconnects with back-off, resuming its session if the server still has it. Requests
travel with small random latencies, in order on one connection as over TCP (ZooKeeper
executes a client's requests in the order sent, and its answers and watch
notifications reach the client in order: a read sent after a create sees the create);
one whose request or answer is lost gets no answer, so the daemon's deadline turns it
into an UNKNOWN outcome.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from election.core import events as ev
from election.core.queue import parse_node
from election_sim.zookeeper import CHILD, Session, SimZooKeeper

if TYPE_CHECKING:
    from election_sim.replica import Run

CONNECTED, SUSPENDED, CONNECTING, CLOSED = "connected", "suspended", "connecting", "closed"
SERVER = "zk-sim:2181"
BACKOFF_INITIAL, BACKOFF_MAX = 0.1, 2.0  # like make_client's connection_retry

Answer = Callable[[], object]


class SimClient:
    def __init__(self, run: Run, zk: SimZooKeeper, rng: random.Random, timeout: float) -> None:
        self.run = run
        self.zk = zk
        self.rng = rng
        self.timeout = timeout
        self.state = CONNECTING
        self.started = False
        self.session: Session | None = None
        self.epoch = 0  # one per connection: answers of an older connection are lost
        self.last_heard = 0.0
        self.next_attempt = 0.0
        self.backoff = BACKOFF_INITIAL
        self.connect_waiters: list[Answer] = []
        # One connection is one ordered stream each way: nothing overtakes what was sent
        # (or answered) before it on the same connection.
        self.sent_until = 0.0  # when the last request sent reaches the server
        self.heard_until = 0.0  # when the last answer or notification reaches us

    @property
    def connected(self) -> bool:
        """What the file writer's last-moment gate reads (`ZooKeeperAdapter.connected`)."""
        return self.state == CONNECTED

    def reachable(self) -> bool:
        """Can a packet go between this process and the server now?"""
        return self.zk.up and not self.run.replica.partitioned and self.run.alive

    def in_contact(self) -> bool:
        """The server's view: a connected client that pings (not frozen, not cut off)."""
        return self.state == CONNECTED and self.reachable() and not self.run.paused

    # --- the connection ----------------------------------------------------------------

    def start(self, now: float) -> None:
        if not self.started:
            self.started = True
            self.next_attempt = now + self.rng.uniform(0.001, 0.01)

    def tick(self, now: float) -> None:
        """What kazoo's connection thread notices at `now` (never while frozen)."""
        if not self.run.alive or self.run.paused or not self.started or self.state == CLOSED:
            return
        if self.state == CONNECTED:
            session = self.session
            if not self.zk.up:
                self._disconnect(now)  # the server's socket closed under us
            elif self.run.replica.partitioned:
                if now - self.last_heard >= self.timeout * 2 / 3:
                    self._disconnect(now)
            elif session is None or session.expired:
                self._lost(now)  # the server tells us at once: the session is gone
            else:
                self.last_heard = now
        elif now >= self.next_attempt:
            if self.zk.up and not self.run.replica.partitioned:
                self._connect(now)
            else:
                self.next_attempt = now + self.backoff * self.rng.uniform(0.8, 1.2)
                self.backoff = min(self.backoff * 2, BACKOFF_MAX)

    def _connect(self, now: float) -> None:
        if self.session is not None and self.session.expired:
            self._lost(now)
        if self.session is None:
            self.session = self.zk.new_session(
                self.timeout, now, self.in_contact, self._watch_fired
            )
        self.session.last_contact = now
        self.state = CONNECTED
        self.epoch += 1
        self.sent_until = self.heard_until = now
        self.last_heard = now
        self.backoff = BACKOFF_INITIAL
        self.run.deliver(ev.SessionConnected(session_id=self.session.id, server=SERVER))
        waiters, self.connect_waiters = self.connect_waiters, []
        for answer in waiters:
            answer()

    def _disconnect(self, now: float) -> None:
        self.state = SUSPENDED
        self.epoch += 1
        self.next_attempt = now + self.rng.uniform(0.01, 0.1)
        self.run.deliver(ev.SessionSuspended())
        if self.session is not None:
            for path in self.zk.drop_watches(self.session.id):
                self.run.deliver(
                    ev.NodeWatchFired(path=path, kind="NONE", answered_at=self.run.now())
                )

    def _lost(self, now: float) -> None:
        self.session = None
        self.state = CONNECTING
        self.epoch += 1
        self.next_attempt = now  # kazoo starts a new session at once
        self.run.deliver(ev.SessionLost())

    def close(self, answer: Answer) -> None:
        """`client.stop()`: the server ends the session if it can hear us; answered ok."""
        session, reachable = self.session, self.state == CONNECTED and self.reachable()
        self.state = CLOSED
        self.epoch += 1

        def closed() -> None:
            if reachable and session is not None and not session.expired and self.zk.up:
                self.zk.end_session(session)
            answer()

        self.run.world.clock.later(self._latency(), closed)

    # --- requests ------------------------------------------------------------------------

    def call(self, apply: Callable[[Session], Answer], failed: Callable[[str], object]) -> None:
        """Send one request: `apply` runs on the server (if it arrives) and returns the
        answer to deliver (if the answer arrives). No connection: ConnectionLoss at once,
        or (as kazoo sometimes queues) no answer at all."""
        clock = self.run.world.clock
        if self.state != CONNECTED or self.session is None:
            if self.rng.random() < 0.5:
                clock.later(self._latency(), lambda: failed("ConnectionLoss"))
            return
        session, epoch = self.session, self.epoch

        def arrive() -> None:
            if not self._path_ok(epoch):
                return  # lost on the way: the deadline answers "unknown"
            if session.expired:
                answer: Answer = lambda: failed("SessionExpiredError")  # noqa: E731
            else:
                session.last_contact = clock.now
                answer = apply(session)
            clock.at(self._heard_at(), lambda: self._answer(epoch, answer))

        self.sent_until = max(clock.now + self._latency(), self.sent_until)
        clock.at(self.sent_until, arrive)

    def _heard_at(self) -> float:
        """When an answer (or a notification) sent now reaches us: after those before it."""
        self.heard_until = max(self.run.world.clock.now + self._latency(), self.heard_until)
        return self.heard_until

    def _answer(self, epoch: int, answer: Answer) -> None:
        if self._path_ok(epoch):
            self.last_heard = self.run.world.clock.now
            answer()

    def _path_ok(self, epoch: int) -> bool:
        return self.epoch == epoch and self.state == CONNECTED and self.reachable()

    def _watch_fired(self, path: str, kind: str) -> None:
        epoch = self.epoch

        def deliver() -> None:
            if not self._path_ok(epoch):
                return
            if kind == CHILD and path == self.run.world.config.election_path:
                self.run.deliver(ev.QueueChanged(path=path))
            elif kind == CHILD:
                self.run.deliver(ev.MembersChanged(path=path))
            elif "/control/" in path:
                self.run.deliver(ev.ControlChanged(path=path, kind=kind))
            else:
                # Stamped as it arrives, as the adapter does: a frozen loop takes it late.
                now = self.run.now()
                event = ev.NodeWatchFired(path=path, kind=kind, answered_at=now)
                if kind == "DELETED" and self._another_queue_node(path):
                    # kazoo's thread, frozen with the process, reads it at the resume.
                    self.run.when_running(lambda: self._prove_then_deliver(event))
                else:
                    self.run.deliver(event)

        self.run.world.clock.at(self._heard_at(), deliver)

    def _another_queue_node(self, path: str) -> bool:
        parent, _, name = path.rpartition("/")
        node = parse_node(name)
        session = self.session
        return (
            parent == self.run.world.config.election_path
            and node is not None
            and session is not None
            and not node.of_session(session.id)
        )

    def _prove_then_deliver(self, event: ev.NodeWatchFired) -> None:
        """As the adapter does: `exists` of our own queue node first, and the news passed
        on with the time that request was sent when our node is still there (the session
        was alive then); unproven when it is not, or the request fails."""
        asked = self.run.now()
        parent = self.run.world.config.election_path + "/"

        def apply(session: Session) -> Answer:
            ours = any(
                p.startswith(parent) and node.owner == session.id
                for p, node in self.zk.nodes.items()
            )
            proven = attrs.evolve(event, proven_at=asked if ours else None)
            return lambda: self.run.deliver(proven)

        self.call(apply, lambda _: self.run.deliver(event))

    def _latency(self) -> float:
        if self.rng.random() < 0.005:  # now and then a slow answer, past some deadlines
            return self.rng.uniform(0.05, 1.5 * self.timeout)
        return self.rng.uniform(0.0002, 0.003)
