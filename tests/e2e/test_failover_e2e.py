"""Failover against a real ZooKeeper and real jobs (issue #12): a replica waits out a
ZooKeeper outage in Failover instead of bouncing through Init on every back-off step,
and a job that fails at once (`/bin/false`) makes its replicas back off rather than
hand leadership around several times a second."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from election_testkit.replica import Record, Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.e2e.conftest import MakeReplicaSet

pytestmark = [pytest.mark.e2e, pytest.mark.zk]

SESSION_TIMEOUT = 2.0
OUTAGE = 10.0
START_BOUND = 20.0
REPLAY = str(Path(sys.executable).with_name("election-replay"))


def _replays_cleanly(replicas: ReplicaSet) -> None:
    """Today's reducer folds the journals to the states they recorded, no invariant broken."""
    replicas.close()
    done = subprocess.run(
        [REPLAY, *(str(r.journal) for r in replicas)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def _changes(replica: Replica, start: float, end: float) -> list[Record]:
    """The records of `replica` that changed its state, with start <= wall < end."""
    return [r for r in replica.records() if r.get("previous") and start <= r["wall"] < end]


@pytest.mark.long
def test_a_zookeeper_outage_is_waited_out_in_failover(
    zk_fresh: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    replicas = replica_set(zk_fresh.connect_string, zk_path, session_timeout="2s")
    replicas.start(3)
    replicas.wait_for_leader(START_BOUND, settle=0.5)

    killed = time.time()
    zk_fresh.kill()
    entered = replicas.wait_all("Failover", SESSION_TIMEOUT + 3.0, after_wall=killed)
    time.sleep(max(0.0, killed + OUTAGE - time.time()))
    restarted = time.time()
    zk_fresh.restart()
    leader = replicas.wait_for_leader(SESSION_TIMEOUT + 10.0)
    back = time.time()

    for r in replicas:
        # Once in Failover, every record says Failover until ZooKeeper is back: no
        # bounce through Init per back-off step (tick after tick, Connect after Connect).
        during = [
            rec
            for rec in r.records()
            if entered[r.id]["seq"] <= rec["seq"] and rec["wall"] < restarted
        ]
        others = [rec for rec in during if rec["state"] != "Failover"]
        assert not others, (r.id, others[:3], replicas.describe())
        ticks = [rec for rec in during if rec["event"]["type"] == "TimerFired"]
        assert len(ticks) >= 3, (r.id, "Failover kept retrying", len(ticks))
        assert any(e["type"] == "Connect" for rec in ticks for e in rec["effects"])
        # At most a couple of state changes during the outage: into Failover (from
        # Leader or Attempter), nothing else.
        changes = _changes(r, killed, restarted)
        assert 1 <= len(changes) <= 2, (r.id, [(c["previous"], c["state"]) for c in changes])
    print(
        f"\noutage {restarted - killed:.1f}s; state changes during it: "
        f"{ {r.id: len(_changes(r, killed, restarted)) for r in replicas} }; "
        f"leader {leader.id} {back - restarted:.1f}s after the restart"
    )
    _replays_cleanly(replicas)


def _terms(replicas: list[Replica], start: float, end: float) -> list[Record]:
    """Records entering Leader (a term's start) with start <= wall < end, all replicas."""
    return [rec for r in replicas for rec in r.entered("Leader") if start <= rec["wall"] < end]


@pytest.mark.long
def test_a_crash_looping_job_backs_off_instead_of_flapping_leadership(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    replicas = replica_set(
        zk_server.connect_string,
        zk_path,
        exec="/bin/false",
        exec_grace="0.5s",
        session_timeout="2s",
    )
    pair = replicas.start(2)
    first = wait_until(lambda: _terms(pair, 0.0, float("inf")), START_BOUND, replicas.describe)
    t0 = min(rec["wall"] for rec in first)
    time.sleep(max(0.0, t0 + 24.0 - time.time()))
    early = _terms(pair, t0, t0 + 12.0)
    late = _terms(pair, t0 + 12.0, t0 + 24.0)
    print(f"\nterms with /bin/false: {len(early)} in the first 12 s, {len(late)} in the next 12 s")
    # Per replica about 0, 0.5, 1.5, 3.5, 7.5 s (then 15.5, 31.5): at most one a second.
    assert len(early) <= 12, (len(early), replicas.describe())
    assert len(late) < len(early), (len(early), len(late))
    # Measured 10 then 2: per replica one term (at about 15.5 s) in the second window.
    assert len(late) <= 4, (len(late), replicas.describe())
    # Each term ended because its job failed, and said how long it waits.
    ends = [
        rec
        for r in pair
        for rec in r.records()
        if rec.get("previous") == "Leader" and rec["state"] == "Failover"
    ]
    assert ends and all("competing again in" in rec["cause"] for rec in ends), ends[:3]
    assert all(r.running for r in pair), replicas.describe()
    # The log warns with the exit code and the wait.
    logs = "\n".join(r.log_path.read_text(errors="replace") for r in pair)
    warned = [
        line
        for line in logs.splitlines()
        if "WARNING" in line and "exited with code 1" in line and "competing again in" in line
    ]
    assert warned, logs[-3000:]
    _replays_cleanly(replicas)
