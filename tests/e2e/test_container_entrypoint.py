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

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

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
    """The image's command with its programs taken from this environment's bin/."""
    program = {"election": str(BIN / "election"), "python": sys.executable}
    return [program.get(command[0], command[0]), *command[1:]]


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
    assert command[1:] == ["run"]
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
