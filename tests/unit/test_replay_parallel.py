"""`run_forked`: results in order, the first error in order, a dead child is an error
(not a hang), and Ctrl-C stops the children with the parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from election_replay.parallel import ChildDied, run_forked


def _square(n: int) -> int:
    if n == 13:
        raise ValueError("unlucky 13")
    if n == 66:
        os._exit(7)  # dies without a word, as under the OOM killer
    return n * n


def test_results_come_back_in_order() -> None:
    items = [5, 1, 4, 2, 3]
    assert run_forked(_square, items, 2, name=str) == [25, 1, 16, 4, 9]


def test_the_first_error_in_order_is_raised() -> None:
    with pytest.raises(ValueError, match="unlucky 13"):
        run_forked(_square, [1, 13, 66, 2], 4, name=str)


def test_a_child_that_dies_is_an_error_naming_its_item() -> None:
    with pytest.raises(ChildDied, match=r"^66: .*exit code 7"):
        run_forked(_square, [1, 66, 2], 2, name=str)


def test_ctrl_c_stops_parent_and_children(tmp_path: Path) -> None:
    script = tmp_path / "slow.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, time
            from election_replay.parallel import run_forked
            def slow(n):
                time.sleep(30)
                return n
            print("started", flush=True)
            run_forked(slow, [1, 2, 3], 3, name=str)
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a process group of its own, as a terminal gives
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"started\n"
    deadline = time.monotonic() + 10
    while _group(proc.pid) < 4 and time.monotonic() < deadline:  # parent + 3 children
        time.sleep(0.05)
    assert _group(proc.pid) == 4
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
    _, err = proc.communicate(timeout=10)
    assert proc.returncode != 0
    assert b"KeyboardInterrupt" in err  # the parent's; the children say nothing
    assert err.count(b"Traceback") == 1, err.decode()
    assert _group(proc.pid) == 0


def _group(pgid: int) -> int:
    out = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True).stdout
    return len(out.split())
