"""The daemon's side of its keeper with real processes: start, stop, grace, groups, the
machine's job lock, reaping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from tests.keeper_harness import KeeperHarness

ROOT = Path(__file__).resolve().parents[2]


class Harness(KeeperHarness):
    def __init__(self, tmp: Path, grace: float = 1.0, deadline: float = 5.0) -> None:
        env = {"ELECTION_REPLICA": "r1", "ELECTION_ELECTION_PATH": "/e/leader"}
        super().__init__(tmp, grace, deadline, env)

    def start(self, script: str, token: int = 7) -> int:
        return self.start_job((sys.executable, "-c", textwrap.dedent(script)), token)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_file(path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} never written")


def test_job_gets_its_term_in_its_environment(harness: Harness) -> None:
    out = harness.tmp / "env.txt"
    harness.start(
        f"""
        import os
        keys = ["ELECTION_LEADER", "ELECTION_TOKEN", "ELECTION_REPLICA", "ELECTION_ELECTION_PATH"]
        open({str(out)!r}, "w").write(" ".join(os.environ[k] for k in keys) + "\\n")
        """,
        token=4242,
    )
    assert _wait_file(out) == "1 4242 r1 /e/leader\n"
    exited = harness.next(ev.ChildExited)
    assert isinstance(exited, ev.ChildExited) and exited.code == 0


def test_stop_sends_sigterm_to_the_job(harness: Harness) -> None:
    ready = harness.tmp / "ready"
    pid = harness.start(f"import time; open({str(ready)!r}, 'w').write('x\\n'); time.sleep(60)")
    _wait_file(ready)
    harness.sup.run(fx.StopChild(pid=pid, grace=5.0))
    exited = harness.next(ev.ChildExited)
    assert isinstance(exited, ev.ChildExited)
    assert (exited.pid, exited.code, exited.signal) == (pid, 143, "SIGTERM")
    assert not _alive(pid)  # reaped: no zombie left either


def test_a_job_that_ignores_sigterm_is_killed_after_the_grace(harness: Harness) -> None:
    ready = harness.tmp / "ready"
    pid = harness.start(
        f"""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open({str(ready)!r}, "w").write("x\\n")
        time.sleep(60)
        """
    )
    _wait_file(ready)
    asked = time.monotonic()
    harness.sup.run(fx.StopChild(pid=pid, grace=0.5))
    exited = harness.next(ev.ChildExited)
    assert isinstance(exited, ev.ChildExited) and exited.signal == "SIGKILL"
    assert exited.code == 137
    assert time.monotonic() - asked >= 0.45


def test_grandchildren_are_stopped_with_the_job(harness: Harness) -> None:
    grandchild_pid = harness.tmp / "grandchild.pid"
    pid = harness.start(
        f"""
        import subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(grandchild_pid)!r}, "w").write(f"{{p.pid}}\\n")
        time.sleep(60)
        """
    )
    grandchild = int(_wait_file(grandchild_pid))
    assert _alive(grandchild)
    harness.sup.run(fx.StopChild(pid=pid, grace=2.0))
    harness.next(ev.ChildExited)
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    # It was our grandchild's child, not ours: once dead, init reaps it.
    assert not _alive(grandchild) or Path(f"/proc/{grandchild}/stat").read_text().split()[2] == "Z"


def test_a_command_that_cannot_run_fails_to_start_saying_why(harness: Harness) -> None:
    harness._request += 1
    harness.sup.run(fx.StartChild(request=harness._request, token=1, command=("/nonexistent/job",)))
    started = harness.next(ev.ChildStarted)
    assert isinstance(started, ev.ChildStarted) and started.outcome is Outcome.FAILED
    assert "cannot run '/nonexistent/job'" in started.reason, started.reason


def test_a_second_job_on_this_machine_waits_until_the_first_is_gone(tmp_path: Path) -> None:
    first, second = Harness(tmp_path), Harness(tmp_path)  # two daemons, one lock file
    try:
        ready = tmp_path / "ready"
        pid = first.start(f"import time; open({str(ready)!r}, 'w').write('x\\n'); time.sleep(60)")
        _wait_file(ready)
        second._request += 1
        marker = tmp_path / "second"
        second.sup.run(
            fx.StartChild(
                request=second._request,
                token=9,
                command=(sys.executable, "-c", f"open({str(marker)!r}, 'w').write('y\\n')"),
            )
        )
        time.sleep(0.5)
        assert not marker.exists()  # the lock holds it back while the first job runs
        first.sup.run(fx.StopChild(pid=pid, grace=2.0))
        first.next(ev.ChildExited)
        started = second.next(ev.ChildStarted)
        assert isinstance(started, ev.ChildStarted) and started.outcome is Outcome.OK
        assert _wait_file(marker) == "y\n"
        # The second job is done: no lock file is left behind (none piles up in $TMPDIR).
        second.next(ev.ChildExited)
        assert not (tmp_path / "job.lock").exists()
    finally:
        first.close()
        second.close()


def test_a_start_that_cannot_get_the_lock_in_time_is_unknown(tmp_path: Path) -> None:
    first, second = Harness(tmp_path), Harness(tmp_path, deadline=0.5)
    try:
        ready = tmp_path / "ready"
        first.start(f"import time; open({str(ready)!r}, 'w').write('x\\n'); time.sleep(60)")
        _wait_file(ready)
        second._request += 1
        second.sup.run(fx.StartChild(request=second._request, token=9, command=("true",)))
        started = second.next(ev.ChildStarted)
        assert isinstance(started, ev.ChildStarted) and started.outcome is not Outcome.OK
        assert started.outcome is Outcome.UNKNOWN or "lock" in started.reason, started
    finally:
        first.close()
        second.close()


DAEMON = """
import queue, sys, time
from pathlib import Path
from election.core import effects as fx
from election.runtime.keeper import Keeper
from election.runtime.timers import ThreadTimerService
from tests.fixed_leases import FixedLeases
from tests.keeper_harness import KeeperHarness
events = queue.SimpleQueue()
timers = ThreadTimerService()
sup = Keeper(events.put, timers, lock_path=Path(sys.argv[1]), env={}, start_deadline=5.0,
             grace=1.0, leases=FixedLeases(timers), config={"servers": []})
sup.start()
sup.run(fx.StartChild(request=1, token=1, command=("sleep", "60")))
print(events.get(timeout=10).pid, flush=True)
time.sleep(60)
"""


def test_a_sigkilled_daemon_does_not_leave_its_job_running(tmp_path: Path) -> None:
    daemon = subprocess.Popen(
        [sys.executable, "-c", DAEMON, str(tmp_path / "job.lock")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert daemon.stdout is not None
        job = int(daemon.stdout.readline())
        assert _alive(job)
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _alive(job) and time.monotonic() < deadline:
            time.sleep(0.02)
        stat = Path(f"/proc/{job}/stat")
        assert not stat.exists() or stat.read_text().split()[2] == "Z"
    finally:
        if daemon.poll() is None:
            daemon.kill()
