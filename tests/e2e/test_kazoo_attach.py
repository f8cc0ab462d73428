"""On a kazoo whose inside the job's lease cannot read, `election run --exec` refuses to
start (one line, exit 2, nothing made), and a daemon without a job runs on, saying once
that the granted session timeout stays unknown.

The kazoo is the installed one with its connection handler's `_invoke` replaced, at the
daemon's start (a `sitecustomize` on PYTHONPATH), by one of another signature, as a
release might change it: kazoo itself still works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from election_testkit.replica import Replica
from election_testkit.zookeeper import ZooKeeperServer

ANOTHER_INVOKE = """
import kazoo.protocol.connection as connection
kazoos_own = connection.ConnectionHandler._invoke
def _invoke(self, *args, **kwargs):
    return kazoos_own(self, *args, **kwargs)
connection.ConnectionHandler._invoke = _invoke
"""


@pytest.fixture
def another_kazoo(tmp_path: Path) -> dict[str, str]:
    """The environment of a daemon whose kazoo has another `_invoke`."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(ANOTHER_INVOKE)
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


def test_a_job_is_refused_on_a_kazoo_the_lease_cannot_read(
    tmp_path: Path, another_kazoo: dict[str, str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ELECTION_")}
    done = subprocess.run(
        [
            sys.executable, "-m", "election", "run", "--zk-servers", "127.0.0.1:1",
            "--metrics-address", "127.0.0.1:0", "--journal", str(work / "j.jsonl"),
            "--file-dir", str(work / "files"), "--exec", "/bin/sleep 60",
        ],
        capture_output=True, text=True, timeout=30, env={**clean, **another_kazoo},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("election: invalid --exec (ELECTION_EXEC): the job's lease cannot")
    assert "_invoke takes (args, kwargs), not (timeout, request, xid)" in line
    assert list(work.iterdir()) == []  # nothing made: no journal, no file-dir


@pytest.mark.zk
def test_without_a_job_the_daemon_runs_on(
    tmp_path: Path, another_kazoo: dict[str, str], zk_server: ZooKeeperServer, zk_path: str
) -> None:
    replica = Replica(
        "solo",
        [
            "--zk-servers", zk_server.connect_string, "--election-path", zk_path,
            "--replica-id", "solo", "--journal", str(tmp_path / "solo.jsonl"),
            "--file-dir", str(tmp_path / "files"), "--leader-timeout", "0.2s",
            "--metrics-address", "off",
        ],
        tmp_path / "solo.jsonl",
        tmp_path / "solo.log",
        env=another_kazoo,
    )  # fmt: skip
    replica.start()
    try:
        replica.wait_for(lambda r: r["event"]["type"] == "FileWritten", 20.0, "a file written")
        assert replica.state == "Leader"
    finally:
        assert replica.stop() == 0
    log = replica.log_path.read_text()
    assert log.count("the session timeout ZooKeeper grants stays unknown") == 1, log
