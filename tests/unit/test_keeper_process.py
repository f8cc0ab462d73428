"""The keeper with real processes: the lease holds when the daemon cannot.

A stand-in daemon (`DAEMON` below: the real keeper's handle with a lease source that
renews every 50 ms) starts a job with a family — a shell running a worker that has a child of
its own, each recording its SIGTERM — and is then SIGKILLed, or SIGSTOPped past the
lease. The job's side tells what happened (`election_testkit.family`).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election_testkit.family import FAMILY_JOB, FamilyLog
from election_testkit.waiting import wait_until
from tests.keeper_harness import KeeperHarness

ROOT = Path(__file__).resolve().parents[2]

# The daemon's side, as a process of its own: prints every event as a JSON line.
DAEMON = """
import attrs, json, queue, sys
from pathlib import Path
from election.core import effects as fx
from election.runtime.keeper import Keeper
from election.runtime.timers import ThreadTimerService
from tests.fixed_leases import FixedLeases
from tests.keeper_harness import KeeperHarness
lock, grace, lease, command = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
events = queue.SimpleQueue()
timers = ThreadTimerService()
sup = Keeper(events.put, timers, lock_path=Path(lock), env={}, start_deadline=5.0,
             grace=grace, leases=FixedLeases(timers, seconds=lease, every=0.05),
             config={"servers": [], "record": lock + ".keeper"})
sup.start()
sup.run(fx.StartChild(request=1, token=7, command=tuple(command)))
while True:
    event = events.get()
    fields = {k: v for k, v in attrs.asdict(event).items() if k != "at"}
    print(json.dumps({"type": type(event).__name__, **fields}), flush=True)
