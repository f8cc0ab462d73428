"""A flag whose value only trying can check — a metrics port already taken, a journal
that cannot be opened — is refused like any invalid value: one line, exit 2, nothing
left behind."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "election", "run", "--zk-servers", "127.0.0.1:1", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_metrics_port_in_use_is_refused_and_no_journal_is_made(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run(
            "--metrics-address", f"127.0.0.1:{port}", "--journal", str(tmp_path / "j.jsonl")
        )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "--metrics-address (ELECTION_METRICS_ADDRESS)" in lines[0]
    assert "in use" in lines[0] and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_journal_that_cannot_be_opened_is_refused() -> None:
    done = _run("--metrics-address", "off", "--journal", "/proc/election-test.jsonl")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "--journal (ELECTION_JOURNAL)" in lines[0], done.stderr
