"""End-to-end: real `election run` processes, real signals, a real ZooKeeper, real files.

Every wait polls with a deadline. Latencies are measured from the journals' wall times
(and, for SIGKILL and ZooKeeper's death, from the moment the test sent the signal), and
bounded generously enough for a busy 2-core machine while still meaning what the
contract promises (a graceful hand-over "well under a second", a crash take-over
within the session timeout plus a margin).
"""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from election.core.leaderfiles import parse_leader_file_name
from election_testkit.filedir import leader_files
from election_testkit.leadership import leadership_intervals, overlaps
from election_testkit.replica import Record, Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.e2e.conftest import MakeReplicaSet

pytestmark = [pytest.mark.e2e, pytest.mark.zk]

SESSION_TIMEOUT = 2.0  # what we ask for; the kit's ZooKeeperServer accepts 0.4 s .. 10 s
LEADER_TIMEOUT = 0.3
CAPACITY = 3
STOP_DEADLINE = 5.0  # Settings.stop_deadline
START_BOUND = 20.0  # first leader after starting the processes (interpreter start-up)

FOREIGN = ("election-notes.txt", "other.txt")


def _replicas(make: MakeReplicaSet, zk: ZooKeeperServer, path: str, **flags: str) -> ReplicaSet:
    return make(zk.connect_string, path, session_timeout=f"{SESSION_TIMEOUT:g}s", **flags)


def _no_overlap(replicas: ReplicaSet) -> None:
    found = overlaps(replicas)
    assert not found, "two leaders at once:\n" + "\n".join(found) + "\n" + replicas.describe()


def _new_leader_record(
    replicas: ReplicaSet, old: Replica, after_wall: float, timeout: float
) -> tuple[Replica, Record]:
    """The first record, among the other replicas, entering Leader after ``after_wall``."""

    def found() -> tuple[Replica, Record] | None:
        candidates = [
            (r, rec) for r in replicas if r is not old for rec in r.entered("Leader", after_wall)
        ]
        return min(candidates, key=lambda c: c[1]["wall"]) if candidates else None

    return wait_until(found, timeout, lambda: f"no new leader\n{replicas.describe()}")


def _last(replica: Replica) -> Record:
    record = replica.last_record()
    assert record is not None, f"{replica.id} journaled nothing\n{replica.log_tail()}"
    return record


def _our_regular_files(file_dir: Path) -> int:
    with os.scandir(file_dir) as entries:
        return sum(
            1
            for e in entries
            if e.is_file(follow_symlinks=False) and parse_leader_file_name(e.name) is not None
        )


# ------------------------------------------------------------------------------ tests


