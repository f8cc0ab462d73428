"""One simulated replica: runs of the daemon's real loop, journaling genuine records.

A `Run` is one process: `election.runtime.loop.Loop` with the real reducer, a
`JournalSink` (a new header per run, as a restarted daemon writes), and effect handlers
that answer through the runtime's own `Reply` (ok/failed, or unknown at the deadline)
on simulated time. A crash ends the run where it stands (its session expires later);
a pause freezes it: its queue, its timers' effects and its file worker wait for the
resume, and its client sends nothing.
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from election import __version__
from election.core import effects as fx
from election.core import events as ev
from election.core.state import initial_state
from election.flags import core_config_from_header
from election.runtime.dispatch import EffectHandler
from election.runtime.journaling import JournalSink
from election.runtime.loop import Loop
from election.runtime.replies import Reply
from election_sim.client import SimClient
from election_sim.clock import SimTimerService
from election_sim.jobs import JOB_COMMAND, JobHandler, SimKeeper
from election_sim.zookeeper import Session
from journal import make_header

if TYPE_CHECKING:
    from election_sim.world import Simulation

MONOTONIC_ZERO = 1000.0  # `at` of simulated time 0 (any machine's monotonic clock)
WALL_ZERO = 1_700_000_000.0  # `wall` of simulated time 0


class Replica:
    """A replica across its runs: its id, its journal, its machine's network."""

    def __init__(self, world: Simulation, replica_id: str, journal: Path) -> None:
        self.world = world
        self.id = replica_id
        self.journal = journal
        self.partitioned = False
        self.runs = 0
        self.run: Run | None = None

    def header_config(self) -> dict[str, Any]:
        """The configuration as `Settings.as_header_config()` records it."""
        cfg = self.world.config
        return {
            "zk_servers": ["zk-sim:2181"],
            "leader_timeout": cfg.leader_timeout,
            "attempter_timeout": cfg.attempter_timeout,
            "file_dir": "/sim/file-dir",
            "storage_capacity": cfg.storage_capacity,
            "election_path": cfg.election_path,
            "replica_id": self.id,
            "session_timeout": cfg.session_timeout,
            "journal": str(self.journal),
            "metrics_address": None,
            "log_level": "info",
            "log_format": "text",
            "stop_deadline": cfg.stop_deadline,
            "protocol": "queue",
            "priority": self.world.priority_of(self.id),
            **(
                {
                    "exec": list(JOB_COMMAND),
                    "exec_grace": cfg.exec_grace,
                    "exec_exit": "release",
                    "write_files": True,  # as the chaos soak: files and a job
                    "stop_deadline": cfg.stop_deadline + cfg.exec_grace,
                }
                if cfg.jobs
                else {}
            ),
        }

    def start(self) -> Run:
        """A new process: a new run of the journal, a new session."""
        self.runs += 1
        self.run = Run(self, self.runs)
        return self.run


