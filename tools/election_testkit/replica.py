"""One real `election run` process, its journal and its log.

    replica = Replica("r0", ["--zk-servers", zk.connect_string, ...], journal, log_path)
    replica.start().wait_for_state("Leader", timeout=15)
    replica.terminate(); assert replica.wait(10) == 0

The state of a replica is the ``state`` of the last record of its journal (the journal
is the daemon's own account; nothing here talks to the daemon otherwise). Every wait is
bounded and polls with a deadline; a replica dies with the process that started it
(PR_SET_PDEATHSIG, from the main thread).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from election_testkit.waiting import WaitTimeout, wait_until
from journal import JournalError, read_journal

Record = dict[str, Any]


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


def _children_of(pid: int) -> list[int]:
    """The live children of process `pid`, from /proc."""
    children: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return children
    for task in tasks:
        with contextlib.suppress(OSError, ValueError):
            children += [
                int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()
            ]
    return children


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

    def keeper_pid(self) -> int | None:
        """The pid of this replica's keeper (the daemon's child running
        `election/keeper/__main__.py`), None while it has none."""
        pid = self.pid
        if pid is None:
            return None
        for child in _children_of(pid):
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(word.endswith(b"keeper/__main__.py") for word in argv[:4]):
                return child
        return None

    @property
    def running(self) -> bool:
        """Whether the process is alive. A dead one is left uncollected (a zombie) until
        `wait`, `stop` or `returncode`: its keeper reads how it died from its zombie's
        /proc entry, and a test that merely looked must not take that from it."""
        if self.proc is None or self.proc.returncode is not None:
            return False
        try:
            exited = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # collected meanwhile (by `wait` on another thread)
            return self.proc.poll() is None
        return exited is None

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
        """SIGKILL: the crash. The daemon releases nothing; its keeper stops its job and
        closes its session."""
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
