"""`election run --exec`: exactly one job runs, and jobs of different terms never overlap
on this machine — across a graceful hand-over, SIGKILL of the leader, a partition of
the leader and a ZooKeeper outage. Real processes, real ZooKeeper, real signals."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from election_testkit.proxy import TcpProxy
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.e2e.conftest import MakeReplicaSet

JOB = Path(__file__).resolve().parent / "jobs" / "interval_job.py"
REPLAY = str(Path(sys.executable).with_name("election-replay"))
BEAT_GAP = 0.5  # a job whose last beat is older than this is not running (beats: 20 ms)
# The replicas' 2 s session (ReplicaSet's default) leaves the job a grace of at most a
# third of it: start-up refuses more. The job stops within milliseconds of SIGTERM.
GRACE = "0.5s"


class JobLog:
    """What the jobs recorded: per token, the wall times it ran (start .. last line)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[tuple[str, int, int, float]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            kind, token, pid, wall = line.split()
            out.append((kind, int(token), int(pid), float(wall)))
        return out

    def intervals(self) -> dict[tuple[int, int], tuple[float, float, bool]]:
        """(token, pid) -> (first, last, ended with an `end` line)."""
        spans: dict[tuple[int, int], list[float]] = defaultdict(list)
        ended: set[tuple[int, int]] = set()
        for kind, token, pid, wall in self.lines():
            spans[(token, pid)].append(wall)
            if kind == "end":
                ended.add((token, pid))
        return {k: (min(v), max(v), k in ended) for k, v in spans.items()}

    def running(self, now: float | None = None) -> list[tuple[int, int]]:
        """Jobs that beat within BEAT_GAP and have not ended."""
        now = time.time() if now is None else now
        return [
            key
            for key, (_, last, ended) in self.intervals().items()
            if not ended and now - last < BEAT_GAP
        ]

    def overlaps(self) -> list[str]:
        terms = sorted(self.intervals().items(), key=lambda kv: kv[1][0])
        found = []
        for i, ((token_a, pid_a), (s_a, e_a, _)) in enumerate(terms):
            for (token_b, pid_b), (s_b, e_b, _) in terms[i + 1 :]:
                if (token_a, pid_a) != (token_b, pid_b) and s_b < e_a and s_a < e_b:
                    found.append(
                        f"token {token_a} pid {pid_a} [{s_a:.3f}, {e_a:.3f}] overlaps "
                        f"token {token_b} pid {pid_b} [{s_b:.3f}, {e_b:.3f}]"
                    )
        return found


def _exec_replicas(
    replica_set: MakeReplicaSet, zk: str, path: str, tmp: Path, **flags: str
) -> tuple[ReplicaSet, JobLog]:
    log = JobLog(tmp / "jobs.log")
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(JOB))}"
    replicas = replica_set(zk, path, exec=command, exec_grace=GRACE, session_timeout="2s", **flags)
    replicas.env["JOB_LOG"] = str(log.path)
    return replicas, log


def _one_job_for_the_leader(replicas: ReplicaSet, log: JobLog, timeout: float = 15) -> int:
    """Wait for a leader and its job; return the job's token."""
    leader = replicas.wait_for_leader(timeout)

    def one_token() -> int | None:
        running = log.running()
        return running[0][0] if len(running) == 1 else None

    token = wait_until(
        one_token, timeout, lambda: f"jobs running: {log.running()}\n{replicas.describe()}"
    )
    record = leader.last_record()
    assert record is not None and record.get("token") == token, (record, token)
    return token


