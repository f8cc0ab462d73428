"""A crashed daemon hands over at once: its keeper stops the job, then closes its session.

Two replicas, each as on a machine of its own (own TMPDIR, own TCP proxy to ZooKeeper),
with a session timeout long enough (6 s) that a take-over waiting for the session is told
apart from one that did not. The job is the usual family (a shell, a worker, the
worker's child), judged from the job's side: at each start, no process of another term
is alive. A frozen daemon is not dead, so nothing is released early for it (that test is
in test_lease_e2e.py, beside the lease's).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from election.keeper.records import record_path
from election_testkit.replica import Replica
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.e2e.conftest import MakeReplicaSet
from tests.e2e.test_lease_e2e import Machines

pytestmark = pytest.mark.e2e

SESSION = 6.0
SOON = SESSION / 2  # a take-over that waited for the session takes 4 to 6 s at the least


@pytest.fixture
def machines(
    replica_set: MakeReplicaSet, zk_server: ZooKeeperServer, zk_path: str, tmp_path: Path
) -> Iterator[Machines]:
    m = Machines(replica_set, zk_server, zk_path, tmp_path, session=SESSION)
    yield m
    m.close()


def keeper_records(replica: Replica) -> list[dict[str, Any]]:
    path = record_path(replica.journal)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def recorded(replica: Replica, kind: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next((r for r in keeper_records(replica) if r["type"] == kind), None)

    return wait_until(found, 10, lambda: f"no {kind!r} in {keeper_records(replica)}")


def test_a_sigkilled_leader_daemon_hands_over_at_once_its_job_stopped_first(
    machines: Machines,
) -> None:
    leader, first = machines.leading()
    old = {pid for pid, token in machines.log.pids().items() if token == first}
    leader.kill()  # not collected at once: its keeper reads how it died
    killed = leader.killed_wall
    assert killed is not None
    successor, token = machines.leading(after_token=first, timeout=SESSION + 5)
    started = max(wall for t, _, wall, _ in machines.log.starts() if t == token)
    assert started - killed < SOON, f"the next job started {started - killed:.3f}s after"
    machines.check_promise()
    assert old <= machines.log.termed(), machines.describe()  # SIGTERM first
    died = recorded(leader, "died")
    assert (died["code"], died["signal"], died["said"]) == (137, "SIGKILL", False), died
    assert died["job"]["token"] == first and died["daemon"] == leader.pid
    gone = recorded(leader, "job-gone")
    closed = recorded(leader, "session-closed")
    assert closed["outcome"] == "closed", closed
    # The session was closed only once the job's group was gone, and the next term
    # began only then.
    entered = successor.entered("Leader", killed)[0]
    assert killed <= died["wall"] <= gone["wall"] <= closed["wall"] <= entered["wall"]


def test_a_sigkilled_leader_without_a_job_hands_over_at_once(
    replica_set: MakeReplicaSet, zk_server: ZooKeeperServer, zk_path: str
) -> None:
    replicas = replica_set(
        zk_server.connect_string, zk_path, session_timeout=f"{SESSION}s", leader_timeout="1s"
    )
    replicas.start(2)
    leader = replicas.wait_for_leader(15)
    leader.kill()
    killed = leader.killed_wall
    assert killed is not None
    other = next(r for r in replicas if r is not leader)
    entered = other.wait_for(lambda r: r["state"] == "Leader", SESSION + 5, "Leader", killed)
    assert entered["wall"] - killed < SOON, entered["wall"] - killed
    assert recorded(leader, "session-closed")["outcome"] == "closed"


def test_a_sigkilled_keeper_takes_the_job_with_it_and_the_daemon_carries_on(
    machines: Machines,
) -> None:
    leader, first = machines.leading()
    keeper = leader.keeper_pid()
    assert keeper is not None, machines.describe()
    os.kill(keeper, signal.SIGKILL)
    killed = time.time()
    # The daemon saw its keeper die, killed what was left of the job's group (no job
    # without its supervisor) and heard the job exit; a new keeper took over.
    exited = leader.wait_for(
        lambda r: r["event"]["type"] == "ChildExited", 10, "ChildExited", killed
    )
    assert exited["event"]["signal"] == "SIGKILL", exited
    wait_until(lambda: not [p for p, t in machines.log.pids().items() if t == first and
                            p in machines.log.alive()], 5, machines.describe)  # fmt: skip
    wait_until(lambda: leader.keeper_pid() not in (None, keeper), 5, "no new keeper")
    assert leader.running
    # The term ended with its job (--exec-exit release); a leader runs the job again.
    machines.leading(after_token=first, timeout=SESSION + 10)
    machines.check_promise()


def test_a_sigkilled_non_leader_leaves_status_at_once(
    machines: Machines, zk_server: ZooKeeperServer
) -> None:
    leader, _ = machines.leading()
    other = next(r for r in machines.replicas if r is not leader)
    rs = machines.replicas

    def members() -> list[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("ELECTION_")}
        done = subprocess.run(
            [sys.executable, "-m", "election", "status", "--json",
             "--zk-servers", zk_server.connect_string, "--election-path", rs.election_path],
            capture_output=True, text=True, timeout=30, env=clean,
        )  # fmt: skip
        assert done.returncode in (0, 1), done.stderr
        return sorted(m["replica"] for m in json.loads(done.stdout)["members"])

    wait_until(lambda: members() == sorted(r.id for r in rs), 10, "both members")
    other.kill()
    killed = other.killed_wall
    assert killed is not None
    wait_until(lambda: members() == [leader.id], SESSION + 5, "the dead member still listed")
    assert time.time() - killed < SOON
    assert recorded(other, "session-closed")["outcome"] == "closed"


def _replay(*paths: Path) -> dict[str, Any]:
    replay = str(Path(sys.executable).with_name("election-replay"))
    done = subprocess.run(
        [replay, "--json", *map(str, paths)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_the_post_mortem_of_a_crash_is_exact_and_without_records_claims_no_overlap(
    machines: Machines,
) -> None:
    leader, first = machines.leading()
    leader.kill()
    _, second = machines.leading(after_token=first, timeout=SESSION + 5)
    died = recorded(leader, "died")
    gone = recorded(leader, "job-gone")
    leader.start()  # restarted, as systemd would: a candidate again
    leader.wait_for(lambda r: r["state"] == "Attempter", 15, "Attempter", died["wall"])
    machines.replicas.close()
    journals = [r.journal for r in machines.replicas]

    report = _replay(*journals)
    assert report["ok"], report["violations"]
    crashed = next(t for t in report["leadership"] if t["token"] == first)
    assert (crashed["end_cause"], crashed["end_detail"]) == ("crash", "SIGKILL"), crashed
    assert crashed["end"] == died["wall"]
    job = next(j for j in report["jobs"] if j["token"] == first)
    assert (job["end"], job["end_known"]) == (gone["wall"], True), job
    gap = next(h for h in report["handovers"] if h["from_token"] == first)
    assert gap["end"] == died["wall"] and 0 <= gap["gap"] < SOON, gap
    assert not [n for n in report["notes"] if "overlapped" in n], report["notes"]
    assert all(j["end"] is not None or not j["end_known"] for j in report["jobs"])

    # Without the keeper's records (a machine that died; a journal from before them):
    # the old job's end is bounded by the next job's start, and no overlap is claimed.
    record_path(leader.journal).unlink()
    report = _replay(*journals)
    assert report["ok"], report["violations"]
    assert not [n for n in report["notes"] if "overlapped" in n], report["notes"]
    job = next(j for j in report["jobs"] if j["token"] == first)
    after = next(j for j in report["jobs"] if j["token"] == second)
    assert job["end_known"] is False and job["end"] is not None and job["end"] <= after["start"]
    assert all(j["end"] is not None or not j["end_known"] for j in report["jobs"])
