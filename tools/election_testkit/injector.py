"""Fault injection for the chaos soak and the fault benchmark: one fault at a time on a
`Cluster` of proxied replicas and a `ZooKeeperEnsemble`, each injected, held, undone, and
followed by a bounded wait for exactly one leader writing again."""

from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from election_testkit.cluster import RECOVERY_BOUND, SESSION_TIMEOUT, Cluster
from election_testkit.replica import Replica
from election_testkit.waiting import WaitTimeout
from election_testkit.zookeeper import ZooKeeperEnsemble

KINDS = (
    "partition",
    "sigstop",
    "sigkill",
    "sigterm",
    "zk-leader-kill",
    "zk-quorum-loss",
    "filedir-delete",
    "journal-full",
)
ZK_EXTRA = 15.0  # an ensemble re-electing its own leader adds its election time


@dataclass
class Fault:
    kind: str
    target: str
    start: float
    end: float = 0.0  # the fault was undone (healed, resumed, restarted)
    recovered: float | None = None  # one leader writing again
    note: str = ""
    acted: float | None = None  # when the fault struck (a SIGKILL: just before it was sent)
    role: str = ""  # what the target was then: "leader", "attempter", ...

    def as_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class Soak:
    cluster: Cluster
    ensemble: ZooKeeperEnsemble
    rng: random.Random
    log: Callable[[str], None]
    faults: list[Fault] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _struck: tuple[float, str] | None = None  # (when, role) of the fault being injected
    leader_bias: float | None = None  # set: the chance a replica fault hits the leader

    # --- picking targets
    def leader(self) -> Replica | None:
        leaders = self.cluster.replicas.leaders()
        return leaders[0] if len(leaders) == 1 else None

    def some_replica(self, prefer_leader: float = 0.6) -> Replica:
        leader = self.leader()
        bias = prefer_leader if self.leader_bias is None else self.leader_bias
        if leader is not None and self.rng.random() < bias:
            return leader
        return self.rng.choice([r for r in self.cluster if r.running])

    def role(self, r: Replica) -> str:
        return "leader" if r is self.leader() else str(r.state).lower()

    # --- the faults: each injects, holds and undoes; returns (target, note)
    def partition(self) -> tuple[str, str]:
        r = self.some_replica()
        role, hold = self.role(r), self.rng.uniform(1.0, 4.0)
        links = self.cluster.links[r.id]
        links.blackhole()
        time.sleep(hold)
        links.heal()
        return r.id, f"{role} {hold:.1f}s"

    def sigstop(self) -> tuple[str, str]:
        r = self.some_replica(prefer_leader=0.8)
        assert r.pid is not None
        role = self.role(r)
        hold = self.rng.uniform(SESSION_TIMEOUT + 0.5, SESSION_TIMEOUT + 2.5)
        os.kill(r.pid, signal.SIGSTOP)
        try:
            time.sleep(hold)
        finally:
            os.kill(r.pid, signal.SIGCONT)
        return r.id, f"{role} {hold:.1f}s"

    def sigkill(self) -> tuple[str, str]:
        r = self.some_replica()
        role = self.role(r)
        r.kill()
        assert r.killed_wall is not None
        self._struck = (r.killed_wall, role)
        r.wait(10)
        time.sleep(self.rng.uniform(0.5, 2.0))
        r.start()
        return r.id, role

    def sigterm(self) -> tuple[str, str]:
        r = self.some_replica()
        was = self.role(r)
        r.terminate()
        code = r.wait(15)
        if code != 0:
            self.problems.append(f"{r.id}: SIGTERM in {was} exited {code}, not 0")
        time.sleep(self.rng.uniform(0.2, 1.0))
        r.start()
        return r.id, f"in {was}, exit {code}"

    def zk_leader_kill(self) -> tuple[str, str]:
        i = self.ensemble.leader_index()
        if i is None:
            return "none", "no ZooKeeper leader to kill"
        self.ensemble.kill_node(i)
        time.sleep(self.rng.uniform(1.0, 4.0))
        self.ensemble.start_node(i, wait=False)
        return f"zk{i}", ""

    def zk_quorum_loss(self) -> tuple[str, str]:
        victims = self.rng.sample(range(self.ensemble.size), 2)
        for i in victims:
            self.ensemble.kill_node(i)
        time.sleep(self.rng.uniform(1.0, 4.0))
        for i in victims:
            self.ensemble.start_node(i, wait=False)
        return ",".join(f"zk{i}" for i in victims), ""

    def filedir_delete(self) -> tuple[str, str]:
        shutil.rmtree(self.cluster.file_dir, ignore_errors=True)
        return "file-dir", ""

    def journal_full(self) -> tuple[str, str]:
        r = self.some_replica()
        assert r.pid is not None
        role = self.role(r)
        size = r.journal.stat().st_size
        resource.prlimit(r.pid, resource.RLIMIT_FSIZE, (size + 64, size + 64))
        code = r.wait(15)
        if code != 3:
            self.problems.append(f"{r.id}: journal write failure exited {code}, not 3")
        time.sleep(self.rng.uniform(0.2, 1.0))
        r.start()
        return r.id, f"{role}, exit {code}"

    # --- the schedule
    def inject(self, kind: str) -> Fault:
        fault = Fault(kind=kind, target="", start=time.time())
        action = getattr(self, kind.replace("-", "_"))
        fault.target, fault.note = action()
        fault.end = time.time()
        if self._struck is not None:
            (fault.acted, fault.role), self._struck = self._struck, None
        bound = RECOVERY_BOUND + (ZK_EXTRA if kind.startswith("zk-") else 0.0)
        try:
            if kind.startswith("zk-"):
                self.ensemble.wait_for_quorum(ZK_EXTRA + 15.0)
            _, wrote = self.cluster.wait_one_leader_writing(bound, fault.end)
            fault.recovered = wrote
        except (WaitTimeout, Exception) as exc:  # reported; the soak goes on
            self.problems.append(
                f"{kind} on {fault.target}: no single leader writing again "
                f"within {bound:.0f}s: {str(exc).splitlines()[0]}"
            )
        self.faults.append(fault)
        took = "-" if fault.recovered is None else f"{fault.recovered - fault.end:.2f}s"
        self.log(f"{kind:15} {fault.target:10} {fault.note:22} one leader writing after {took}")
        return fault