def test_jobs_hand_over_on_sigterm_without_overlap(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet, tmp_path: Path
) -> None:
    replicas, log = _exec_replicas(replica_set, zk_server.connect_string, zk_path, tmp_path)
    replicas.start(3)
    first = _one_job_for_the_leader(replicas, log)
    old = replicas.leaders()[0]
    old.terminate()
    assert old.wait(15) == 0
    second = _one_job_for_the_leader(replicas, log)
    assert second > first
    # The old job ended (SIGTERM, recorded) before the new one started.
    spans = log.intervals()
    old_span = next(v for (t, _), v in spans.items() if t == first)
    assert old_span[2], "the old job was told to stop and said so"
    assert not log.overlaps(), log.overlaps()
    # Leader files are off by default with --exec.
    assert not list(replicas.file_dir.glob("election-*.json"))
    # election-replay tells the job runs from the journals alone.
    replicas.close()
    done = subprocess.run(
        [REPLAY, "--json", *(str(r.journal) for r in replicas)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    jobs = json.loads(done.stdout)["jobs"]
    assert [j["token"] for j in jobs][:2] == [first, second]
    assert jobs[0]["end"] is not None and jobs[0]["end"] <= jobs[1]["start"]
    # The human report draws each replica's job runs on the timeline, under its row,
    # labelled, at 80 columns too (a pipe's width).
    text = subprocess.run(
        [REPLAY, *(str(r.journal) for r in replicas)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "80"},
    ).stdout
    rows = [line.split() for line in text.splitlines()]
    job_rows = [row for row in rows if len(row) == 3 and row[1] == "job" and set(row[2]) == {"J"}]
    assert sorted(row[0] for row in job_rows) == sorted({j["replica"] for j in jobs}), text
    assert any(line.lstrip().startswith("UTC ") for line in text.splitlines()), text
    assert "Job runs" in text


def test_sigkilled_leader_takes_its_job_with_it(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet, tmp_path: Path
) -> None:
    replicas, log = _exec_replicas(replica_set, zk_server.connect_string, zk_path, tmp_path)
    replicas.start(3)
    first = _one_job_for_the_leader(replicas, log)
    old = replicas.leaders()[0]
    old.kill()
    old.wait(10)
    # The job dies with its daemon (no `end` line: SIGKILL), long before the session
    # expires and the next leader's job starts.
    wait_until(lambda: not log.running(), 5, lambda: f"still running: {log.running()}")
    second = _one_job_for_the_leader(replicas, log, timeout=20)
    assert second > first
    assert not log.overlaps(), log.overlaps()


def test_partitioned_leader_stops_its_job_before_the_next_one_starts(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet, tmp_path: Path
) -> None:
    proxies = [TcpProxy("127.0.0.1", zk_server.port) for _ in range(3)]
    try:
        replicas, log = _exec_replicas(replica_set, "unused", zk_path, tmp_path)
        for proxy in proxies:
            replicas.add(zk_servers=proxy.connect_string).start()
        first = _one_job_for_the_leader(replicas, log)
        leader = replicas.leaders()[0]
        proxies[replicas.replicas.index(leader)].blackhole()
        # SUSPENDED (2/3 of the session timeout) stops the old job: it says so itself.
        wait_until(
            lambda: any(t == first and ended for (t, _), (_, _, ended) in log.intervals().items()),
            10,
            lambda: f"the partitioned leader's job still runs: {log.intervals()}",
        )
        second = _one_job_for_the_leader(replicas, log, timeout=20)
        assert second > first
        assert not log.overlaps(), log.overlaps()
    finally:
        for proxy in proxies:
            proxy.close()


def test_zookeeper_outage_stops_every_job_and_recovery_runs_exactly_one(
    zk_fresh: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet, tmp_path: Path
) -> None:
    replicas, log = _exec_replicas(replica_set, zk_fresh.connect_string, zk_path, tmp_path)
    replicas.start(3)
    _one_job_for_the_leader(replicas, log)
    zk_fresh.kill()
    wait_until(lambda: not log.running(), 10, lambda: f"still running: {log.running()}")
    zk_fresh.restart()
    _one_job_for_the_leader(replicas, log, timeout=25)
    # Exactly one job from here on, sampled for a while.
    for _ in range(20):
        assert len(log.running()) <= 1, log.running()
        time.sleep(0.05)
    assert not log.overlaps(), log.overlaps()


def test_exec_exit_stop_makes_the_daemon_exit_with_the_job_code(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet, tmp_path: Path
) -> None:
    log = JobLog(tmp_path / "jobs.log")
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(JOB))}"
    replicas = replica_set(
        zk_server.connect_string, zk_path, exec=command, exec_grace=GRACE, exec_exit="stop"
    )
    replicas.env.update(JOB_LOG=str(log.path), JOB_SECONDS="0.5", JOB_EXIT="7")
    (replica,) = replicas.start(1)
    assert replica.wait(20) == 7


def test_signals_work_while_not_leader(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet, tmp_path: Path
) -> None:
    replicas, log = _exec_replicas(replica_set, zk_server.connect_string, zk_path, tmp_path)
    replicas.start(2)
    _one_job_for_the_leader(replicas, log)
    follower = next(r for r in replicas if not r.is_leader())
    follower.wait_for_state("Attempter", 15)  # up and competing, not merely started
    follower.terminate()
    assert follower.wait(10) == 0
