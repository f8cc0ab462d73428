"""The deployment files say what the docs promise: docker/compose.yaml runs a 3-node
ZooKeeper ensemble, three replicas sharing one file-dir and Prometheus scraping them;
docker/Dockerfile runs `election run` as a non-root user with a /healthz check; the
systemd unit restarts on failure, stops with SIGTERM within a timeout above the daemon's
stop deadline, reads ELECTION_* from an environment file and is hardened."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from election.config import DEFAULTS, FLAGS, envvar_name, flag_name
from election.durations import parse_duration
from election.flags import DEFAULT_GRACE

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DEPLOY = ROOT / "deploy"
STOP_DEADLINE = 5.0  # the daemon's stop deadline (README: "within a 5 s deadline")


# ------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def dockerfile_env(path: Path) -> dict[str, str]:
    """The `ENV KEY=value` settings (one per line, as the Dockerfile keeps them)."""
    env: dict[str, str] = {}
    for word, rest in dockerfile_instructions(path):
        if word == "ENV":
            for item in shlex.split(rest):
                key, sep, value = item.partition("=")
                assert sep, f"ENV without '=': {rest}"
                env[key] = value
    return env


def dockerfile_exec_form(path: Path, instruction: str) -> list[str]:
    """The JSON array of an exec-form instruction (ENTRYPOINT, CMD, or HEALTHCHECK's CMD)."""
    for word, rest in dockerfile_instructions(path):
        if word == instruction == "HEALTHCHECK":
            _, _, command = rest.partition(" CMD ")
            value = json.loads(command)
        elif word == instruction:
            value = json.loads(rest)
        else:
            continue
        assert isinstance(value, list)
        return [str(v) for v in value]
    raise AssertionError(f"no {instruction} in {path}")


def test_dockerfile_runs_election_run_as_a_non_root_user_on_slim_python() -> None:
    steps = dockerfile_instructions(DOCKER / "Dockerfile")
    words = [w for w, _ in steps]
    froms = [rest for w, rest in steps if w == "FROM"]
    assert froms == ["python:3.11-slim"]
    users = [rest for w, rest in steps if w == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    # The package is installed from the repository, and USER comes after the install.
    assert any(w == "RUN" and "pip install" in rest and " ." in rest for w, rest in steps)
    assert words.index("USER") > max(
        i for i, (w, rest) in enumerate(steps) if w == "RUN" and "pip install" in rest
    )
    entrypoint = dockerfile_exec_form(DOCKER / "Dockerfile", "ENTRYPOINT")
    assert entrypoint == ["election-init", "election", "run"]  # the keeper outlives PID 1's child
    assert ("STOPSIGNAL", "SIGTERM") in steps


def test_dockerfile_serves_metrics_on_all_interfaces_and_checks_healthz() -> None:
    env = dockerfile_env(DOCKER / "Dockerfile")
    assert env["ELECTION_METRICS_ADDRESS"] == "0.0.0.0:9100"
    assert all(k.startswith(("ELECTION_", "PYTHON", "PIP_")) for k in env), env
    election_vars = {k for k in env if k.startswith("ELECTION_")}
    assert election_vars <= {envvar_name(flag_name(k)) for k in FLAGS}
    health = dockerfile_exec_form(DOCKER / "Dockerfile", "HEALTHCHECK")
    assert health[:2] == ["python", "-c"], "slim images have no curl: use the stdlib"
    assert "/healthz" in health[2] and "ELECTION_METRICS_ADDRESS" in health[2]
    compile(health[2], "<healthcheck>", "exec")  # the one-liner is valid Python


# ---------------------------------------------------------------------- compose.yaml


def compose() -> dict[str, Any]:
    data = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def services_with_image(prefix: str) -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in compose()["services"].items()
        if str(svc.get("image", "")).startswith(prefix)
    }


def test_compose_runs_a_three_node_zookeeper_ensemble() -> None:
    zks = services_with_image("zookeeper")
    assert len(zks) == 3, sorted(zks)
    ids = sorted(int(svc["environment"]["ZOO_MY_ID"]) for svc in zks.values())
    assert ids == [1, 2, 3]
    for name, svc in zks.items():
        servers = svc["environment"]["ZOO_SERVERS"].split()
        assert len(servers) == 3, servers
        # server.N names the service whose ZOO_MY_ID is N, so the peers find each other.
        me = svc["environment"]["ZOO_MY_ID"]
        assert any(s.startswith(f"server.{me}={name}:") for s in servers), (name, servers)
        assert svc["healthcheck"]["test"], name


def test_compose_runs_three_replicas_sharing_one_file_dir() -> None:
    replicas = {
        name: svc
        for name, svc in compose()["services"].items()
        if svc.get("build", {}).get("dockerfile") == "docker/Dockerfile"
    }
    assert len(replicas) == 3, sorted(replicas)
    zks = sorted(services_with_image("zookeeper"))
    image_file_dir = dockerfile_env(DOCKER / "Dockerfile")["ELECTION_FILE_DIR"]
    ids: set[str] = set()
    journals: set[str] = set()
    host_ports: set[str] = set()
    for name, svc in replicas.items():
        env = svc["environment"]
        assert sorted(h.split(":")[0] for h in env["ELECTION_ZK_SERVERS"].split(",")) == zks
        file_dir = env.get("ELECTION_FILE_DIR", image_file_dir)
        assert f"file-dir:{file_dir}" in svc["volumes"], (name, svc["volumes"])
        ids.add(env["ELECTION_REPLICA_ID"])
        journals.add(env["ELECTION_JOURNAL"])
        host_ports.update(p.split(":")[0] for p in svc.get("ports", []))
        assert parse_duration(svc["stop_grace_period"]) > STOP_DEADLINE, name
        assert svc["stop_signal"] == "SIGTERM"
        assert "/healthz" in " ".join(svc["healthcheck"]["test"]), name
        assert svc["restart"] == "on-failure"
    assert len(ids) == len(journals) == len(host_ports) == 3
    assert "file-dir" in compose()["volumes"]


def test_prometheus_scrapes_every_replica_on_its_metrics_port() -> None:
    proms = services_with_image("prom/prometheus")
    assert len(proms) == 1
    (svc,) = proms.values()
    mounts = [v.split(":") for v in svc["volumes"]]
    assert ["./prometheus.yml", "/etc/prometheus/prometheus.yml", "ro"] in mounts
    assert "healthcheck" in svc
    config = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    replicas = [n for n, s in compose()["services"].items() if "build" in s]
    port = compose()["services"][replicas[0]]["environment"]["ELECTION_METRICS_ADDRESS"]
    assert {f"{name}:{port.rpartition(':')[2]}" for name in replicas} <= targets


# --------------------------------------------------------------------------- systemd


def unit_keys(path: Path) -> dict[str, dict[str, list[str]]]:
    """section -> key -> every value (systemd allows a key to repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"not a key=value line: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def env_file(path: Path) -> tuple[dict[str, str], set[str]]:
    """(the variables set, every ELECTION_* variable named at all, commented or not)."""
    text = path.read_text()
    active = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            active[key] = value
    return active, set(re.findall(r"\bELECTION_[A-Z_]+\b", text))


def test_systemd_unit_restarts_on_failure_and_stops_gracefully() -> None:
    service = unit_keys(DEPLOY / "election.service")["Service"]
    assert service["Restart"] == ["on-failure"]
    assert service["KillSignal"] == ["SIGTERM"]
    # above the stop deadline, which with a job (--exec) is its grace (3 s at most by
    # default) + 5 s
    assert parse_duration(service["TimeoutStopSec"][0]) > DEFAULT_GRACE + STOP_DEADLINE
    assert service["EnvironmentFile"] == ["/etc/election/election.env"]
    assert service["ExecStart"][0].endswith("/election run")
    # exit 2 is invalid configuration: a restart cannot fix it
    assert "2" in service["RestartPreventExitStatus"][0].split()


def test_systemd_unit_is_hardened_and_may_write_only_file_dir_and_journal() -> None:
    service = unit_keys(DEPLOY / "election.service")["Service"]
    assert service.get("DynamicUser") == ["yes"] or service.get("User", ["root"])[0] != "root"
    assert service["ProtectSystem"] == ["strict"]
    assert service["NoNewPrivileges"] == ["yes"]
    writable = service["ReadWritePaths"][0].split()
    active, _ = env_file(DEPLOY / "election.env")
    assert active["ELECTION_FILE_DIR"] in writable
    assert str(Path(active["ELECTION_JOURNAL"]).parent) in writable


def test_sample_environment_file_documents_every_election_variable() -> None:
    active, named = env_file(DEPLOY / "election.env")
    expected = {envvar_name(flag_name(key)) for key in FLAGS}
    assert named == expected, f"missing {expected - named}, unknown {named - expected}"
    for line in (DEPLOY / "election.env").read_text().splitlines():
        if line.startswith("#ELECTION_"):  # a commented-out line shows the default
            key, _, value = line[1:].partition("=")
            flag = key.removeprefix("ELECTION_").lower()
            if flag in DEFAULTS:
                assert value == DEFAULTS[flag], (key, value, DEFAULTS[flag])
    # The values set are valid: the daemon's own validation accepts them.
    from election.config import build_settings

    raw: dict[str, object] = {key: DEFAULTS.get(key) for key in FLAGS}
    raw["zk_servers"] = (DEFAULTS["zk_servers"],)
    for key, value in active.items():
        flag = key.removeprefix("ELECTION_").lower()
        raw[flag] = (value,) if flag == "zk_servers" else value
    build_settings(raw)


def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` checks every key and that ExecStart exists, so it runs on
    a copy whose ExecStart points at this environment's `election`. `make test` installs
    it (Debian's systemd package); without it the test is skipped, saying so."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd: make zookeeper)")
    election = Path(sys.executable).parent / "election"
    unit = tmp_path / "election.service"
    unit.write_text(
        (DEPLOY / "election.service")
        .read_text()
        .replace("/opt/election/bin/election", str(election))
    )
    assert str(election) in unit.read_text()
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Unknown key" not in result.stderr and "Unknown section" not in result.stderr
