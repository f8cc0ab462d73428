"""Which run of a process held a member node (`Incarnation`): a restarted replica takes
the place of its own dead run, never that of a live process or another host's."""

from __future__ import annotations

import os
import subprocess
import sys

from election.runtime.incarnation import Incarnation, started

HERE = Incarnation.current()


def test_the_current_process_knows_its_start() -> None:
    assert HERE.pid == os.getpid() and HERE.started == started(os.getpid()) is not None


def test_another_host_is_never_ours_to_replace() -> None:
    gone = Incarnation(host="elsewhere", pid=999_999_999, started=1)
    assert not gone.replaceable_by(HERE)


def test_this_pid_is_ours_whatever_its_start() -> None:
    # A container's daemon is pid 1 in every run.
    assert Incarnation(host=HERE.host, pid=HERE.pid, started=1).replaceable_by(HERE)
    assert Incarnation(host=HERE.host, pid=HERE.pid, started=HERE.started).replaceable_by(HERE)


def test_a_process_that_is_gone_is_replaced_and_one_that_runs_is_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        running = Incarnation(host=HERE.host, pid=child.pid, started=started(child.pid))
        assert not running.replaceable_by(HERE)
        # Its pid, taken by another process (another start): not the run that held it.
        reused = Incarnation(host=HERE.host, pid=child.pid, started=(running.started or 0) + 1)
        assert reused.replaceable_by(HERE)
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # dead, not yet reaped
        assert started(child.pid) is None  # a zombie does not run
        assert running.replaceable_by(HERE)
    finally:
        child.kill()
        child.wait()
    assert running.replaceable_by(HERE)  # reaped: gone
