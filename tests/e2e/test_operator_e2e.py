"""The operator's controls on real replicas: `election status`, `handover`, `pause` and
`resume` as processes against four `election run`s of priorities 3/2/1/0, read back
through the replicas' journals, their files and `election-replay`'s verdict.

The commands' own work is tested against a real ZooKeeper with hand-made nodes
(tests/integration/test_operator_commands.py); these need the replicas' side of issue
#14 — reading the controls, ending a term on a pause or a hand-over, keeping out while a
request stands, priorities — which lands in the core separately.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from election_testkit.replica import Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.verdict import judge
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer, free_port
from tests.e2e.conftest import MakeReplicaSet

pytestmark = pytest.mark.e2e

PRIORITIES = {"r3": 3, "r2": 2, "r1": 1, "r0": 0}
USER, PASSWORD = "election", "Op3rator-e2e"
CREDENTIAL = f"digest:{USER}:{PASSWORD}"


def election(rs: ReplicaSet, *args: str, env: dict[str, str] | None = None) -> Any:
    """One operator's command as a process, against the replicas' ZooKeeper and path."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ELECTION_")}
    return subprocess.run(
        [sys.executable, "-m", "election", *args,
         "--zk-servers", rs.zk_servers, "--election-path", rs.election_path],
        capture_output=True, text=True, timeout=90, env={**clean, "COLUMNS": "160", **(env or {})},
    )  # fmt: skip


def status(rs: ReplicaSet) -> tuple[int, dict[str, Any]]:
    done = election(rs, "status", "--json")
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def start_four(
    rs: ReplicaSet, own: dict[str, dict[str, str]] | None = None, **flags: str
) -> dict[str, Replica]:
    """r3 first, so that it leads (no pre-emption decides nothing here); then the rest.
    `own`: flags of one replica (by id) beside those of all."""
    replicas = {
        name: rs.add(name, priority=str(p), **flags, **(own or {}).get(name, {}))
        for name, p in PRIORITIES.items()
    }
    replicas["r3"].start().wait_for_state("Leader", 20)
    for name in ("r2", "r1", "r0"):
        replicas[name].start()
    for name in ("r2", "r1", "r0"):
        replicas[name].wait_for_state("Attempter", 20)
    return replicas


@pytest.fixture
def four(zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet) -> ReplicaSet:
    rs = replica_set(zk_server.connect_string, zk_path)
    start_four(rs)
    return rs


def token_of(replica: Replica) -> int:
    """The token of the term the replica's journal is in now."""
    record = replica.last_record()
    assert record is not None and record.get("token") is not None, replica
    token: int = record["token"]
    return token


def leaders_since(rs: ReplicaSet, wall: float) -> list[tuple[str, float]]:
    """Every entry into Leader at or after `wall`, in time order: (replica, wall)."""
    entries = [(r.id, rec["wall"]) for r in rs for rec in r.entered("Leader", after_wall=wall)]
    return sorted(entries, key=lambda entry: entry[1])


def ended_terms(rs: ReplicaSet) -> list[dict[str, Any]]:
    """The replay's leadership entries over every journal, after the replicas stopped;
    asserts the replay found nothing wrong."""
    rs.close()
    verdict = judge([r.journal for r in rs])
    assert verdict.ok, verdict.explain()
    terms: list[dict[str, Any]] = verdict.replay["leadership"]
    return terms


# ---------------------------------------------------------------- status


def test_status_names_the_leader_and_every_member_with_its_priority(four: ReplicaSet) -> None:
    leader = four.wait_for_leader(15, settle=0.5)
    assert leader.id == "r3"
    code, document = status(four)
    assert code == 0
    assert document["leader"]["replica"] == "r3"
    assert document["leader"]["token"] == token_of(leader)
    assert document["paused"] is False and document["handover"] is None
    members = {m["replica"]: (m["state"], m["priority"]) for m in document["members"]}
    assert members == {"r3": ("Leader", 3), "r2": ("Attempter", 2),
                       "r1": ("Attempter", 1), "r0": ("Attempter", 0)}  # fmt: skip
    table = election(four, "status")
    assert table.returncode == 0 and re.search(r"leader +r3 +token \d+ +since", table.stdout)


