"""The simulation: replicas, the server, file-dir, the clock and the seeded faults."""

from __future__ import annotations

import enum
import functools
import random
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from election.core import events as ev
from election.core.record import Record
from election.record_codec import SNAPSHOT_EVERY
from election_sim.clock import Clock
from election_sim.filedir import SimFileDir
from election_sim.jobs import Jobs
from election_sim.replica import Replica
from election_sim.zookeeper import SimZooKeeper
from journal import journal_segments


class Fault(enum.StrEnum):
    CRASH = "crash"  # the process dies; its session expires later; it restarts later
    PAUSE = "pause"  # the process freezes (GC, SIGSTOP, a VM migration), then resumes
    PARTITION = "partition"  # replica <-> ZooKeeper traffic is dropped, then healed
    OUTAGE = "outage"  # ZooKeeper is down: every connection drops; it comes back
    HANDOVER = "handover"  # an operator asks the leader to hand over (maybe to one named)
    OPERATOR_PAUSE = "operator-pause"  # an operator pauses the cluster, then resumes it


ALL_FAULTS = frozenset(Fault)


@attrs.frozen(kw_only=True)
class SimConfig:
    """One simulation. Durations are simulated seconds."""

    seed: int = 0
    replicas: int = 3
    duration: float = 20.0
    faults: frozenset[Fault] = ALL_FAULTS
    fault_rate: float = 0.15  # faults per simulated second, all kinds together
    quiet_end: float = 0.0  # no fault starts in the last `quiet_end` seconds
    session_timeout: float = 2.0
    leader_timeout: float = 0.5
    attempter_timeout: float = 2.0
    storage_capacity: int = 3
    stop_deadline: float = 1.0
    election_path: str = "/election/leader"
    tick: float = 0.05  # how often the server and clients look at the time
    stop_at_end: bool = True  # SIGTERM every replica at `duration`, let them stop
    priorities: tuple[int, ...] = ()  # replica i's --priority (default 1)
    snapshot_every: int = SNAPSHOT_EVERY  # a snapshot of the state every N records, as the daemon
    journal_max_bytes: int | None = None  # rotate journals as the daemon does (None: never)
    jobs: bool = False  # every replica runs a job (--exec) through its keeper (jobs.py)
    exec_grace: float = 0.5  # within a third of the session timeout


@attrs.frozen
class FaultRecord:
    """One injected fault: what, whom, from when until when (simulated seconds)."""

    kind: Fault
    target: str  # a replica id, or "zookeeper"
    start: float
    end: float


@attrs.frozen
class SimResult:
    config: SimConfig
    journals: tuple[Path, ...]
    faults: tuple[FaultRecord, ...]
    written: tuple[object, ...]  # filedir.Written, in time order
    refused: tuple[object, ...]  # filedir.Refused
    records: int  # journal records written, all replicas
    job_starts: int = 0
    job_problems: tuple[str, ...] = ()  # the job's promise broken, seen from the jobs
    queue_problems: tuple[str, ...] = ()  # the server's ground truth: two nodes of a session