class Run:
    """One process of a replica."""

    def __init__(self, replica: Replica, number: int) -> None:
        self.replica = replica
        self.number = number  # its pid, as the journal's header tells
        self.world = world = replica.world
        self.alive = True
        self.paused = False
        self.frozen: list[Callable[[], object]] = []  # work that waits for the resume
        self._drain_due = False
        config = replica.header_config()
        clock = world.clock
        self.started_wall = WALL_ZERO + clock.now  # names the run (the keeper's records)
        header = make_header(
            replica=replica.id,
            program=f"election {__version__}",
            started_wall=self.started_wall,
            config=config,
            host="simulated",
            pid=number,
            simulation={"seed": world.config.seed, "run": number},
        )
        self.journal = JournalSink(
            replica.journal,
            header,
            fsync=False,
            snapshot_every=world.config.snapshot_every,
            max_bytes=world.config.journal_max_bytes,
            keep=1000,  # a simulation keeps every segment: the replay gets them all
        )
        self.rng = random.Random(world.rng.getrandbits(64))
        self.client = SimClient(self, world.zk, self.rng, world.config.session_timeout)
        self.timers = SimTimerService(clock, lambda: self.alive, self._wake)
        handlers: list[Any] = [ZooKeeperHandler(self), FileDirHandler(self)]
        self.keeper: SimKeeper | None = None
        if world.config.jobs:  # the daemon's keeper, outliving it (election_sim.jobs)
            self.keeper = SimKeeper(self, world.config.exec_grace)
            handlers.append(JobHandler(self, self.keeper))
        self.loop = Loop(
            initial_state(core_config_from_header(config)),
            journal=self.journal,
            handlers=handlers,
            timers=self.timers,
            observers=[lambda record: world.observe(replica, record), self._tell_keeper],
            clock=lambda: MONOTONIC_ZERO + clock.now,
            wall=lambda: WALL_ZERO + clock.now,
        )
        self.journal.follow(lambda: self.loop.state)  # its periodic snapshots, as the daemon's
        self.deliver(ev.Started())

    def now(self) -> float:
        """This process's monotonic clock (what its loop stamps `at` with)."""
        return MONOTONIC_ZERO + self.world.clock.now

    def wall(self) -> float:
        return WALL_ZERO + self.world.clock.now

    def _tell_keeper(self, record: Any) -> None:
        """A new session: its keeper holds its id (the real daemon's kazoo listener)."""
        event = record.event
        if self.keeper is not None and type(event) is ev.SessionConnected:
            self.keeper.told_session(event.session_id)

    # --- the loop's queue ---------------------------------------------------------------

    def deliver(self, event: ev.Event) -> None:
        """Put an event on the loop's queue; the loop takes it at once unless frozen."""
        if not self.alive:
            return
        self.loop.put(event)
        self._wake()

    def _wake(self) -> None:
        """Have the loop take what is queued (soon, in simulated time)."""
        if not self._drain_due:
            self._drain_due = True
            self.world.clock.later(0.0, self._drain)

    def _drain(self) -> None:
        self._drain_due = False
        if not self.alive or self.paused:
            return
        self.loop.drain()
        if self.loop.exit_code is not None:
            self.end(said=self.loop.exit_code)

    def when_running(self, work: Callable[[], object]) -> None:
        """Do `work` now, or at the resume if frozen; never if the process is gone."""
        if not self.alive:
            return
        if self.paused:
            self.frozen.append(work)
        else:
            work()

    # --- faults -------------------------------------------------------------------------

    def end(self, torn: bytes = b"", said: int | None = None) -> None:
        """The process is gone: an exit with the code it `said`, or a crash (SIGKILL),
        which may leave a torn last line. Its keeper lives on."""
        if not self.alive:
            return
        self.alive = False
        self.journal.close()
        if self.keeper is not None:
            status = int(signal.SIGKILL) if said is None else (said & 0xFF) << 8
            self.keeper.daemon_gone(status, said)
        if torn:
            fd = os.open(self.replica.journal, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, torn)
            finally:
                os.close(fd)

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        if not self.alive or not self.paused:
            return
        self.paused = False
        frozen, self.frozen = self.frozen, []
        for work in frozen:
            work()
        self._drain_due = True
        self._drain()


def _describe(name: str) -> str:
    return f"{name}: simulated"


