"""A real daemon with a tiny `--journal-max-bytes`: it rotates, keeps N segments, and the
rotated set replays with `election-replay`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from journal import journal_segments, read_journal, rotated_path
from tests.e2e.conftest import MakeReplicaSet

REPLAY = Path(sys.executable).parent / "election-replay"
KEEP = 3

pytestmark = [pytest.mark.e2e, pytest.mark.zk]


def journal_files(journal: Path) -> list[str]:
    """Every file in the journal's directory that belongs to it (live or rotated)."""
    return sorted(p.name for p in journal.parent.iterdir() if p.name.startswith(journal.name))


def test_a_leader_rotates_its_journal_and_the_segments_replay(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    replicas = replica_set(
        zk_server.connect_string,
        zk_path,
        leader_timeout="100ms",
        session_timeout="4s",
        journal_max_bytes="4k",
        journal_keep=str(KEEP),
    )
    (replica,) = replicas.start(1)
    journal = replica.journal
    most: list[int] = []

    def oldest_kept_is_a_continuation() -> bool:
        # The first segment (segment 0) has been rotated out and deleted.
        most.append(len(journal_files(journal)))
        oldest = rotated_path(journal, KEEP)
        if not oldest.exists():
            return False
        try:
            return bool(read_journal(oldest).runs[0].header.get("segment"))
        except Exception:  # mid-rename: look again
            return False

    wait_until(
        oldest_kept_is_a_continuation,
        60,
        lambda: (
            f"no rotation past {KEEP} segments: {journal_files(journal)}\n" + replica.log_tail()
        ),
        interval=0.1,
    )
    replica.terminate()
    assert replica.wait(20) == 0, replica.log_tail()

    names = journal_files(journal)
    assert max([*most, len(names)]) <= KEEP + 1, (most, names)
    assert names == sorted(
        [journal.name] + [rotated_path(journal, i).name for i in range(1, KEEP + 1)]
    )
    files = journal_segments(journal)
    result = subprocess.run(
        [str(REPLAY), "--json", *map(str, reversed(files))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    out = json.loads(result.stdout)
    (journal_json,) = out["replicas"]
    assert journal_json["files"] == [str(f) for f in files]
    assert journal_json["state"]["state"] == "Stopping"
    assert any("starts at segment" in note for note in out["notes"]), out["notes"]
    (term,) = out["leadership"]
    assert term["end"] is not None and term["token"] > 0
