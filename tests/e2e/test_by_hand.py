"""The README's "Two replicas by hand", as a new user types it: a ZooKeeper from the kit
(`python -m election_testkit.zookeeper`, after `make venv` and `make zookeeper`), two
`election run`s, Ctrl-C on the leader, and the other leads. On a port of the test's own
rather than 2181: the machine is shared."""

from __future__ import annotations

import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from election_testkit.waiting import wait_until
from election_testkit.zookeeper import free_port
from election_testkit.zookeeper.probes import server_mode
from tests.e2e.conftest import MakeReplicaSet


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The process's first line of stdout, within `timeout` seconds ('' if none)."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return proc.stdout.readline()


def test_the_kits_zookeeper_serves_two_replicas_by_hand_until_ctrl_c(
    tmp_path: Path, replica_set: MakeReplicaSet
) -> None:
    port = free_port()
    zookeeper = subprocess.Popen(
        [sys.executable, "-m", "election_testkit.zookeeper", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _first_line(zookeeper, 60)
        assert line.startswith(f"ZooKeeper serving on 127.0.0.1:{port} (data and log in "), line + (
            zookeeper.stderr.read() if zookeeper.poll() is not None and zookeeper.stderr else ""
        )
        assert line.rstrip().endswith("Ctrl-C stops it")
        workdir = Path(line.split("data and log in ", 1)[1].split(")", 1)[0])
        replicas = replica_set(f"127.0.0.1:{port}", "/election/leader")
        r1, r2 = replicas.add("r1"), replicas.add("r2")
        r1.start()
        r2.start()
        leader = replicas.wait_for_leader(20)
        other = r2 if leader is r1 else r1
        # The one that waits says whom it waits behind (it said only `Init -> Attempter`).
        said = f"{leader.id} leads the queue; waiting behind it (1 ahead of us)"
        wait_until(lambda: said in other.log_path.read_text(), 10, other.log_tail)
        leader.interrupt()  # Ctrl-C in the leader's terminal
        assert leader.wait(15) == 0
        assert replicas.wait_for_leader(20) is other
        assert other.log_path.read_text().count(said) == 1
        other.interrupt()
        assert other.wait(15) == 0
        zookeeper.send_signal(signal.SIGINT)  # Ctrl-C in ZooKeeper's terminal
        assert zookeeper.wait(30) == 0
        assert not workdir.exists()  # its temporary data went with it
        deadline = time.monotonic() + 10
        while server_mode("127.0.0.1", port, timeout=0.5) is not None:
            assert time.monotonic() < deadline, "ZooKeeper still serves after Ctrl-C"
            time.sleep(0.1)
    finally:
        if zookeeper.poll() is None:
            zookeeper.kill()
            zookeeper.wait(10)
