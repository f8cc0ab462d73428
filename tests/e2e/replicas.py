"""Start and stop real `election run` processes and read what they journaled.

Used by the end-to-end tests and by `tools/bench/handover.py`:

    replicas = ReplicaSet(tmp_path, zk.connect_string, zk_path, leader_timeout="0.3s")
    a, b, c = replicas.start(3)
    leader = replicas.wait_for_leader(timeout=15)
    leader.terminate(); assert leader.wait(10) == 0
    replicas.close()

Each replica gets its own ``--replica-id``, ``--journal`` (``<workdir>/<id>.jsonl``) and
log file (``<workdir>/<id>.log``, stdout and stderr); all share ``--file-dir`` and
``--election-path``. Every wait is bounded and polls with a deadline. The state of a
replica is the ``state`` of the last record of its journal (the journal is the daemon's
own account; nothing here talks to the daemon otherwise).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from election.core.leaderfiles import parse_leader_file_name
from journal import JournalError, read_journal

__all__ = [
    "LeaderFile",
    "Record",
    "Replica",
    "ReplicaSet",
    "WaitTimeout",
    "leader_files",
    "leadership_intervals",
    "overlaps",
    "wait_until",
]

T = TypeVar("T")

Record = dict[str, Any]


class WaitTimeout(AssertionError):
    """A bounded wait ran out (an AssertionError so pytest shows it as a failure)."""


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    message: str | Callable[[], str] = "condition not met",
    interval: float = 0.02,
) -> T:
    """Poll ``predicate`` until it returns something truthy; return that value.

    Raises WaitTimeout after ``timeout`` seconds (the predicate is tried once more at
    the deadline, so a slow machine never fails a check that did become true)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            value = predicate()
            if value:
                return value
            text = message() if callable(message) else message
            raise WaitTimeout(f"after {timeout:g}s: {text}")
        time.sleep(interval)


# ----------------------------------------------------------------- process hygiene

_PR_SET_PDEATHSIG = 1
try:  # resolved in the parent: nothing is loaded between fork and exec
    _prctl: Callable[..., int] | None = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - non-Linux
    _prctl = None


def _die_with_parent() -> None:  # in the child, between fork and exec
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _clean_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    """The parent's environment without ELECTION_* (a stray variable must not change a
    test), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELECTION_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("COLUMNS", "200")  # rich wraps narrower logs; keep one line per record
    env.update(extra or {})
    return env


# ----------------------------------------------------------------------- one replica


class Replica:
    """One `election run` process, its journal and its log."""

    def __init__(
        self,
        replica_id: str,
        args: Sequence[str],
        journal: Path,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.id = replica_id
        self.args = list(args)
        self.journal = journal
        self.log_path = log_path
        self.env = _clean_env(env)
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_wall: float | None = None
        self.killed_wall: float | None = None  # time.time() just before SIGKILL
        self.signalled_wall: float | None = None  # time.time() just before the last signal

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "election", "run", *self.args]

    # --- lifecycle
    def start(self) -> Replica:
        if self.running:
            raise RuntimeError(f"replica {self.id} is already running")
        in_main = threading.current_thread() is threading.main_thread()
        with open(self.log_path, "ab") as log:
            self.started_wall = time.time()
            self.proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # Ctrl-C reaches the test runner only
                preexec_fn=_die_with_parent if in_main else None,
            )
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None, "not started"
        self.signalled_wall = time.time()
        if sig == signal.SIGKILL:
            self.killed_wall = self.signalled_wall
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)

    def terminate(self) -> None:
        """SIGTERM: the graceful stop."""
        self.send_signal(signal.SIGTERM)

    def interrupt(self) -> None:
        self.send_signal(signal.SIGINT)

    def kill(self) -> None:
        """SIGKILL: the crash; nothing is released, the session must expire."""
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float) -> int:
        """The exit status; raises WaitTimeout (the process is left running) if it does
        not exit within ``timeout`` seconds."""
        assert self.proc is not None, "not started"
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise WaitTimeout(
                f"replica {self.id} did not exit within {timeout:g}s; "
                f"last state {self.state}\n{self.log_tail()}"
            ) from None

    def stop(self, timeout: float = 10.0) -> int | None:
        """Always-safe teardown: SIGTERM, bounded wait, then SIGKILL."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    # --- the journal
    def runs(self) -> list[Any]:
        """The journal's runs (header + records); [] while the file is not there yet."""
        try:
            return read_journal(self.journal).runs
        except JournalError as exc:
            if exc.line == 0 or (exc.line == 1 and "empty" in exc.message):
                return []  # not created yet, or created and not yet written
            raise

    def header(self) -> Record | None:
        runs = self.runs()
        return runs[0].header if runs else None

    def records(self) -> list[Record]:
        """Every record of every run, in file order."""
        return [record for run in self.runs() for record in run.records]

    def last_record(self) -> Record | None:
        records = self.records()
        return records[-1] if records else None

    @property
    def state(self) -> str | None:
        """The current state: that of the journal's last record (None before any)."""
        record = self.last_record()
        return None if record is None else record["state"]

    def is_leader(self) -> bool:
        return self.running and self.state == "Leader"

    def find(
        self, predicate: Callable[[Record], bool], after_wall: float = float("-inf")
    ) -> Record | None:
        """The first record matching ``predicate`` with wall >= ``after_wall``."""
        for record in self.records():
            if record["wall"] >= after_wall and predicate(record):
                return record
        return None

    def wait_for(
        self,
        predicate: Callable[[Record], bool],
        timeout: float,
        what: str = "a matching record",
        after_wall: float = float("-inf"),
    ) -> Record:
        return wait_until(
            lambda: self.find(predicate, after_wall),
            timeout,
            lambda: f"replica {self.id}: no {what}; state {self.state}\n{self.log_tail()}",
        )

    def wait_for_state(
        self, state: str, timeout: float, after_wall: float = float("-inf")
    ) -> Record:
        """The first record that shows ``state`` (at or after ``after_wall``)."""
        return self.wait_for(
            lambda r: r["state"] == state, timeout, f"record in state {state}", after_wall
        )

    def entered(self, state: str, after_wall: float = float("-inf")) -> list[Record]:
        """Records where the replica entered ``state`` (a state change, or the first)."""
        out = []
        previous = None
        for record in self.records():
            if record["state"] == state and previous != state and record["wall"] >= after_wall:
                out.append(record)
            previous = record["state"]
        return out

    def event_types(self) -> list[str]:
        return [r["event"]["type"] for r in self.records()]

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"--- {self.id}: (no log)"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- {self.id} log ({self.log_path}):\n{tail}"

    def __repr__(self) -> str:
        status = "running" if self.running else f"exited {self.returncode}"
        return f"<Replica {self.id} pid={self.pid} {status} state={self.state}>"