class ZooKeeperHandler(EffectHandler):
    """The ZooKeeper effects (`ZOOKEEPER_EFFECTS`) on the simulated server, answered as
    `election.runtime.zookeeper.ZooKeeperAdapter` does."""

    def __init__(self, run: Run) -> None:
        self.proc = run
        self.deadline = run.world.config.session_timeout

    RUNS: ClassVar[Mapping[type[fx.Effect], str]] = {
        fx.Connect: "_connect",
        fx.CloseSession: "_close",
        fx.EnsurePath: "_ensure_path",
        fx.CreateNode: "_create",
        fx.ReadNode: "_read",
        fx.ReadQueue: "_read_queue",
        fx.MarkNode: "_mark",
        fx.ReleaseNode: "_release",
        fx.PublishMember: "_publish",
        fx.ReadControl: "_read_control",
        fx.ReadMembers: "_read_members",
    }

    def _reply(self, make: Callable[..., ev.Event], request: int) -> Reply:
        run = self.proc
        return Reply(run.deliver, make, request, run.timers, self.deadline)

    def _connect(self, effect: fx.Connect) -> None:
        client = self.proc.client
        reply = self._reply(ev.ConnectResult, effect.request)
        if client.connected:
            reply.ok()
        else:
            client.connect_waiters.append(lambda: reply.ok())
            client.start(self.proc.world.clock.now)

    def _close(self, effect: fx.CloseSession) -> None:
        reply = self._reply(ev.SessionClosed, effect.request)
        self.proc.client.close(lambda: reply.ok())

    def _ensure_path(self, effect: fx.EnsurePath) -> None:
        reply = self._reply(ev.PathEnsured, effect.request)
        zk = self.proc.world.zk

        def ensure(_: Session) -> Callable[[], object]:
            zk.ensure_path(effect.path)
            return lambda: reply.ok()

        self.proc.client.call(ensure, lambda why: reply.failed(_describe(why)))

    def _read(self, effect: fx.ReadNode) -> None:
        reply = self._reply(ev.NodeRead, effect.request)
        zk, path = self.proc.world.zk, effect.path
        asked = self.proc.now()

        def read(session: Session) -> Callable[[], object]:
            node = zk.exists(session, path, watch=True)
            if node is None:
                return lambda: reply.ok(
                    exists=False, answered_at=self.proc.now(), asked_at=asked, path=path
                )
            return lambda: reply.ok(
                exists=True,
                owner=node.owner,
                token=node.czxid,
                answered_at=self.proc.now(),
                asked_at=asked,
                path=path,
            )

        self.proc.client.call(read, lambda why: reply.failed(_describe(why), path=path))

    def _read_queue(self, effect: fx.ReadQueue) -> None:
        reply = self._reply(ev.QueueRead, effect.request)
        zk = self.proc.world.zk
        asked = self.proc.now()

        def listed(session: Session) -> Callable[[], object]:
            names = zk.children(effect.path, session if effect.watch else None)
            if names is None:
                return lambda: reply.ok(exists=False, answered_at=self.proc.now(), asked_at=asked)
            found = tuple(names)
            return lambda: reply.ok(names=found, answered_at=self.proc.now(), asked_at=asked)

        self.proc.client.call(listed, lambda why: reply.failed(_describe(why)))

    def _mark(self, effect: fx.MarkNode) -> None:
        reply = self._reply(ev.NodeMarked, effect.request)
        zk = self.proc.world.zk

        def mark(_: Session) -> Callable[[], object]:
            if zk.set_data(effect.path) is None:
                return lambda: reply.failed(_describe("NoNodeError"))
            return lambda: reply.ok()

        self.proc.client.call(mark, lambda why: reply.failed(_describe(why)))

    def _release(self, effect: fx.ReleaseNode) -> None:
        reply = self._reply(ev.NodeReleased, effect.request)
        zk = self.proc.world.zk

        def release(_: Session) -> Callable[[], object]:
            outcome = zk.delete_if(effect.path, effect.token)
            if outcome == "ok":
                return lambda: reply.ok()
            reason = "already gone" if outcome == "already gone" else "node is another term's"
            return lambda: reply.ok(reason=reason)

        self.proc.client.call(release, lambda why: reply.failed(_describe(why)))

    def _publish(self, effect: fx.PublishMember) -> None:
        reply = self._reply(ev.MemberPublished, effect.request)
        zk = self.proc.world.zk

        def publish(session: Session) -> Callable[[], object]:
            zk.publish_member(session, effect.path, (effect.state, effect.token))
            return lambda: reply.ok(session_id=session.id)

        self.proc.client.call(publish, lambda why: reply.failed(_describe(why)))

    def _read_control(self, effect: fx.ReadControl) -> None:
        reply = self._reply(ev.ControlRead, effect.request)
        zk = self.proc.world.zk

        def read_control(session: Session) -> Callable[[], object]:
            pause = zk.read_control(session, effect.pause_path)
            handover = zk.read_control(session, effect.handover_path)
            fields: dict[str, object] = {"paused": pause is not None}
            if pause is not None:
                fields.update(paused_by="sim-operator", pause_reason=str(pause))
            if isinstance(handover, dict):
                fields.update(handover_by="sim-operator", **handover)
            return lambda: reply.ok(**fields)

        self.proc.client.call(read_control, lambda why: reply.failed(_describe(why)))

    def _read_members(self, effect: fx.ReadMembers) -> None:
        reply = self._reply(ev.MembersRead, effect.request)
        zk = self.proc.world.zk

        def read_members(session: Session) -> Callable[[], object]:
            names = tuple(zk.members_of(session, effect.path))
            priorities = tuple(self.proc.world.priority_of(name) for name in names)
            return lambda: reply.ok(replicas=names, priorities=priorities)

        self.proc.client.call(read_members, lambda why: reply.failed(_describe(why)))

    def _create(self, effect: fx.CreateNode) -> None:
        reply = self._reply(ev.NodeCreated, effect.request)
        zk = self.proc.world.zk
        asked = self.proc.now()

        def create(session: Session) -> Callable[[], object]:
            result = zk.create_sequential(session, effect.path)
            if isinstance(result, tuple):
                path, czxid = result
                return lambda: reply.ok(
                    token=czxid, path=path, answered_at=self.proc.now(), asked_at=asked
                )
            return lambda: reply.failed(_describe(result), failure=ev.CreateFailure.NO_PARENT)

        self.proc.client.call(
            create,
            lambda why: reply.failed(_describe(why), failure=ev.CreateFailure.CONNECTION),
        )


