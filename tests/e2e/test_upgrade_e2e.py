"""An upgrade in place: a replica of release 0.1 (the single-node protocol, from the
repository's history) and one of the candidates' queue in one election, in either order
of start: never two leaders.

Release 0.1 leads by creating the ephemeral node `--election-path`; the queue makes that
path a persistent node with the candidates' nodes under it. So a queue replica cannot
queue under a single-node leader's node (it waits until that node is gone), and a
replica of 0.1 can never create its node where the persistent one stands (it waits as
Attempter, for ever). `election-replay` reads the old journal without folding it (its
header has no `protocol`) and finds no overlap across both.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from election_replay import analyse
from election_testkit.replica import Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.zookeeper import ZooKeeperServer
from tests.e2e.conftest import MakeReplicaSet

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# The last commit of the single-node protocol: release 0.1.0 as the upgrade finds it.
RELEASE_0_1 = "4f44cdc184f51205042cc979c8f99ceeafd40c24"


@pytest.fixture(scope="module")
def release_0_1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Release 0.1's `election` and `journal` packages, from `git archive`, runnable with
    PYTHONPATH (its dependencies are this checkout's); it reports version 0.1.0."""
    tree = tmp_path_factory.mktemp("release-0.1")
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", RELEASE_0_1, "election", "journal"],
        capture_output=True,
        timeout=60,
    )
    assert archive.returncode == 0, (
        f"git archive {RELEASE_0_1} failed (a clone with its history is needed): "
        f"{archive.stderr.decode(errors='replace')}"
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    metadata = tree / "election-0.1.0.dist-info"  # found before this checkout's 0.2.0
    metadata.mkdir()
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: election\nVersion: 0.1.0\n")
    return tree


class Mixed:
    """One replica of each protocol, on one election path."""

    def __init__(self, replicas: ReplicaSet, old_tree: Path) -> None:
        self.replicas = replicas
        self.old = replicas.add("old")
        self.old.env["PYTHONPATH"] = str(old_tree)
        self.old.cwd = old_tree  # `python -m` puts the working directory first on the path
        self.new = replicas.add("new")

    def leaders(self) -> list[Replica]:
        return [r for r in (self.old, self.new) if r.running and r.is_leader()]

    def never_two(self, seconds: float, step: float = 0.05) -> None:
        """Look at both journals' last records for a while: never both Leader."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert len(self.leaders()) <= 1, self.replicas.describe()
            time.sleep(step)

    def verdict(self) -> None:
        analysis = analyse(sorted(str(r.journal) for r in (self.old, self.new)))
        assert analysis.ok, (analysis.violations, analysis.divergences)
        told = [n for n in analysis.notes if "single-node protocol: not folded again" in n]
        assert len(told) == 1 and "election 0.1.0" in told[0], analysis.notes


@pytest.fixture
def mixed(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet, release_0_1: Path
) -> Iterator[Mixed]:
    replicas = replica_set(zk_server.connect_string, zk_path, session_timeout="2s")
    yield Mixed(replicas, release_0_1)


def test_release_0_1_leads_first_and_a_queue_replica_waits_then_takes_over(
    mixed: Mixed, kazoo_client: KazooClient, zk_path: str
) -> None:
    mixed.old.start().wait_for_state("Leader", 20)
    assert mixed.old.header()["program"] == "election 0.1.0"  # type: ignore[index]
    assert kazoo_client.exists(zk_path).ephemeralOwner != 0  # its node: the path itself
    mixed.new.start()
    mixed.new.wait_for(
        lambda r: (
            r["event"]["type"] == "NodeCreated" and r["event"].get("failure") == "parent-ephemeral"
        ),
        20,
        "the queue replica finds a single-node leader's node where the queue goes",
    )
    mixed.never_two(1.0)
    assert mixed.leaders() == [mixed.old]

    mixed.old.terminate()
    assert mixed.old.wait(15) == 0
    mixed.new.wait_for_state("Leader", 10)  # its node went: the path made, the queue joined
    stat = kazoo_client.exists(zk_path)
    assert stat is not None and stat.ephemeralOwner == 0  # the queue's persistent parent

    mixed.old.start()  # release 0.1 again: it cannot make its node where the path stands
    mixed.old.wait_for_state("Attempter", 20, after_wall=mixed.old.started_wall or 0.0)
    mixed.never_two(1.5)
    assert mixed.leaders() == [mixed.new]
    mixed.new.terminate()
    assert mixed.new.wait(15) == 0
    mixed.never_two(1.0)
    assert not mixed.old.is_leader()  # it never leads a queue's election
    mixed.verdict()


def test_a_queue_replica_leads_first_and_release_0_1_never_does(
    mixed: Mixed, kazoo_client: KazooClient, zk_path: str
) -> None:
    mixed.new.start().wait_for_state("Leader", 20)
    mixed.old.start().wait_for_state("Attempter", 20)
    mixed.never_two(1.5)
    assert mixed.leaders() == [mixed.new]
    creates = [r["event"] for r in mixed.old.records() if r["event"]["type"] == "NodeCreated"]
    assert creates and all(e["failure"] == "node-exists" for e in creates), creates
    mixed.new.terminate()
    assert mixed.new.wait(15) == 0
    mixed.never_two(1.5)
    assert not mixed.old.is_leader() and mixed.old.running
    assert kazoo_client.exists(zk_path).ephemeralOwner == 0
    mixed.verdict()
