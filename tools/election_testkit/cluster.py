"""A cluster of replicas for fault injection: tests/faults, tools/chaos, tools/bench/faults.py.

- `Links`: one `TcpProxy` per ZooKeeper server for one replica, so that replica alone can
  be partitioned (`blackhole`) and healed; its connect string lists its proxies.
- `Cluster`: replicas (`ReplicaSet`) on one election path and file-dir (optionally each
  with a TMPDIR of its own, as on its own machine), a
  `FileDirRecorder`, and the verdict of `election-replay` over their journals
  (`election_testkit.verdict`).
- What a replica's journal says of its work: its leader files written, a first record.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from election_testkit.filedir import FileDirRecorder
from election_testkit.measures import journal_writes
from election_testkit.proxy import TcpProxy
from election_testkit.replica import Record, Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.verdict import Verdict, judge
from election_testkit.waiting import wait_until

# The fault suite's timing: tickTime 200 ms (the ZooKeeper fixture's), short sessions
# and cadences.
SESSION_TIMEOUT = 2.0
LEADER_TIMEOUT = 0.2
ATTEMPTER_TIMEOUT = 1.0
# "exactly one leader again within session timeout + attempter timeout after the fault
# ends", plus room for a loaded 2-core machine (back-off, interpreter scheduling).
SLACK = 8.0
RECOVERY_BOUND = SESSION_TIMEOUT + ATTEMPTER_TIMEOUT + SLACK
START_BOUND = 25.0


class Links:
    """A replica's own way to ZooKeeper: one proxy per server."""

    def __init__(self, servers: Sequence[str]) -> None:
        self.proxies = []
        for server in servers:
            host, port = server.rsplit(":", 1)
            self.proxies.append(TcpProxy(host, int(port)))

    @property
    def connect_string(self) -> str:
        return ",".join(p.connect_string for p in self.proxies)

    @property
    def blackholed(self) -> bool:
        return any(p.blackholed for p in self.proxies)

    def blackhole(self) -> None:
        for p in self.proxies:
            p.blackhole()

    def heal(self) -> None:
        for p in self.proxies:
            p.heal()

    def close(self) -> None:
        for p in self.proxies:
            p.close()


def _watching(record: Record) -> bool:
    """An Attempter's answered read of a node ahead of it in the queue (its watch set)."""
    event = record["event"]
    return (
        record["state"] == "Attempter"
        and event["type"] == "NodeRead"
        and event.get("exists") is True
    )


def _flags(**flags: str) -> dict[str, str]:
    base = {
        "session_timeout": f"{SESSION_TIMEOUT:g}s",
        "leader_timeout": f"{LEADER_TIMEOUT:g}s",
        "attempter_timeout": f"{ATTEMPTER_TIMEOUT:g}s",
        "storage_capacity": "10",
    }
    base.update(flags)
    return base


