"""`election top` and `election run --tui` in a real terminal (tmux), against a real
ZooKeeper with three replicas: what an operator sees, read back with `capture-pane`."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.e2e.conftest import MakeReplicaSet


class Tmux:
    """A private tmux server (its own socket): sessions of 160x50, read by capture-pane."""

    def __init__(self, workdir: Path) -> None:
        self.socket = f"election-test-{uuid.uuid4().hex[:12]}"
        self.workdir = workdir

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )

    def start(self, name: str, command: list[str]) -> Path:
        """Run `command` in a new detached session; returns the file its exit status
        lands in once it ends."""
        status = self.workdir / f"{name}.exit"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ELECTION_")}
        env.update(TERM="xterm-256color", PYTHONUNBUFFERED="1")
        env.pop("COLUMNS", None)
        env.pop("LINES", None)
        script = (
            f"cd {shlex.quote(str(self.workdir))}; "
            f"env -i {shlex.join(f'{k}={v}' for k, v in env.items())} {shlex.join(command)}; "
            f"echo $? > {shlex.quote(str(status))}; sleep 30"
        )
        done = self._run("new-session", "-d", "-s", name, "-x", "160", "-y", "50", script)
        assert done.returncode == 0, done.stderr
        return status

    def capture(self, name: str) -> str:
        return self._run("capture-pane", "-p", "-t", name).stdout

    def keys(self, name: str, *keys: str) -> None:
        self._run("send-keys", "-t", name, *keys)

    def close(self) -> None:
        self._run("kill-server")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    server = Tmux(tmp_path)
    try:
        yield server
    finally:
        server.close()


def row(screen: str, replica: str) -> str:
    """The table row of `replica` in a capture of `election top` ('' if not there)."""
    for line in screen.splitlines():
        if re.search(rf"│ {re.escape(replica)} +│", line):
            return line
    return ""


def in_state(line: str) -> str:
    match = re.search(r"│ +(\d+(?:\.\d)?s|\d+m\d\ds) │", line)
    return match.group(1) if match else ""


def wait_screen(tmux: Tmux, name: str, ok: object, what: str, timeout: float = 20) -> str:
    assert callable(ok)
    return wait_until(
        lambda: (lambda s: s if ok(s) else None)(tmux.capture(name)),
        timeout,
        lambda: f"{name}: {what}; screen:\n{tmux.capture(name)}",
        interval=0.1,
    )


def test_top_and_tui_show_three_replicas_live_in_a_real_terminal(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet, tmux: Tmux
) -> None:
    rs = replica_set(zk_server.connect_string, zk_path, metrics_address="127.0.0.1:0")
    rs.start(2)
    leader = rs.wait_for_leader(15)
    tui_replica = rs.add("r2")  # the third one draws its own view
    tui_exit = tmux.start("tui", [*tui_replica.command, "--tui"])
    top_exit = tmux.start(
        "top",
        [
            sys.executable,
            "-m",
            "election",
            "top",
            "--zk-servers",
            zk_server.connect_string,
            "--election-path",
            zk_path,
        ],
    )

    def all_three(screen: str) -> bool:
        return all(row(screen, r) for r in ("r0", "r1", "r2")) and "Attempter" in row(screen, "r2")

    first = wait_screen(tmux, "top", all_three, "three replicas, r2 an Attempter")
    leader_row = row(first, leader.id)
    assert "Leader" in leader_row and "│ * │" in leader_row, first
    for other in {"r0", "r1", "r2"} - {leader.id}:
        assert "Attempter" in row(first, other) and "│ * │" not in row(first, other), first
    assert f"leader {leader.id}" in first

    def tui_attempter(screen: str) -> bool:
        return bool(re.search(r"state\s+Attempter", screen)) and "SessionConnected" in screen

    tui_first = wait_screen(tmux, "tui", tui_attempter, "r2 in Attempter")
    assert "election · r2 · " in tui_first and "connected 0x" in tui_first, tui_first
    # A non-leader shows who leads now, and since when (read from ZooKeeper, not the core).
    leads = re.compile(rf"leader\s+{leader.id} since \d\d:\d\d:\d\d \(")
    tui_first = wait_screen(tmux, "tui", lambda s: bool(leads.search(s)), "who leads")
    (tmux.workdir / "tui.txt").write_text(tui_first)
    (tmux.workdir / "top.txt").write_text(first)

    time.sleep(1.5)
    second = tmux.capture("top")
    assert in_state(row(second, "r2")) not in ("", in_state(row(first, "r2"))), (first, second)
    tui_second = tmux.capture("tui")
    ticks = [re.search(r"in state\s+(\S+)", s) for s in (tui_first, tui_second)]
    assert ticks[0] and ticks[1] and ticks[0].group(1) != ticks[1].group(1), (tui_first, tui_second)

    # A hand-over shows: the leader stops, another replica is marked.
    leader.terminate()
    assert leader.wait(15) == 0

    def new_leader(screen: str) -> bool:
        marked = [r for r in ("r0", "r1", "r2") if "│ * │" in row(screen, r)]
        return len(marked) == 1 and marked[0] != leader.id and not row(screen, leader.id)

    wait_screen(tmux, "top", new_leader, "a new leader marked, the old one gone")

    # q quits top; Ctrl-C stops the TUI replica gracefully.
    tmux.keys("top", "q")
    wait_until(top_exit.exists, 10, "top did not quit on q")
    assert top_exit.read_text().strip() == "0"
    tmux.keys("tui", "C-c")
    wait_until(tui_exit.exists, 15, lambda: f"TUI replica did not stop:\n{tmux.capture('tui')}")
    assert tui_exit.read_text().strip() == "0"
    with contextlib.suppress(Exception):
        rs.close()


def test_top_once_prints_a_snapshot_for_scripts(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    rs = replica_set(zk_server.connect_string, zk_path)
    rs.start(3)
    leader = rs.wait_for_leader(15)
    rs.wait_all("Attempter", 15)

    def snapshot() -> str | None:
        done = subprocess.run(
            [sys.executable, "-m", "election", "top", "--once"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "ELECTION_ZK_SERVERS": zk_server.connect_string,
                 "ELECTION_ELECTION_PATH": zk_path, "COLUMNS": "160"},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        ok = all(row(done.stdout, r) for r in ("r0", "r1", "r2"))
        return done.stdout if ok and "│ * │" in row(done.stdout, leader.id) else None

    out = wait_until(snapshot, 20, "top --once never showed all three with the leader")
    assert "3 replicas; leader" in out
