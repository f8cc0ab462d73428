"""`make demo` runs for real: ZooKeeper, three replicas, a leader's files, clean exits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_demo_elects_a_leader_that_writes_files_and_stops_cleanly(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "election_testkit.demo",
            "--duration",
            "4",
            "--leader-timeout",
            "500ms",
            "--workdir",
            str(work),
            "--metrics-port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "replicas exited with [0, 0, 0]" in done.stdout
    # Without a terminal the demo ends with one `election top` snapshot of the cluster.
    assert "election top --once exited with 0" in done.stdout
    assert "3 replicas; leader demo-" in done.stdout
    for index in (1, 2, 3):
        assert f"demo-{index}" in done.stdout
        assert (work / "logs" / f"demo-{index}.log").stat().st_size > 0
    files = sorted((work / "files").glob("election-*.json"))
    assert 1 <= len(files) <= 5
    writers = {json.loads(f.read_text())["replica"] for f in files}
    assert len(writers) == 1 and writers <= {"demo-1", "demo-2", "demo-3"}


def test_a_replica_killed_during_the_demo_is_part_of_it(tmp_path: Path) -> None:
    """The README invites `pkill -KILL` of a replica: the demo still exits 0, says so,
    and its journals tell the kill as a crash if that replica led."""
    work = tmp_path / "demo"
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "election_testkit.demo",
            "--duration",
            "6",
            "--leader-timeout",
            "500ms",
            "--session-timeout",
            "2s",
            "--workdir",
            str(work),
            "--metrics-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        journal = work / "journal" / "demo-2.jsonl"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (journal.exists() and journal.stat().st_size > 0):
            time.sleep(0.1)
        time.sleep(1.0)
        pid = json.loads(journal.read_text().splitlines()[0])["pid"]
        os.kill(pid, signal.SIGKILL)
        output, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 0, output[-2000:]
    assert "killed by a signal, as the demo invites: demo-2 (SIGKILL)" in output
    assert "election-replay" in output and str(work / "journal") in output
