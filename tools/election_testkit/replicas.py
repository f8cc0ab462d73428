"""Replicas sharing one ZooKeeper, election path and file-dir (`ReplicaSet`).

Used by the end-to-end tests, the fault cluster and the benchmarks:

    replicas = ReplicaSet(tmp_path, zk.connect_string, zk_path, leader_timeout="0.3s")
    a, b, c = replicas.start(3)
    leader = replicas.wait_for_leader(timeout=15)
    leader.terminate(); assert leader.wait(10) == 0
    replicas.close()

Each replica gets its own ``--replica-id``, ``--journal`` (``<workdir>/<id>.jsonl``) and
log file (``<workdir>/<id>.log``, stdout and stderr); all share ``--file-dir`` and
``--election-path``.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from election_testkit.replica import Record, Replica
from election_testkit.waiting import wait_until


class ReplicaSet:
    """Replicas sharing one ZooKeeper, election path and file-dir, in ``workdir``.

    Keyword flags are the `election run` flags in Python spelling (``leader_timeout=
    "0.3s"``, ``file_dir=...``: default ``<workdir>/files``); each replica may override
    them in :meth:`add`. ``metrics_address`` is
    ``off`` unless given (``"127.0.0.1:0"`` picks a free port)."""

    DEFAULT_FLAGS: Mapping[str, str] = {
        "leader_timeout": "0.3s",
        "attempter_timeout": "30s",
        "storage_capacity": "3",
        "session_timeout": "2s",
        "metrics_address": "off",
        "log_level": "info",
    }

    def __init__(
        self,
        workdir: Path,
        zk_servers: str,
        election_path: str,
        **flags: str,
    ) -> None:
        self.env: dict[str, str] = {}  # extra environment of every replica (and its job)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.zk_servers = zk_servers
        self.election_path = election_path
        self.file_dir = Path(flags.pop("file_dir", self.workdir / "files"))
        self.flags = {**self.DEFAULT_FLAGS, **flags}
        self.replicas: list[Replica] = []

    def add(self, replica_id: str | None = None, **overrides: str) -> Replica:
        """A new (not yet started) replica."""
        replica_id = replica_id or f"r{len(self.replicas)}"
        journal = self.workdir / f"{replica_id}.jsonl"
        flags = {
            "zk_servers": self.zk_servers,
            "election_path": self.election_path,
            "file_dir": str(self.file_dir),
            "replica_id": replica_id,
            "journal": str(journal),
            **self.flags,
            **overrides,
        }
        args: list[str] = []
        for key, value in flags.items():
            args += ["--" + key.replace("_", "-"), str(value)]
        log_path = self.workdir / f"{replica_id}.log"
        replica = Replica(replica_id, args, journal, log_path, env=self.env)
        self.replicas.append(replica)
        return replica

    def start(self, n: int, **overrides: str) -> list[Replica]:
        """Add and start ``n`` replicas."""
        started = [self.add(**overrides).start() for _ in range(n)]
        return started

    def __iter__(self) -> Any:
        return iter(self.replicas)

    def __getitem__(self, i: int) -> Replica:
        return self.replicas[i]

    def running(self) -> list[Replica]:
        return [r for r in self.replicas if r.running]

    def states(self) -> dict[str, str | None]:
        return {r.id: r.state for r in self.replicas}

    def leaders(self) -> list[Replica]:
        """Running replicas whose journal's last record is in Leader."""
        return [r for r in self.replicas if r.is_leader()]

    def wait_for_leader(
        self, timeout: float, exclude: Iterable[Replica] = (), settle: float = 0.0
    ) -> Replica:
        """Wait until exactly one running replica (not in ``exclude``) is Leader and the
        others are not; with ``settle``, it must stay so that long."""
        excluded = {id(r) for r in exclude}

        def one() -> Replica | None:
            leaders = self.leaders()
            if len(leaders) == 1 and id(leaders[0]) not in excluded:
                return leaders[0]
            return None

        leader = wait_until(one, timeout, self.describe)
        if settle > 0:
            time.sleep(settle)
            leaders = self.leaders()
            assert leaders == [leader], f"leadership did not settle: {self.describe()}"
        return leader

    def wait_all(
        self, state: str, timeout: float, after_wall: float = float("-inf")
    ) -> dict[str, Record]:
        """Wait until every running replica has a record in ``state`` (at or after
        ``after_wall``); returns the first such record of each."""
        found: dict[str, Record] = {}

        def done() -> bool:
            for r in self.running():
                if r.id not in found:
                    record = r.find(lambda rec: rec["state"] == state, after_wall)
                    if record is not None:
                        found[r.id] = record
            return all(r.id in found for r in self.running())

        wait_until(done, timeout, lambda: f"not all in {state}: {self.describe()}")
        return found

    def describe(self) -> str:
        lines = [repr(r) for r in self.replicas]
        lines += [r.log_tail(12) for r in self.replicas]
        return "\n".join(lines)

    def close(self, timeout: float = 10.0) -> None:
        """Stop every replica still running (SIGTERM, then SIGKILL)."""
        for r in self.replicas:
            if r.running:
                with contextlib.suppress(Exception):
                    r.terminate()
        deadline = time.monotonic() + timeout
        for r in self.replicas:
            if r.proc is None:
                continue
            try:
                r.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                r.kill()
                r.proc.wait(timeout=10)

    def __enter__(self) -> ReplicaSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
