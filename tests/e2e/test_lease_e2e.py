"""The job never outlives its term, checked from the job's side, across machines.

Two replicas run as on two machines: each has its own TMPDIR (so the machine-wide job
lock cannot serialise their jobs) and its own TCP proxy to ZooKeeper (so a partition can
cut one off). The job is the usual shape, a shell running a worker (`sh -c 'worker &
wait'`) whose worker has a child of its own; at each start the worker looks for any live
process of another term's job (`election_testkit/jobs/family_job.py`). Across SIGKILL of the
leader's daemon, SIGSTOP of it past the session, and a blackholed leader whose job
ignores SIGTERM, no start may find one.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from election.keeper.records import record_path
from election_testkit.family import FAMILY_JOB, FamilyLog
from election_testkit.proxy import TcpProxy
from election_testkit.replica import Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.e2e.conftest import MakeReplicaSet

pytestmark = pytest.mark.e2e

SESSION = 2.0  # seconds; the grace fits a third of it
GRACE = 0.5
REPLAY = str(Path(sys.executable).with_name("election-replay"))


class Machines:
    """Two replicas, each as on a machine of its own, running a job with a family."""

    def __init__(
        self,
        replica_set: MakeReplicaSet,
        zk: ZooKeeperServer,
        path: str,
        tmp: Path,
        ignore_term: bool = False,
        session: float = SESSION,
    ) -> None:
        self.log = FamilyLog(tmp / "family.log")
        self.proxies = [TcpProxy("127.0.0.1", zk.port) for _ in range(2)]
        worker = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAMILY_JOB))}"
        self.session = session
        self.replicas: ReplicaSet = replica_set(
            "unused",
            path,
            exec=f"sh -c {shlex.quote(worker + ' & wait')}",
            exec_grace=f"{GRACE}s",
            session_timeout=f"{session}s",
        )
        self.replicas.env.update(
            FAMILY_LOG=str(self.log.path),
            FAMILY_MARK=str(tmp),
            FAMILY_IGNORE_TERM="1" if ignore_term else "0",
        )
        for i, proxy in enumerate(self.proxies):
            replica = self.replicas.add(f"m{i}", zk_servers=proxy.connect_string)
            machine_tmp = tmp / f"machine{i}"
            machine_tmp.mkdir()
            replica.env["TMPDIR"] = str(machine_tmp)
            replica.start()

    def leading(
        self, after_token: int = 0, timeout: float = 20.0, besides: Replica | None = None
    ) -> tuple[Replica, int]:
        """The leader once its job of a term newer than `after_token` has started (a
        frozen replica, `besides`, may still claim leadership in its journal)."""

        def started() -> tuple[Replica, int] | None:
            tokens = [token for token, _, _, _ in self.log.starts() if token > after_token]
            leaders = [r for r in self.replicas.leaders() if r is not besides]
            if not tokens or len(leaders) != 1:
                return None
            record = leaders[0].last_record()
            if record is None or record.get("token") != max(tokens):
                return None
            return leaders[0], max(tokens)

        return wait_until(started, timeout, self.describe)

    def proxy_of(self, replica: Replica) -> TcpProxy:
        return self.proxies[self.replicas.replicas.index(replica)]

    def describe(self) -> str:
        return f"family: {self.log.lines()[-12:]}\n{self.replicas.describe()}"

    def check_promise(self) -> None:
        assert self.log.starts(), self.describe()
        assert not self.log.others_at_start(), self.log.others_at_start()

    def close(self) -> None:
        for replica in self.replicas:
            if replica.running:
                replica.send_signal(signal.SIGCONT)
        self.replicas.close()
        for proxy in self.proxies:
            proxy.close()


@pytest.fixture
def machines(
    replica_set: MakeReplicaSet, zk_server: ZooKeeperServer, zk_path: str, tmp_path: Path
) -> Iterator[Machines]:
    m = Machines(replica_set, zk_server, zk_path, tmp_path)
    yield m
    m.close()


def test_a_sigkilled_leader_daemon_leaves_no_job_into_the_next_term(machines: Machines) -> None:
    leader, first = machines.leading()
    old = {pid for pid, token in machines.log.pids().items() if token == first}
    leader.kill()
    machines.leading(after_token=first)
    machines.check_promise()
    # The old job's whole family heard SIGTERM (and could clean up) before it went.
    assert old <= machines.log.termed(), machines.describe()


def test_a_leader_daemon_frozen_past_its_session_leaves_no_job_into_the_next_term(
    machines: Machines,
) -> None:
    leader, first = machines.leading()
    leader.send_signal(signal.SIGSTOP)
    frozen_at = time.time()
    try:
        _, second = machines.leading(after_token=first, besides=leader)
        # Another term's job runs while the old daemon is still frozen: its keeper
        # stopped the old job when the lease ran out, not when the daemon woke up.
        assert leader.running
        # Frozen is not dead: its keeper released nothing early; the session expired.
        started = min(wall for t, _, wall, _ in machines.log.starts() if t == second)
        assert started - frozen_at >= SESSION * 2 / 3, started - frozen_at
        assert not record_path(leader.journal).exists()
    finally:
        leader.send_signal(signal.SIGCONT)
    machines.check_promise()
    # Woken up, the old daemon journals what its keeper did, and the replay shows it
    # on the job's row.
    leader.wait_for(
        lambda r: r["event"]["type"] == "ChildLeaseExpired", 10, "ChildLeaseExpired", frozen_at
    )
    machines.replicas.close()
    done = subprocess.run(
        [REPLAY, "--json", *(str(r.journal) for r in machines.replicas)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    jobs = json.loads(done.stdout)["jobs"]
    old_job = next(j for j in jobs if j["token"] == first)
    assert old_job["stopped_by"].startswith("lease"), old_job
    assert old_job["end"] is not None and old_job["end"] <= frozen_at + SESSION + 1.0


def test_a_blackholed_leader_whose_job_ignores_sigterm_is_killed_in_time(
    replica_set: MakeReplicaSet, zk_server: ZooKeeperServer, zk_path: str, tmp_path: Path
) -> None:
    machines = Machines(replica_set, zk_server, zk_path, tmp_path, ignore_term=True)
    try:
        leader, first = machines.leading()
        machines.proxy_of(leader).blackhole()
        machines.leading(after_token=first)
        machines.check_promise()
    finally:
        machines.close()
