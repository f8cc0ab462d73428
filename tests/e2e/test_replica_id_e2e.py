"""One live replica per `--replica-id`, one writer per journal (DESIGN.md): a second of
either is refused, exit 2, one line; a replica restarted right after a crash (as systemd
does, within seconds, before the dead run's session expired) is not."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from election_testkit.replica import Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.e2e.conftest import MakeReplicaSet


def _twin(first: Replica, workdir: Path, name: str, journal: Path | None = None) -> Replica:
    """Another process of `first`'s replica id, with its own log (and `journal`, if
    given; else `first`'s)."""
    args = list(first.args)
    journal = journal or first.journal
    args[args.index("--journal") + 1] = str(journal)
    return Replica(first.id, args, journal, workdir / f"{name}.log")


def _one_line(replica: Replica) -> str:
    lines = [
        line for line in replica.log_path.read_text().splitlines() if line.startswith("election: ")
    ]
    assert len(lines) == 1, replica.log_tail()
    assert "Traceback" not in replica.log_path.read_text()
    return lines[0]


def _types(replica: Replica) -> set[str]:
    return {record["event"]["type"] for record in replica.records()}


def test_a_second_writer_of_one_journal_is_refused_before_it_writes(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet, tmp_path: Path
) -> None:
    replicas: ReplicaSet = replica_set(zk_server.connect_string, zk_path)
    first = replicas.add("dup").start()
    replicas.wait_for_leader(20)
    size = first.journal.stat().st_size
    second = _twin(first, tmp_path, "second").start()
    assert second.wait(20) == 2
    line = _one_line(second)
    assert line == (
        f"election: invalid --journal (ELECTION_JOURNAL): {first.journal} is in use: another "
        f"process writes to it (pid {first.pid}); a journal has one writer"
    )
    # Nothing of the second reached the journal: it still replays as one writer's.
    assert first.journal.stat().st_size >= size
    assert [run.header["pid"] for run in first.runs()] == [first.pid]
    assert first.is_leader()


def test_a_second_replica_of_one_id_is_refused_before_it_competes(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet, tmp_path: Path
) -> None:
    replicas: ReplicaSet = replica_set(zk_server.connect_string, zk_path)
    first = replicas.add("dup").start()
    replicas.wait_for_leader(20)
    second = _twin(first, tmp_path, "second", tmp_path / "second.jsonl").start()
    assert second.wait(20) == 2
    line = _one_line(second)
    assert line.startswith(
        "election: invalid --replica-id (ELECTION_REPLICA_ID): dup is in use by another live "
        "replica (host "
    ), line
    assert f", pid {first.pid}, session 0x" in line
    # Refused before it competed: it never queued.
    assert "NodeCreated" not in _types(second) and "MemberPublished" in _types(second)
    assert first.is_leader() and first.running


def test_a_replica_restarted_right_after_a_crash_is_not_refused(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    replicas: ReplicaSet = replica_set(zk_server.connect_string, zk_path, session_timeout="4s")
    crashed = replicas.add("dup").start()
    replicas.wait_for_leader(20)
    dead = crashed.pid
    # As when its whole machine died: no keeper closes its session. (The daemon frozen
    # first, so that it cannot start a new keeper; then both killed.) Its session (and
    # member node) live on until they expire.
    keeper = crashed.keeper_pid()
    assert dead is not None and keeper is not None
    crashed.send_signal(signal.SIGSTOP)
    os.kill(keeper, signal.SIGKILL)
    crashed.kill()
    crashed.wait(10)
    again = replicas.add("dup").start()  # the same id and journal, at once
    since = again.started_wall
    assert since is not None
    # Its dead run's member node is its own (this host, that pid gone): it takes it over
    # and queues behind the dead run's node, which goes with the dead run's session.
    record = again.wait_for(
        lambda r: r["event"]["type"] == "MemberPublished" and r["event"]["outcome"] == "ok",
        20,
        "its member node made",
        after_wall=since,
    )
    assert record["state"] in ("Init", "Attempter"), again.log_tail()
    said = "an earlier run of dup heads the queue until its session ends"
    wait_until(lambda: said in again.log_path.read_text(), 10, again.log_tail)
    again.wait_for_state("Leader", 30, after_wall=since)
    assert again.running
    assert [run.header["pid"] for run in again.runs()] == [dead, again.pid]
    again.terminate()
    assert again.wait(15) == 0
