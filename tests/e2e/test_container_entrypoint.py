"""The container's entry point without a container engine: run docker/Dockerfile's
ENTRYPOINT + CMD with the ELECTION_* environment it sets, on the host, against a real
ZooKeeper, and ask its HEALTHCHECK command the way the engine would.

Only what a container would change is changed: paths under /var/lib/election move into
tmp_path, the ZooKeeper address and election path are the test's, and the metrics port
(0.0.0.0:9100 in the image) becomes 127.0.0.1 on a free port, since tests use loopback
only and 9100 may be taken on a shared machine. `python` and `election` are this
environment's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from election.keeper.records import record_path
from election_testkit.filedir import leader_files
from election_testkit.replica import Replica
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer, free_port
from tests.unit.test_deploy_files import DOCKER, dockerfile_env, dockerfile_exec_form

pytestmark = [pytest.mark.e2e, pytest.mark.zk]

BIN = Path(sys.executable).parent
IMAGE_STATE = "/var/lib/election"


class EntrypointProcess(Replica):
    """A Replica whose command line is given whole (the image's, not `python -m`)."""

    def __init__(self, command: Sequence[str], **kwargs: object) -> None:
        super().__init__(args=[], **kwargs)  # type: ignore[arg-type]
        self._command = list(command)

    @property
    def command(self) -> list[str]:
        return self._command


def host_path(command: list[str]) -> list[str]:
    """The image's command with its programs (the init's, and the one it runs) taken from
    this environment's bin/."""
    program = {
        "election": str(BIN / "election"),
        "election-init": str(BIN / "election-init"),
        "python": sys.executable,
    }
    return [program.get(word, word) if i < 2 else word for i, word in enumerate(command)]


def run_healthcheck(env: dict[str, str]) -> int:
    command = host_path(dockerfile_exec_form(DOCKER / "Dockerfile", "HEALTHCHECK"))
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode


def test_image_entrypoint_leads_answers_healthz_and_stops_on_sigterm(
    zk_server: ZooKeeperServer, zk_path: str, tmp_path: Path
) -> None:
    image_env = dockerfile_env(DOCKER / "Dockerfile")
    port = free_port()
    env = {
        **{k: v.replace(IMAGE_STATE, str(tmp_path)) for k, v in image_env.items()},
        "ELECTION_METRICS_ADDRESS": image_env["ELECTION_METRICS_ADDRESS"].replace(
            "0.0.0.0:9100", f"127.0.0.1:{port}"
        ),
        "ELECTION_ZK_SERVERS": zk_server.connect_string,
        "ELECTION_ELECTION_PATH": zk_path,
        "ELECTION_REPLICA_ID": "container-1",
        "ELECTION_LEADER_TIMEOUT": "0.5s",
    }
    assert env["ELECTION_METRICS_ADDRESS"] == f"127.0.0.1:{port}"  # the port substitution
    file_dir = Path(env["ELECTION_FILE_DIR"])
    journal = Path(env["ELECTION_JOURNAL"])
    assert tmp_path in file_dir.parents and tmp_path in journal.parents
    command = host_path(
        dockerfile_exec_form(DOCKER / "Dockerfile", "ENTRYPOINT")
        + dockerfile_exec_form(DOCKER / "Dockerfile", "CMD")
    )
    assert command[2:] == ["run"]
    daemon = EntrypointProcess(
        command,
        replica_id="container-1",
        journal=journal,
        log_path=tmp_path / "container-1.log",
        env=env,
        cwd=tmp_path,
    )
    health_env = daemon.env  # the same environment the engine's `docker exec` would see

    # Before the daemon runs, the health check reports unhealthy.
    assert run_healthcheck(health_env) != 0
    daemon.start()
    try:
        daemon.wait_for_state("Leader", timeout=30)
        files = wait_until(lambda: leader_files(file_dir), 15, "no leader file in file-dir")
        assert files[0].content["replica"] == "container-1"
        wait_until(lambda: run_healthcheck(health_env) == 0, 15, daemon.log_tail)
        # JSON logs, as the image sets ELECTION_LOG_FORMAT=json
        first_line = daemon.log_path.read_text().splitlines()[0]
        assert first_line.startswith("{"), first_line

        daemon.terminate()
        assert daemon.wait(15) == 0, daemon.log_tail()
    finally:
        daemon.stop()
    deadline = time.monotonic() + 10
    while run_healthcheck(health_env) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run_healthcheck(health_env) != 0


def _can_unshare() -> bool:
    done = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, timeout=30
    )
    return done.returncode == 0


def _descendant(pid: int, program: str) -> int | None:
    """The first descendant of `pid` running the script `program` (its second word)."""
    todo = [pid]
    while todo:
        parent = todo.pop(0)
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            for child in children:
                try:
                    argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if len(argv) > 1 and os.path.basename(argv[1]) == program.encode():
                    return child
                todo.append(child)
    return None


def test_in_a_container_a_crashed_daemons_keeper_outlives_it_and_hands_over_at_once(
    zk_server: ZooKeeperServer, zk_path: str, tmp_path: Path
) -> None:
    """The image's entry point as a container's PID 1 (a PID namespace of its own, as an
    engine makes): SIGKILL the daemon, and its keeper still closes its session."""
    if not _can_unshare():
        pytest.skip("unshare --pid is not allowed here (it needs root, as `make test` runs)")
    session = 6.0
    entry = host_path(dockerfile_exec_form(DOCKER / "Dockerfile", "ENTRYPOINT"))
    flags = ["--zk-servers", zk_server.connect_string, "--election-path", zk_path,
             "--session-timeout", f"{session}s", "--metrics-address", "off",
             "--leader-timeout", "0.5s", "--file-dir", str(tmp_path / "files")]  # fmt: skip
    container = EntrypointProcess(
        ["unshare", "--pid", "--fork", "--mount-proc", *entry, *flags, "--replica-id", "c1"],
        replica_id="c1",
        journal=tmp_path / "c1.jsonl",
        log_path=tmp_path / "c1.log",
        env={"ELECTION_JOURNAL": str(tmp_path / "c1.jsonl")},
    )
    other = Replica(
        "r2",
        [*flags, "--replica-id", "r2", "--journal", str(tmp_path / "r2.jsonl")],
        tmp_path / "r2.jsonl",
        tmp_path / "r2.log",
    )
    container.start()
    try:
        container.wait_for_state("Leader", timeout=30)
        other.start()
        other.wait_for_state("Attempter", timeout=30)
        assert container.pid is not None
        init = wait_until(lambda: _descendant(container.pid or 0, "election-init"), 10, "init")
        daemon = wait_until(lambda: _descendant(init, "election"), 10, "no daemon")
        os.kill(daemon, signal.SIGKILL)
        killed = time.time()
        entered = other.wait_for(lambda r: r["state"] == "Leader", session + 5, "Leader", killed)
        assert entered["wall"] - killed < session / 2, entered["wall"] - killed
        # The container ends once the keeper is done, with the daemon's status.
        assert container.wait(15) == 137, container.log_tail()
        closed = [x for x in record_path(container.journal).read_text().splitlines()]
        assert any('"session-closed"' in x and '"closed"' in x for x in closed), closed
    finally:
        container.stop()
        other.stop()
