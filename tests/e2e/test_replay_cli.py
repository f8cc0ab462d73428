"""`election-replay` on the journals of a real run: three replicas, a graceful hand-over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import orjson
import pytest

REPLAY = Path(sys.executable).parent / "election-replay"

pytestmark = [pytest.mark.e2e, pytest.mark.zk]


def leader_pid(journals: Path) -> int | None:
    """The pid (from its journal header) of a replica that has become Leader, if any."""
    for path in sorted(journals.glob("*.jsonl")):
        lines = path.read_bytes().splitlines()
        if lines and any(b'"state":"Leader"' in line for line in lines[1:]):
            pid = orjson.loads(lines[0]).get("pid")
            return pid if isinstance(pid, int) else None
    return None


def test_replay_of_a_real_run_shows_the_hand_over(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "election_testkit.demo",
            "--duration",
            "5",
            "--leader-timeout",
            "500ms",
            "--attempter-timeout",
            "2s",
            "--workdir",
            str(work),
            "--metrics-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # Stop the first leader gracefully (its own pid, from its journal) for a hand-over.
        deadline = time.monotonic() + 4
        pid = None
        while pid is None and time.monotonic() < deadline:
            time.sleep(0.1)
            pid = leader_pid(work / "journal") if (work / "journal").exists() else None
        if pid is not None:
            time.sleep(0.5)
            os.kill(pid, signal.SIGTERM)
        output, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 0, output.decode(errors="replace")[-3000:]
    journals = sorted((work / "journal").glob("demo-*.jsonl"))
    assert len(journals) == 3

    done = subprocess.run([REPLAY, "--json", *journals], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    report = json.loads(done.stdout)
    assert report["events"] > 0
    assert report["divergences"] == [] and report["violations"] == []
    terms = report["leadership"]
    assert len(terms) >= 1
    for earlier, later in pairwise(terms):
        assert earlier["end"] is not None and earlier["end"] <= later["start"]
    if pid is not None:  # the hand-over is visible from the journals alone
        assert len(terms) >= 2 and terms[0]["replica"] != terms[1]["replica"]
        gap = report["handovers"][0]["gap"]
        assert 0 <= gap < 3.0
    # The human report runs on the same journals too (and exits the same way).
    human = subprocess.run([REPLAY, *journals], capture_output=True, text=True, timeout=60)
    assert human.returncode == 0 and "Leadership terms" in human.stdout
