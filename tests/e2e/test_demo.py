"""`make demo` runs for real: ZooKeeper, three replicas, a leader's files, clean exits."""

from __future__ import annotations

import json
import subprocess
import sys
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