class FileDirHandler(EffectHandler):
    """CheckFileDir, WriteLeaderFile, PruneFiles on the shared simulated file-dir, one at
    a time in order (the real adapter's single worker thread)."""

    def __init__(self, run: Run) -> None:
        self.proc = run
        cfg = run.world.config
        self.deadline = max(1.0, min(cfg.leader_timeout, 10.0))
        self.busy_until = 0.0

    RUNS: ClassVar[Mapping[type[fx.Effect], str]] = {
        fx.CheckFileDir: "_check",
        fx.WriteLeaderFile: "_write",
        fx.PruneFiles: "_prune",
    }

    def _check(self, effect: fx.CheckFileDir) -> None:
        run = self.proc
        reply = Reply(run.deliver, ev.FileDirChecked, effect.request, run.timers, self.deadline)
        self._submit(lambda: reply.ok())

    def _write(self, effect: fx.WriteLeaderFile) -> None:
        run = self.proc
        world, files = run.world, run.world.files
        reply = Reply(run.deliver, ev.FileWritten, effect.request, run.timers, self.deadline)
        replica = run.replica.id

        def write() -> None:
            name, newer, why = files.write(
                world.clock.now, replica, effect.token, effect.seq, run.client.connected
            )
            if why:
                reply.failed(why, newer_token=newer)
            else:
                reply.ok(name=name, published_at=WALL_ZERO + world.clock.now)

        self._submit(write)

    def _prune(self, effect: fx.PruneFiles) -> None:
        run = self.proc
        files = run.world.files
        reply = Reply(run.deliver, ev.FilesPruned, effect.request, run.timers, self.deadline)
        self._submit(lambda: reply.ok(removed=files.prune(effect.keep, effect.token)))

    def _submit(self, work: Callable[[], object]) -> None:
        clock = self.proc.world.clock
        rng = self.proc.rng
        slow = rng.random() < 0.003  # a disk stall now and then: past the deadline
        took = rng.uniform(1.0, 2.0) * self.deadline if slow else rng.uniform(0.0005, 0.004)
        self.busy_until = max(self.busy_until, clock.now) + took
        clock.at(self.busy_until, lambda: self.proc.when_running(work))


# The simulator's handlers, as the daemon's (`election.runtime.daemon.EFFECT_HANDLERS`):
# every effect type is simulated (tests/unit/test_effect_handlers.py).
SIM_EFFECT_HANDLERS = (ZooKeeperHandler, FileDirHandler, JobHandler)