"""


class StandInDaemon:
    def __init__(self, tmp: Path, log: FamilyLog, grace: float, lease: float, **env: str) -> None:
        job = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAMILY_JOB))} & wait"
        args = [str(tmp / "job.lock"), str(grace), str(lease), "sh", "-c", job]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", DAEMON, *args],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "FAMILY_LOG": str(log.path), "FAMILY_MARK": str(tmp), **env},
        )

    def next_event(self) -> dict[str, object]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the stand-in daemon ended"
        event: dict[str, object] = json.loads(line)
        return event

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def family(tmp_path: Path) -> FamilyLog:
    return FamilyLog(tmp_path / "family.log")


def _whole_family(log: FamilyLog) -> list[int]:
    """Wait for the worker and its child; their pids."""

    def both() -> list[int] | None:
        pids = list(log.pids())
        return pids if len(pids) == 2 else None

    return wait_until(both, 10, lambda: f"family: {log.lines()}")


def test_a_sigkilled_daemon_takes_the_whole_job_with_it_sigterm_first(
    tmp_path: Path, family: FamilyLog
) -> None:
    daemon = StandInDaemon(tmp_path, family, grace=2.0, lease=3600.0)
    try:
        started = daemon.next_event()
        assert started["type"] == "ChildStarted" and started["outcome"] == "ok", started
        pids = _whole_family(family)
        daemon.proc.kill()  # not collected yet: the keeper reads its exit status
        wait_until(lambda: not family.alive(), 5, lambda: f"still alive: {family.alive()}")
        # The shell's worker and the worker's child: both told first, so they could
        # clean up (they exit on SIGTERM; nothing needed a SIGKILL).
        assert family.termed() == set(pids), family.lines()
        # The keeper recorded the death and the job's end beside the (here absent) journal.
        path = tmp_path / "job.lock.keeper"
        wait_until(lambda: path.exists() and "job-gone" in path.read_text(), 5, "no record")
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        kinds = {line["type"]: line for line in lines}
        assert {"died", "job-term", "job-gone"} <= set(kinds), lines
        assert (kinds["died"]["code"], kinds["died"]["signal"]) == (137, "SIGKILL")
        assert kinds["died"]["daemon"] == daemon.proc.pid
        assert kinds["died"]["wall"] <= kinds["job-term"]["wall"] <= kinds["job-gone"]["wall"]
    finally:
        daemon.close()


def test_a_daemon_collected_by_its_parent_at_once_is_recorded_without_its_status(
    tmp_path: Path, family: FamilyLog
) -> None:
    daemon = StandInDaemon(tmp_path, family, grace=2.0, lease=3600.0)
    try:
        assert daemon.next_event()["outcome"] == "ok"
        _whole_family(family)
        daemon.proc.kill()
        daemon.proc.wait(timeout=10)  # a parent waiting in waitpid collects it at once
        path = tmp_path / "job.lock.keeper"
        wait_until(lambda: path.exists() and "job-gone" in path.read_text(), 5, "no record")
        (died,) = [json.loads(x) for x in path.read_text().splitlines() if '"died"' in x]
        # Either the keeper read the zombie first, or the status is honestly unknown.
        assert (died["code"], died["signal"]) in ((137, "SIGKILL"), (None, "")), died
        assert died["said"] is False and died["job"]["token"] == 7
    finally:
        daemon.close()


def test_a_frozen_daemon_cannot_keep_its_job_past_the_lease(
    tmp_path: Path, family: FamilyLog
) -> None:
    # The job ignores SIGTERM: only the lease's SIGKILL ends it.
    daemon = StandInDaemon(tmp_path, family, grace=0.3, lease=1.0, FAMILY_IGNORE_TERM="1")
    try:
        assert daemon.next_event()["outcome"] == "ok"
        pids = _whole_family(family)
        daemon.proc.send_signal(signal.SIGSTOP)
        frozen_at = time.time()
        # The lease was at most 1 s ahead when the daemon froze: SIGTERM 0.3 s before its
        # end, SIGKILL at it. Checked while the daemon is still frozen (for 4 s).
        wait_until(lambda: not family.alive(), 3, lambda: f"still alive: {family.alive()}")
        assert daemon.proc.poll() is None and time.time() - frozen_at < 4.0
        assert family.termed() == set(pids), family.lines()  # told first, then killed
        last = max(family.last_beat().values())
        time.sleep(max(0.0, frozen_at + 4.0 - time.time()))
        daemon.proc.send_signal(signal.SIGCONT)
        # Woken up, the daemon learns what its keeper did, in order.
        expired = daemon.next_event()
        assert expired["type"] == "ChildLeaseExpired", expired
        assert "not extended" in str(expired["reason"])
        exited = daemon.next_event()
        assert exited["type"] == "ChildExited", exited
        # The shell died of the SIGTERM; its worker and the worker's child ignored it
        # and met the SIGKILL: ChildExited tells the shell's end, sent once all were gone.
        assert (exited["code"], exited["signal"]) == (143, "SIGTERM")
        assert last < frozen_at + 4.0
        # Its ran_for runs on the keeper's clock to the last process's end (the
        # SIGKILL at the lease, not the shell's exit 0.3 s before it), not to the wake.
        (started,) = [wall for kind, _, _, wall, _ in family.lines() if kind == "start"]
        ran_for = exited["ran_for"]
        assert isinstance(ran_for, float), exited
        assert started + ran_for >= last - 0.02, (exited, last - started)
        assert started + ran_for < frozen_at + 4.0
    finally:
        daemon.close()


class Harness(KeeperHarness):
    def __init__(self, tmp: Path, grace: float) -> None:
        self.log = FamilyLog(tmp / "family.log")
        super().__init__(
            tmp, grace, env={"FAMILY_LOG": str(self.log.path), "FAMILY_MARK": str(tmp)}
        )

    def start(self, *command: str) -> int:
        return self.start_job(command)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, grace=0.5)
    yield h
    h.close()


def test_a_stop_terms_the_whole_group_then_kills_what_ignores_it(harness: Harness) -> None:
    harness.env["FAMILY_IGNORE_TERM"] = "1"
    harness.sup._env["FAMILY_IGNORE_TERM"] = "1"
    pid = harness.start(sys.executable, str(FAMILY_JOB))
    pids = _whole_family(harness.log)
    asked = time.monotonic()
    harness.sup.run(fx.StopChild(pid=pid, grace=0.5))
    exited = harness.next(ev.ChildExited)
    assert isinstance(exited, ev.ChildExited)
    assert (exited.pid, exited.code, exited.signal) == (pid, 137, "SIGKILL")
    assert time.monotonic() - asked >= 0.45  # the grace was given
    assert harness.log.termed() == set(pids)  # both got SIGTERM first
    assert not harness.log.alive()  # ChildExited means the whole group is gone


def test_a_job_that_forks_and_exits_is_done_only_when_its_child_is(harness: Harness) -> None:
    # The worker exits at once; its child beats on in the job's process group.
    harness.env["FAMILY_SECONDS"] = "0"
    harness.sup._env["FAMILY_SECONDS"] = "0"
    harness.start(sys.executable, str(FAMILY_JOB))
    exited = harness.next(ev.ChildExited)
    assert isinstance(exited, ev.ChildExited) and exited.code == 0
    assert len(harness.log.pids()) in (1, 2)
    assert not harness.log.alive(), harness.log.lines()  # the child went first


def test_a_dead_keeper_takes_its_job_with_it_and_is_replaced(harness: Harness) -> None:
    pid = harness.start(sys.executable, str(FAMILY_JOB))
    _whole_family(harness.log)
    keeper = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert keeper == harness.sup.pid
    os.kill(keeper, signal.SIGKILL)
    exited = harness.next(ev.ChildExited)
    assert isinstance(exited, ev.ChildExited) and exited.signal == "SIGKILL"
    wait_until(lambda: not harness.log.alive(), 5, "the job outlived its keeper")
    # A new keeper takes over at once, and runs the next job.
    wait_until(lambda: harness.sup.pid not in (None, keeper), 5, "no new keeper")
    assert harness.sup.replaced == 1
    harness.env["FAMILY_SECONDS"] = "0"
    harness.sup._env["FAMILY_SECONDS"] = "0"
    harness.sup.run(fx.StartChild(request=2, token=8, command=(sys.executable, str(FAMILY_JOB))))
    started = harness.next(ev.ChildStarted)
    assert isinstance(started, ev.ChildStarted) and started.outcome is Outcome.OK, started


def test_the_keeper_dates_the_job_on_the_wall_clock(harness: Harness) -> None:
    # election-replay dates a job by `started_at` and `ran_for`, not by when the daemon
    # journaled them (late, when it was frozen): that span must hold all the job did.
    harness.env["FAMILY_SECONDS"] = "0.3"
    harness.sup._env["FAMILY_SECONDS"] = "0.3"
    before = time.time()
    harness.sup.run(fx.StartChild(request=1, token=7, command=(sys.executable, str(FAMILY_JOB))))
    started = harness.next(ev.ChildStarted)
    told = time.time()
    assert isinstance(started, ev.ChildStarted) and started.started_at is not None, started
    exited = harness.next(ev.ChildExited)
    gone = time.time()
    assert isinstance(exited, ev.ChildExited) and exited.code == 0, exited
    assert before <= started.started_at <= told
    walls = [wall for _, _, _, wall, _ in harness.log.lines()]
    assert walls, "the job recorded nothing"
    end = started.started_at + exited.ran_for
    assert started.started_at <= min(walls) and max(walls) <= end <= gone
