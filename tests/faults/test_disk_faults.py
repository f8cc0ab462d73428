"""Disk faults while leading: file-dir deleted, read-only, full; the journal unwritable.

A leader that cannot do the work fails over with the cause, releases the node so another
replica can try, and repairs with back-off. Read-only and full use real mounts (a
read-only bind mount, a small tmpfs), so they need a machine that lets us mount (root
with CAP_SYS_ADMIN, as `make test` runs in its container); elsewhere they are skipped,
saying so. (How the file adapter answers a write the disk refuses is a unit test:
tests/unit/test_runtime_filedir.py.) The journal fault needs no privilege:
`prlimit(RLIMIT_FSIZE)` on the running replica makes its next append fail with EFBIG.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
from pathlib import Path

import pytest

from election.keeper.records import record_path
from election_testkit.cluster import (
    RECOVERY_BOUND,
    SESSION_TIMEOUT,
    SLACK,
    START_BOUND,
    first_record,
    now,
    writes_of,
)
from election_testkit.replica import Record, Replica
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.faults.conftest import MakeCluster
from tests.faults.mounts import bind, can_mount, fill, mounts_under, remount, tmpfs, umount

pytestmark = [pytest.mark.e2e, pytest.mark.zk]


def _failed_over(replica: Replica, after: float, reason: str) -> Record:
    """The replica's step-down from Leader after `after`, caused by a failed write; its
    node is released right away."""
    down = replica.wait_for(
        lambda r: r.get("previous") == "Leader", SESSION_TIMEOUT + SLACK, "step-down", after
    )
    assert down["state"] == "Failover", down
    assert down["cause"].startswith("leader file write failed") and reason in down["cause"], down
    assert any(e["type"] == "ReleaseNode" for e in down["effects"]), down
    return down


def _skip_unless_mount_works(scratch: Path, what: str) -> None:
    if not can_mount(scratch):
        pytest.skip(
            f"mount is not allowed here (it needs root with CAP_SYS_ADMIN and no seccomp "
            f"filter in the way), and this test's fault is {what}"
        )


def test_file_dir_deleted_while_leading_is_recreated(
    zk_server: ZooKeeperServer, cluster: MakeCluster
) -> None:
    c = cluster(zk_server.connect_string)
    c.start(2)
    leader = c.wait_for_writing_leader(START_BOUND)

    deleted = now()
    shutil.rmtree(c.file_dir)
    _failed_over(leader, deleted, "ENOENT")
    released = first_record(leader, "NodeReleased", deleted)
    assert released is None or released["event"]["outcome"] == "ok"

    c.wait_one_leader_writing(RECOVERY_BOUND, deleted)
    assert c.file_dir.is_dir()
    c.assert_safe()


def test_read_only_file_dir_hands_leadership_to_a_replica_that_can_write(
    zk_server: ZooKeeperServer,
    cluster: MakeCluster,
    tmp_path: Path,
) -> None:
    _skip_unless_mount_works(tmp_path, "a bind mount of file-dir turned read-only")
    c = cluster(zk_server.connect_string)
    c.file_dir.mkdir(parents=True)
    # Each replica sees file-dir through its own bind mount, so one view alone can turn
    # read-only: this replica cannot write, the other can.
    views = {rid: c.workdir / f"view-{rid}" for rid in ("r0", "r1")}
    try:
        for rid, view in views.items():
            bind(c.file_dir, view)
            c.add(rid, file_dir=str(view)).start()
        leader = c.wait_for_writing_leader(START_BOUND)
        other = next(r for r in c if r is not leader)

        broken = now()
        remount(views[leader.id], read_only=True)
        _failed_over(leader, broken, "EROFS")
        try:
            new, _ = c.wait_one_leader_writing(RECOVERY_BOUND, broken)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{mounts_under(c.workdir)}") from None
        assert new is other
        # The broken one repairs with back-off: Init's check fails, and Failover checks
        # file-dir again on each tick, staying in Failover until the check passes.
        wait_until(lambda: len(leader.entered("Failover", broken)) >= 2, RECOVERY_BOUND, "no retry")
        rechecked = leader.entered("Failover", broken)[-1]["wall"]
        leader.wait_for(
            lambda r: (
                r["state"] == "Failover" and any(e["type"] == "CheckFileDir" for e in r["effects"])
            ),
            RECOVERY_BOUND,
            "a file-dir check from Failover",
            rechecked,
        )
        assert not leader.entered("Leader", broken + 0.5) or writes_of(leader, broken) == []

        fixed = now()
        remount(views[leader.id], read_only=False)
        assert os.access(views[leader.id], os.W_OK), mounts_under(c.workdir)
        try:
            leader.wait_for_state("Attempter", RECOVERY_BOUND, fixed)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{mounts_under(c.workdir)}") from None
        assert c.replicas.leaders() == [other]
        c.assert_safe()
    finally:
        c.close()
        for view in views.values():
            umount(view)


def test_full_file_dir_fails_over_and_recovers_when_space_returns(
    zk_server: ZooKeeperServer,
    cluster: MakeCluster,
    tmp_path: Path,
) -> None:
    _skip_unless_mount_works(tmp_path, "a full tmpfs under file-dir")
    # Capacity 100: no prune frees a page for the next file while the test runs.
    c = cluster(zk_server.connect_string, storage_capacity="100")
    tmpfs(c.file_dir, "256k")
    try:
        c.start(2)
        leader = c.wait_for_writing_leader(START_BOUND)

        full = now()
        filler = fill(c.file_dir)
        _failed_over(leader, full, "ENOSPC")
        # Nobody can write now; the replicas keep trying with back-off.
        wait_until(
            lambda: sum(len(r.entered("Failover", full)) for r in c) >= 3,
            RECOVERY_BOUND,
            c.replicas.describe,
        )
        assert not any(writes_of(r, full + 0.5) for r in c)

        filler.unlink()
        freed = now()
        c.wait_one_leader_writing(RECOVERY_BOUND, freed)
        c.wait_for_leader(RECOVERY_BOUND, settle=0.5)
        c.assert_safe()
    finally:
        c.close()
        umount(c.file_dir)


def test_journal_write_failure_exits_3_and_closes_the_session(
    zk_server: ZooKeeperServer, cluster: MakeCluster
) -> None:
    # Attempter timeout 30 s: only the closed session (the node deleted at once) can make
    # the successor quick.
    c = cluster(zk_server.connect_string, attempter_timeout="30s")
    c.start(2)
    leader = c.wait_for_writing_leader(START_BOUND)
    assert leader.pid is not None

    size = leader.journal.stat().st_size
    resource.prlimit(leader.pid, resource.RLIMIT_FSIZE, (size + 64, size + 64))
    limited = now()
    assert leader.wait(SESSION_TIMEOUT + SLACK) == 3, leader.log_tail()
    exited = now()

    new, _ = c.wait_one_leader_writing(RECOVERY_BOUND, limited)
    entered = new.entered("Leader", limited)[0]
    # Well before its session could have expired (it was closed, not abandoned).
    assert entered["wall"] - exited < SESSION_TIMEOUT, entered["wall"] - exited
    deleted = first_record(new, "NodeWatchFired", limited, kind="DELETED")
    assert deleted is not None and deleted["wall"] <= entered["wall"]
    # Its keeper closed the session once it had exited, and recorded how it ended.
    records = wait_until(
        lambda: _keeper_records(leader) if len(_keeper_records(leader)) >= 2 else None,
        5,
        lambda: f"keeper records: {_keeper_records(leader)}",
    )
    died, closed = records[0], records[-1]
    assert (died["type"], died["code"], died["said"]) == ("died", 3, True), records
    assert (closed["type"], closed["outcome"]) == ("session-closed", "closed"), records
    c.assert_safe()


def _keeper_records(replica: Replica) -> list[dict[str, object]]:
    path = record_path(replica.journal)
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