# ------------------------------------------------------------------ leadership math


def leadership_intervals(replica: Replica, now: float | None = None) -> list[tuple[float, float]]:
    """(start, end) wall intervals during which ``replica`` was Leader, from its journal.

    A term starts at the first record in Leader and ends at the next record in another
    state. A term still open at the journal's end ends at the SIGKILL time if the
    process was killed, else at ``now`` (default: time.time())."""
    intervals: list[tuple[float, float]] = []
    start: float | None = None
    for record in replica.records():
        if record["state"] == "Leader":
            if start is None:
                start = record["wall"]
        elif start is not None:
            intervals.append((start, record["wall"]))
            start = None
    if start is not None:
        if replica.killed_wall is not None and replica.killed_wall >= start:
            end = replica.killed_wall
        else:
            end = time.time() if now is None else now
        intervals.append((start, end))
    return intervals


def overlaps(replicas: Iterable[Replica]) -> list[str]:
    """Descriptions of every pair of leadership terms of different replicas that
    overlap in wall time (empty when leadership was exclusive)."""
    now = time.time()
    terms = [(r.id, s, e) for r in replicas for s, e in leadership_intervals(r, now)]
    found = []
    for i, (id_a, s_a, e_a) in enumerate(terms):
        for id_b, s_b, e_b in terms[i + 1 :]:
            if id_a != id_b and s_a < e_b and s_b < e_a:
                found.append(
                    f"{id_a} [{s_a:.3f}, {e_a:.3f}] overlaps {id_b} [{s_b:.3f}, {e_b:.3f}]"
                )
    return found


class LeaderFile:
    """One file of the daemon's exact name pattern, read from file-dir."""

    def __init__(self, name: str, token: int, seq: int, content: Record) -> None:
        self.name = name
        self.token = token
        self.seq = seq
        self.content = content

    @property
    def written_wall(self) -> float:
        """``written_at`` (RFC 3339 UTC) as Unix seconds."""
        import datetime as dt

        text = str(self.content["written_at"]).replace("Z", "+00:00")
        return dt.datetime.fromisoformat(text).timestamp()

    def __repr__(self) -> str:
        return f"<LeaderFile {self.name} {self.content}>"


def leader_files(file_dir: Path) -> list[LeaderFile]:
    """The daemon's files in ``file_dir`` (exact pattern, regular files), in name order.
    A file pruned between listing and reading is skipped."""
    out = []
    try:
        names = sorted(os.listdir(file_dir))
    except FileNotFoundError:
        return []
    for name in names:
        parsed = parse_leader_file_name(name)
        if parsed is None:
            continue
        path = file_dir / name
        if path.is_symlink():
            continue
        try:
            content = json.loads(path.read_text())
        except FileNotFoundError:
            continue
        out.append(LeaderFile(name, parsed[0], parsed[1], content))
    return out


# ---------------------------------------------------------------------- the replicas


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