# ---------------------------------------------------------------- handover


def test_handover_to_moves_leadership_straight_to_the_named_replica(four: ReplicaSet) -> None:
    old = four.wait_for_leader(15, settle=0.5)
    asked = time.time()
    done = election(four, "handover", "--to", "r1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("r1 leads (token ") and "after the request" in done.stdout
    # Nobody else led in between; the old leader runs on as a candidate.
    assert [replica for replica, _ in leaders_since(four, asked)] == ["r1"]
    assert old.running
    old.wait_for_state("Attempter", 10, after_wall=asked)
    code, document = status(four)
    assert code == 0 and document["leader"]["replica"] == "r1" and document["handover"] is None
    time.sleep(1.0)  # the request withdrawn, r1 keeps leading: no hand-back, no flapping
    assert [replica for replica, _ in leaders_since(four, asked)] == ["r1"]
    terms = ended_terms(four)
    first = next(t for t in terms if t["replica"] == "r3")
    assert first["end_cause"] == "handover"


def test_handover_without_to_goes_to_the_highest_priority(four: ReplicaSet) -> None:
    four.wait_for_leader(15, settle=0.5)
    assert election(four, "handover", "--to", "r1").returncode == 0
    four.wait_for_leader(15, settle=0.5)
    asked = time.time()
    done = election(four, "handover")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("r3 leads")  # r3 (3) over r2 (2); r1 hands over
    assert [replica for replica, _ in leaders_since(four, asked)] == ["r3"]


def test_handover_to_a_ghost_exits_2_and_changes_nothing(four: ReplicaSet) -> None:
    leader = four.wait_for_leader(15, settle=0.5)
    token = token_of(leader)
    asked = time.time()
    done = election(four, "handover", "--to", "ghost")
    assert done.returncode == 2
    assert done.stderr == (
        "election handover: --to ghost: no such replica among the live members "
        "(r3, r0, r1, r2); nothing was changed\n"
    )
    for standby in ("r0",):
        refused = election(four, "handover", "--to", standby)
        assert refused.returncode == 2 and "priority 0" in refused.stderr
    time.sleep(1.0)
    assert leaders_since(four, asked) == []
    assert leader.is_leader() and token_of(leader) == token
    assert status(four)[1]["handover"] is None


# ---------------------------------------------------------------- priorities


def test_the_highest_live_priority_leads_after_kills_and_stops_and_a_standby_never(
    four: ReplicaSet,
) -> None:
    replicas = {r.id: r for r in four}
    assert four.wait_for_leader(15, settle=0.5).id == "r3"
    replicas["r3"].kill()  # a crash: the session expires (2 s), then r2 over r1
    assert four.wait_for_leader(20, exclude=[replicas["r3"]], settle=0.5).id == "r2"
    replicas["r2"].terminate()  # a graceful stop: r1 at once
    assert replicas["r2"].wait(15) == 0
    assert four.wait_for_leader(15, settle=0.5).id == "r1"
    replicas["r1"].terminate()
    assert replicas["r1"].wait(15) == 0
    # Alone, the standby watches and reports, and never leads.
    time.sleep(3.0)
    assert replicas["r0"].entered("Leader") == [] and replicas["r0"].running
    code, document = status(four)
    assert code == 1 and document["leader"] is None
    assert [(m["replica"], m["priority"]) for m in document["members"]] == [("r0", 0)]


# ---------------------------------------------------------------- pause and resume


def metric(port: int, name: str) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return None if match is None else float(match.group(1))


def newest_file(file_dir: Path) -> float:
    """The modification time of the newest leader file (0 when there is none)."""
    times = [p.stat().st_mtime for p in file_dir.glob("election-*.json")]
    return max(times, default=0.0)


def test_pause_stops_all_work_within_2s_and_resume_brings_a_leader_back(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    rs = replica_set(zk_server.connect_string, zk_path)
    port = free_port()
    replicas = start_four(rs, own={"r2": {"metrics_address": f"127.0.0.1:{port}"}})
    rs.wait_for_leader(15, settle=0.5)
    assert metric(port, "election_paused") == 0

    asked = time.time()
    done = election(rs, "pause", "--reason", "kernel upgrade")
    assert done.returncode == 0, done.stderr
    assert "kernel upgrade; r3 stopped leading within" in done.stdout
    time.sleep(max(0.0, asked + 2.0 - time.time()))
    assert rs.leaders() == []
    stopped = asked + 2.0
    assert all(rec["wall"] < stopped for r in rs for rec in r.records() if rec["state"] == "Leader")
    time.sleep(1.5)  # no leader, no files, for as long as the pause stands
    assert rs.leaders() == [] and newest_file(rs.file_dir) < stopped
    assert wait_until(lambda: metric(port, "election_paused") == 1, 5, "election_paused not 1")
    code, document = status(rs)
    assert code == 1 and document["paused"] is True and document["leader"] is None
    assert document["pause"]["reason"] == "kernel upgrade" and "@" in document["pause"]["by"]

    # The pause survives a restart of a replica: r3 comes back and does not lead.
    replicas["r3"].terminate()
    assert replicas["r3"].wait(15) == 0
    restarted = time.time()
    replicas["r3"].start().wait_for_state("Attempter", 20, after_wall=restarted)
    time.sleep(1.5)
    assert rs.leaders() == []

    resumed_at = time.time()
    resumed = election(rs, "resume")
    assert resumed.returncode == 0, resumed.stderr
    leader = rs.wait_for_leader(3)  # "within a couple of seconds"
    assert leader.entered("Leader", after_wall=resumed_at)
    assert status(rs)[0] == 0 and metric(port, "election_paused") == 0
    first = next(t for t in ended_terms(rs) if t["replica"] == "r3")
    assert first["end_cause"] == "pause"


# ---------------------------------------------------------------- an authenticated cluster


@pytest.fixture
def auth_path() -> str:
    """Under a root of its own: the election's ACL there locks other tests out."""
    return f"/election-operator-e2e/{uuid.uuid4().hex}/leader"


@pytest.fixture
def auth_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "zk-auth"
    path.write_text(CREDENTIAL + "\n")
    path.chmod(0o600)
    yield path


def test_a_stranger_cannot_pause_an_authenticated_cluster(
    zk_server: ZooKeeperServer, auth_path: str, replica_set: MakeReplicaSet, auth_file: Path
) -> None:
    rs = replica_set(zk_server.connect_string, auth_path)
    start_four(rs, zk_auth_file=str(auth_file))
    leader = rs.wait_for_leader(15, settle=0.5)

    stranger = election(rs, "pause", "--reason", "mine now")
    assert stranger.returncode == 4
    assert "refused by ZooKeeper's ACL (NoAuth)" in stranger.stderr
    assert stranger.stderr.count("\n") == 1
    handover = election(rs, "handover", "--to", "r2")
    assert handover.returncode == 4
    time.sleep(1.0)
    assert rs.leaders() == [leader]
    code, document = status(rs)  # anyone may look
    assert code == 0 and document["paused"] is False and document["leader"]["replica"] == "r3"

    # With the credential, the same command works.
    env = {"ELECTION_ZK_AUTH_FILE": str(auth_file)}
    assert election(rs, "pause", "--reason", "ours", env=env).returncode == 0
    assert status(rs)[1]["paused"] is True
    assert election(rs, "resume").returncode == 4  # nor may the stranger resume
    assert election(rs, "resume", env=env).returncode == 0
    rs.wait_for_leader(5)