def test_three_replicas_elect_exactly_one_leader(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    replicas = _replicas(replica_set, zk_server, zk_path)
    replicas.start(3)

    leader = replicas.wait_for_leader(START_BOUND, settle=1.0)

    states = {r.id: r.state for r in replicas}
    assert sorted(states.values()) == ["Attempter", "Attempter", "Leader"], replicas.describe()
    assert all(r.running for r in replicas)
    # The leader's token is the czxid of its own queue node, the lowest; the others queued
    # behind it, one node each.
    entered = leader.entered("Leader")
    assert len(entered) == 1
    assert isinstance(entered[0]["token"], int) and entered[0]["token"] > 0
    assert entered[0]["cause"] == "our node leads the queue"
    for r in replicas:
        created = [rec["event"] for rec in r.records() if rec["event"]["type"] == "NodeCreated"]
        assert [e["outcome"] for e in created] == ["ok"], created
        if r is not leader:
            assert created[0]["token"] > entered[0]["token"]
            assert not r.entered("Leader")
    _no_overlap(replicas)


def test_leader_files_cadence_capacity_and_foreign_files(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    replicas = _replicas(
        replica_set,
        zk_server,
        zk_path,
        leader_timeout=f"{LEADER_TIMEOUT:g}s",
        storage_capacity=str(CAPACITY),
    )
    file_dir = replicas.file_dir
    file_dir.mkdir(parents=True)
    for name in FOREIGN:
        (file_dir / name).write_text(f"not the daemon's: {name}\n")
    (file_dir / "link-to-other").symlink_to("other.txt")
    # A symlink that even has the daemon's exact name pattern (token 0: the "oldest"
    # file there is) must never be pruned or followed.
    pattern_link = "election-00000000000000000000-0000000001.json"
    (file_dir / pattern_link).symlink_to("other.txt")
    before = {name: (file_dir / name).read_text() for name in FOREIGN}

    replicas.start(2)
    leader = replicas.wait_for_leader(START_BOUND)
    term_start = leader.entered("Leader")[0]
    token = term_start["token"]

    # Sample the directory for ~3 s (about ten writes).
    window = 10 * LEADER_TIMEOUT
    counts: list[int] = []
    t_end = time.monotonic() + window
    while time.monotonic() < t_end:
        counts.append(_our_regular_files(file_dir))
        time.sleep(0.003)
    sampled_until = time.time()

    assert leader.is_leader(), replicas.describe()
    # Cadence, from the leader's journal: one successful write per leader-timeout.
    writes = [
        r["wall"]
        for r in leader.records()
        if r["event"]["type"] == "FileWritten" and r["event"]["outcome"] == "ok"
    ]
    gaps = [b - a for a, b in itertools.pairwise(writes)]
    assert len(writes) >= 0.6 * window / LEADER_TIMEOUT, writes
    assert 0.8 * LEADER_TIMEOUT <= statistics.median(gaps) <= 1.5 * LEADER_TIMEOUT, gaps
    assert max(gaps) < LEADER_TIMEOUT + 1.0, gaps  # no stall, even on a busy machine
    # The first file comes at once on becoming leader.
    assert writes[0] - term_start["wall"] < 1.0

    # Capacity: the leader prunes to make room, then renames the new file in; the count
    # may dip to one under for that instant but never exceeds the capacity.
    histogram = {n: counts.count(n) for n in sorted(set(counts))}
    assert max(counts) <= CAPACITY, histogram
    full = counts[counts.index(CAPACITY) :]  # once the first CAPACITY files are there
    assert min(full) >= CAPACITY - 1 and full.count(CAPACITY) > 0.8 * len(full), histogram

    # The files on disk: the newest ones of this term, content as the contract says.
    files = leader_files(file_dir)
    assert 1 <= len(files) <= CAPACITY
    seqs = [f.seq for f in files]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), [f.name for f in files]
    for f in files:
        assert f.content["replica"] == leader.id
        assert f.content["token"] == f.token == token
        assert isinstance(f.content["seq"], int) and f.content["seq"] == f.seq
        assert str(f.content["written_at"]).endswith("Z")
        assert term_start["wall"] - 0.5 <= f.written_wall <= sampled_until + 1.0
    stamps = [f.written_wall for f in files]
    assert stamps == sorted(stamps)

    # Foreign files and symlinks survive, untouched.
    for name, text in before.items():
        assert (file_dir / name).read_text() == text
    assert os.readlink(file_dir / "link-to-other") == "other.txt"
    assert (file_dir / pattern_link).is_symlink()
    assert os.readlink(file_dir / pattern_link) == "other.txt"
    assert leader.is_leader()  # the pattern-named symlink did not make it step down


def test_sigterm_leader_hands_over_within_a_second(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    # attempter-timeout 30s: only the watch on the node can make the take-over fast.
    replicas = _replicas(replica_set, zk_server, zk_path, attempter_timeout="30s")
    replicas.start(3)
    old = replicas.wait_for_leader(START_BOUND, settle=0.5)
    old_token = _last(old)["token"]

    old.terminate()
    assert old.wait(STOP_DEADLINE + 5) == 0, old.log_tail()

    stop = old.entered("Stopping")[0]
    assert stop["event"] == {"type": "StopRequested", "signal": "SIGTERM"}
    assert stop["previous"] == "Leader"
    # Its session closed cleanly: that deleted its node on the server.
    closed = old.find(lambda r: r["event"]["type"] == "SessionClosed")
    assert closed is not None and closed["event"]["outcome"] == "ok", old.records()[-5:]
    last = _last(old)
    assert {"type": "Exit", "code": 0, "reason": "stopped"} in last["effects"]

    _, entered = _new_leader_record(replicas, old, stop["wall"], timeout=5.0)
    latency = entered["wall"] - stop["wall"]
    assert latency < 1.0, f"hand-over took {latency:.3f}s\n{replicas.describe()}"
    assert entered["token"] > old_token  # a new term, a higher fencing token
    replicas.wait_for_leader(5.0, settle=0.5)
    assert len(replicas.leaders()) == 1
    _no_overlap(replicas)


def test_sigkill_leader_taken_over_within_session_timeout(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    replicas = _replicas(replica_set, zk_server, zk_path, attempter_timeout="30s")
    replicas.start(2)
    old = replicas.wait_for_leader(START_BOUND, settle=0.5)

    old.kill()
    assert old.wait(10) == -9
    assert old.killed_wall is not None

    bound = SESSION_TIMEOUT + 2.0
    new, entered = _new_leader_record(replicas, old, old.killed_wall, timeout=bound + 5.0)
    latency = entered["wall"] - old.killed_wall
    assert latency < bound, f"take-over took {latency:.3f}s\n{replicas.describe()}"
    # It was the watch (the node below ours deleted on expiry), not the 30 s attempt timer.
    assert entered["cause"] == "the node below ours went: we are next"
    deleted = new.find(
        lambda r: r["event"]["type"] == "NodeWatchFired" and r["event"]["kind"] == "DELETED",
        after_wall=old.killed_wall,
    )
    assert deleted is not None and deleted["wall"] <= entered["wall"]
    assert new.is_leader()
    _no_overlap(replicas)


def test_zookeeper_loss_stops_the_work_and_recovery_elects_one_leader(
    zk_fresh: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    replicas = _replicas(replica_set, zk_fresh, zk_path, leader_timeout="0.2s")
    replicas.start(3)
    leader = replicas.wait_for_leader(START_BOUND, settle=0.5)
    wait_until(lambda: len(leader_files(replicas.file_dir)) >= 2, 5.0, "no leader files")

    killed = time.time()
    zk_fresh.kill()

    failover = replicas.wait_all("Failover", SESSION_TIMEOUT + 2.0, after_wall=killed)
    for rid, record in failover.items():
        assert record["wall"] - killed < SESSION_TIMEOUT + 2.0, (rid, record)
    leader_failover = failover[leader.id]
    assert leader_failover["previous"] == "Leader"

    # The leader stops writing at once: nothing written after its Failover record, and
    # nothing at all appears while ZooKeeper is down.
    listing = sorted(os.listdir(replicas.file_dir))
    time.sleep(1.0)
    assert sorted(os.listdir(replicas.file_dir)) == listing
    files = leader_files(replicas.file_dir)
    assert files
    late = [f for f in files if f.written_wall > leader_failover["wall"] + 0.05]
    assert not late, (leader_failover["wall"], late)
    assert not replicas.leaders(), replicas.describe()

    restarted = time.time()
    zk_fresh.restart()
    new = replicas.wait_for_leader(SESSION_TIMEOUT + 15.0, settle=1.0)
    wait_until(
        lambda: sorted(str(r.state) for r in replicas) == ["Attempter", "Attempter", "Leader"],
        10.0,
        replicas.describe,
    )
    assert all(r.running for r in replicas)
    assert replicas.leaders() == [new]
    # The work resumes, fenced by the (same or a higher) token.
    wait_until(
        lambda: any(f.written_wall > restarted for f in leader_files(replicas.file_dir)),
        5.0,
        "no file after recovery",
    )
    newest = leader_files(replicas.file_dir)[-1]
    assert newest.content["replica"] == new.id
    assert newest.token >= files[-1].token
    _no_overlap(replicas)


@pytest.mark.parametrize(
    ("args", "env", "flag"),
    [
        (["--storage-capacity", "0"], {}, "--storage-capacity"),
        ([], {"ELECTION_LEADER_TIMEOUT": "soon"}, "--leader-timeout"),
    ],
    ids=["flag", "env"],
)
def test_invalid_config_exits_2_with_one_line_and_creates_nothing(
    tmp_path: Path, args: list[str], env: dict[str, str], flag: str
) -> None:
    journal = tmp_path / "journal-dir" / "r.jsonl"
    file_dir = tmp_path / "files"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ELECTION_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "election",
            "run",
            "--zk-servers",
            "127.0.0.1:1",
            "--journal",
            str(journal),
            "--file-dir",
            str(file_dir),
            "--metrics-address",
            "off",
            *args,
        ],
        env={**clean, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    envvar = "ELECTION_" + flag.lstrip("-").replace("-", "_").upper()
    assert flag in lines[0] and envvar in lines[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing created


def test_sigterm_in_failover_exits_0_within_the_stop_deadline(
    zk_fresh: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    replicas = _replicas(replica_set, zk_fresh, zk_path)
    replicas.start(2)
    replicas.wait_for_leader(START_BOUND)

    killed = time.time()
    zk_fresh.kill()
    replicas.wait_all("Failover", SESSION_TIMEOUT + 2.0, after_wall=killed)

    signalled = time.time()
    for r in replicas:
        r.terminate()
    margin = 3.0
    for r in replicas:
        code = r.wait(max(0.1, signalled + STOP_DEADLINE + margin - time.time()))
        assert code == 0, r.log_tail()
        elapsed = time.time() - signalled
        assert elapsed < STOP_DEADLINE + margin
        stop = r.entered("Stopping")
        assert stop and stop[0]["event"]["type"] == "StopRequested"
        assert stop[0]["previous"] in ("Failover", "Init")  # Failover retries via Init
        last = _last(r)
        assert last["state"] == "Stopping"
        assert any(e["type"] == "Exit" and e["code"] == 0 for e in last["effects"]), last
    assert all(not iv or iv[-1][1] <= signalled for iv in map(leadership_intervals, replicas))