class Simulation:
    def __init__(self, config: SimConfig, journals: Path) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.clock = Clock()
        self.zk = SimZooKeeper()
        self.files = SimFileDir()
        self.faults: list[FaultRecord] = []
        self.records = 0  # journal records written, all replicas
        self.watchers: list[Callable[[Replica, Record], None]] = []
        self.jobs = Jobs(self)
        journals.mkdir(parents=True, exist_ok=True)
        self.replicas = [
            Replica(self, f"r{i}", journals / f"r{i}.jsonl") for i in range(config.replicas)
        ]

    # --- the run ------------------------------------------------------------------------

    def run(self) -> SimResult:
        cfg = self.config
        for replica in self.replicas:
            self.clock.at(self.rng.uniform(0.0, 0.3), replica.start)
        self.clock.at(cfg.tick, self._tick)
        self._plan_faults()
        end = cfg.duration
        if cfg.stop_at_end:
            self.clock.at(end, self._stop_all)
            end += cfg.stop_deadline + cfg.session_timeout
        self.clock.run_until(end)
        self.finish()
        return SimResult(
            config=cfg,
            journals=tuple(f for r in self.replicas if r.runs for f in journal_segments(r.journal)),
            faults=tuple(self.faults),
            written=tuple(self.files.written),
            refused=tuple(self.files.refused),
            records=self.records,
            job_starts=self.jobs.starts,
            job_problems=tuple(self.jobs.problems),
            queue_problems=tuple(self.zk.problems),
        )

    def observe(self, replica: Replica, record: Record) -> None:
        """Every loop's observer: count the record, show it to `watchers` (tests)."""
        self.records += 1
        for watcher in self.watchers:
            watcher(replica, record)

    def finish(self) -> None:
        """The end of the simulation: every process still running is left as it is."""
        for replica in self.replicas:
            if replica.run is not None and replica.run.alive:
                replica.run.journal.close()

    def priority_of(self, replica_id: str) -> int:
        index = int(replica_id.removeprefix("r"))
        priorities = self.config.priorities
        return priorities[index] if index < len(priorities) else 1

    def _tick(self) -> None:
        now = self.clock.now
        self.zk.tick(now)
        for replica in self.replicas:
            if replica.run is not None:
                replica.run.client.tick(now)
        self.clock.at(now + self.config.tick, self._tick)

    def _stop_all(self) -> None:
        for replica in self.replicas:
            if replica.run is not None and replica.run.alive:
                replica.run.deliver(ev.StopRequested(signal="SIGTERM"))

    # --- faults -------------------------------------------------------------------------

    def _plan_faults(self) -> None:
        cfg = self.config
        kinds = sorted(cfg.faults)
        if not kinds or cfg.fault_rate <= 0:
            return
        t = 0.0
        last = cfg.duration - cfg.quiet_end
        while True:
            t += self.rng.expovariate(cfg.fault_rate)
            if t >= last:
                return
            kind = self.rng.choice(kinds)
            length = self.rng.uniform(0.2, 2.5) * cfg.session_timeout
            target = self.rng.choice(self.replicas)
            self.clock.at(t, functools.partial(self.inject, kind, target, length))

    def inject(self, kind: Fault, replica: Replica | None, length: float) -> None:
        """Start fault `kind` now for `length` seconds (`replica` unused for an outage)."""
        now = self.clock.now
        run = replica.run if replica is not None else None
        if kind is Fault.OUTAGE:
            if not self.zk.up:
                return
            self.zk.outage()
            self.clock.later(length, lambda: self.zk.recover(self.clock.now))
            self.faults.append(FaultRecord(kind, "zookeeper", now, now + length))
            return
        if kind in (Fault.HANDOVER, Fault.OPERATOR_PAUSE):
            self._operate(kind, length)
            return
        assert replica is not None
        if kind is Fault.PARTITION:
            if replica.partitioned:
                return
            replica.partitioned = True
            self.clock.later(length, lambda: setattr(replica, "partitioned", False))
        elif run is None or not run.alive:
            return
        elif kind is Fault.CRASH:
            torn = b'{"seq":' if self.rng.random() < 0.3 else b""
            replica.run = None
            run.end(torn)
            self.clock.later(length, replica.start)
        elif kind is Fault.PAUSE:
            if run.paused:
                return
            run.pause()
            self.clock.later(length, run.resume)
        self.faults.append(FaultRecord(kind, replica.id, now, now + length))

    def _operate(self, kind: Fault, length: float) -> None:
        """What `election handover` and `election pause` do to the control nodes (the
        request is withdrawn, the pause lifted, after `length`)."""
        now = self.clock.now
        parent = self.config.election_path.rsplit("/", 1)[0]
        if kind is Fault.OPERATOR_PAUSE:
            path = f"{parent}/control/pause"
            if path in self.zk.control:
                return
            self.zk.set_control(path, "maintenance")
            self.clock.later(length, lambda: self.zk.clear_control(path))
            self.faults.append(FaultRecord(kind, "cluster", now, now + length))
            return
        path = f"{parent}/control/handover"
        head = self.zk.head(self.config.election_path)  # the lowest queue node leads
        node = None if head is None else head[1]
        leader = next(
            (
                r
                for r in self.replicas
                if node is not None
                and r.run is not None
                and r.run.client.session is not None
                and r.run.client.session.id == node.owner
            ),
            None,
        )
        if node is None or leader is None or path in self.zk.control:
            return  # nothing to hand over (or a request stands already)
        others = [r.id for r in self.replicas if r is not leader and self.priority_of(r.id) > 0]
        to = self.rng.choice([None, *others])
        self.zk.set_control(
            path,
            {
                "handover": f"h{len(self.faults)}",
                "handover_leader": leader.id,
                "handover_token": node.czxid,
                "handover_to": to,
            },
        )
        self.clock.later(length, lambda: self.zk.clear_control(path))
        self.faults.append(FaultRecord(kind, leader.id, now, now + length))


def simulate(config: SimConfig, journals: Path | str) -> SimResult:
    """Run one simulation, writing one journal per replica into `journals`."""
    return Simulation(config, Path(journals)).run()


def parse_faults(names: Iterable[str]) -> frozenset[Fault]:
    """`crash,pause` -> {Fault.CRASH, Fault.PAUSE}; ValueError names an unknown one."""
    faults = set()
    for name in names:
        name = name.strip()
        if not name or name == "none":
            continue
        try:
            faults.add(Fault(name))
        except ValueError:
            allowed = ", ".join(f.value for f in Fault)
            raise ValueError(f"unknown fault {name!r} (known: {allowed}, none)") from None
    return frozenset(faults)