class Cluster:
    """Replicas sharing an election path and file-dir, optionally each behind `Links`."""

    def __init__(
        self,
        workdir: Path,
        zk_servers: str,
        *,
        proxied: bool = False,
        machines: bool = False,
        election_path: str | None = None,
        **flags: str,
    ) -> None:
        self.workdir = Path(workdir)
        self.zk_servers = zk_servers
        self.proxied = proxied
        # Each replica as on a machine of its own: its own TMPDIR, so the machine-wide
        # job lock (which lives there) cannot serialise the jobs of two replicas.
        self.machines = machines
        path = election_path or f"/faults/{uuid.uuid4().hex}/leader"
        self.replicas = ReplicaSet(self.workdir, zk_servers, path, **_flags(**flags))
        self.file_dir = self.replicas.file_dir
        self.links: dict[str, Links] = {}
        self.recorder = FileDirRecorder(self.file_dir).start()

    def add(self, replica_id: str | None = None, **overrides: str) -> Replica:
        replica_id = replica_id or f"r{len(self.replicas.replicas)}"
        if self.proxied:
            links = Links(self.zk_servers.split(","))
            self.links[replica_id] = links
            overrides.setdefault("zk_servers", links.connect_string)
        replica = self.replicas.add(replica_id, **overrides)
        if self.machines:
            tmp = self.workdir / "machines" / replica_id
            tmp.mkdir(parents=True, exist_ok=True)
            replica.env["TMPDIR"] = str(tmp)
        return replica

    def start(self, n: int, **overrides: str) -> list[Replica]:
        return [self.add(**overrides).start() for _ in range(n)]

    def __iter__(self) -> Iterator[Replica]:
        return iter(self.replicas.replicas)

    def by_id(self, replica_id: str) -> Replica:
        return next(r for r in self if r.id == replica_id)

    @property
    def journals(self) -> list[Path]:
        return [r.journal for r in self]

    # --- waiting
    def wait_for_leader(
        self, timeout: float, exclude: Sequence[Replica] = (), settle: float = 0.0
    ) -> Replica:
        return self.replicas.wait_for_leader(timeout, exclude=exclude, settle=settle)

    def wait_for_writing_leader(self, timeout: float) -> Replica:
        """The leader, once it has written at least two files (settled into its work), and
        every other running replica waiting on a watch of a node ahead of it: a fault
        injected then finds the cluster settled, its successor ready to take over by the
        watch (on a loaded machine a replica may start a second after the first)."""
        leader = self.wait_for_leader(timeout, settle=0.3)
        wait_until(lambda: len(writes_of(leader)) >= 2, 10.0, self.replicas.describe)
        for follower in self:
            if follower is not leader and follower.running:
                follower.wait_for(_watching, timeout, "watch of a node ahead of it")
        return leader

    def wait_one_leader_writing(self, timeout: float, after_wall: float) -> tuple[Replica, float]:
        """Exactly one running replica in Leader that has written a file after
        `after_wall`; returns it and the wall time of that write."""

        def one() -> tuple[Replica, float] | None:
            leaders = self.replicas.leaders()
            if len(leaders) != 1:
                return None
            w = first_write(leaders[0], after_wall)
            return (leaders[0], w["wall"]) if w is not None else None

        return wait_until(one, timeout, self.replicas.describe, interval=0.05)

    # --- the end
    def verdict(self) -> Verdict:
        """`election-replay`'s verdict over every journal, the files seen checked against
        them."""
        self.recorder.sample()
        return judge(self.journals, self.recorder)

    def assert_safe(self) -> Verdict:
        """The replay found no divergence and no violation, and the journals account for
        every leader file seen on disk."""
        verdict = self.verdict()
        assert verdict.ok, verdict.explain() + "\n" + self.replicas.describe()
        # Not a vacuous pass: files were written, seen on disk, and replayed.
        assert journal_writes(self.journals) and self.recorder.seen, "no leader file written"
        assert verdict.replay.get("events", 0) > 0
        return verdict

    def close(self) -> None:
        for r in self:
            if r.running:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(r.pid or -1, 18)  # SIGCONT: a stopped replica cannot stop
        for links in self.links.values():
            links.heal()
        self.replicas.close()
        self.recorder.stop()
        for links in self.links.values():
            links.close()


# --------------------------------------------------------------- journal helpers


def writes_of(replica: Replica, after_wall: float = float("-inf")) -> list[Record]:
    """The replica's successful FileWritten records at or after `after_wall`."""
    return [
        r
        for r in replica.records()
        if r["wall"] >= after_wall
        and r["event"]["type"] == "FileWritten"
        and r["event"]["outcome"] == "ok"
    ]


def first_write(replica: Replica, after_wall: float = float("-inf")) -> Record | None:
    found = writes_of(replica, after_wall)
    return found[0] if found else None


def last_write(replica: Replica) -> Record | None:
    found = writes_of(replica)
    return found[-1] if found else None


def first_record(
    replica: Replica, event_type: str, after_wall: float = float("-inf"), **fields: object
) -> Record | None:
    return replica.find(
        lambda r: (
            r["event"]["type"] == event_type
            and all(r["event"].get(k) == v for k, v in fields.items())
        ),
        after_wall,
    )


def now() -> float:
    return time.time()
