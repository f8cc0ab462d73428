"""TLS to ZooKeeper: real `election run`s against a TLS-only ZooKeeper (Debian's package,
Netty, PEM key and trust stores, a client certificate required), with certificates the
test makes with openssl. A replica that trusts the right CA leads; one that trusts
another CA never connects, waits in Failover and exits 0 on SIGTERM."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from election_testkit.replicas import ReplicaSet
from election_testkit.zookeeper import ZooKeeperServer
from tests.conftest import _require_zookeeper
from tests.tls import Pki, make_pki

pytestmark = pytest.mark.zk


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[ZooKeeperServer]:
    _require_zookeeper()
    server = ZooKeeperServer(tmp_path_factory.mktemp("zk-tls"), tls=pki.server_tls("need"))
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def replicas(tmp_path: Path, tls_server: ZooKeeperServer, zk_path: str) -> Iterator[ReplicaSet]:
    # localhost: the certificate's SAN names it (and 127.0.0.1); the host name is checked.
    rs = ReplicaSet(tmp_path / "replicas", f"localhost:{tls_server.port}", zk_path)
    try:
        yield rs
    finally:
        rs.close()


def _tls_flags(pki: Pki, ca: Path) -> dict[str, str]:
    return {
        "zk_tls_ca": str(ca),
        "zk_tls_cert": str(pki.client_cert),
        "zk_tls_key": str(pki.client_key),
    }


def test_the_server_speaks_only_tls(tls_server: ZooKeeperServer) -> None:
    assert "Mode: standalone" in tls_server.four_letter_word("srvr")
    with socket.create_connection((tls_server.host, tls_server.port), timeout=5) as plain:
        plain.settimeout(5)
        plain.sendall(b"srvr")
        try:
            reply = plain.recv(4096)
        except OSError:  # reset: also a refusal
            reply = b""
    assert b"Mode" not in reply


def test_a_replica_leads_over_tls(replicas: ReplicaSet, pki: Pki) -> None:
    replica = replicas.add("tls-0", **_tls_flags(pki, pki.ca)).start()
    replica.wait_for_state("Leader", timeout=30)
    header = replica.header()
    assert header is not None and header["config"]["zk_tls"]["ca"] == str(pki.ca)
    replica.terminate()
    assert replica.wait(timeout=15) == 0


def test_a_replica_trusting_another_ca_waits_in_failover(replicas: ReplicaSet, pki: Pki) -> None:
    replica = replicas.add("tls-wrong-ca", **_tls_flags(pki, pki.other_ca)).start()
    first = replica.wait_for_state("Failover", timeout=30)
    replica.wait_for(
        lambda r: r["state"] == "Failover" and r["seq"] > first["seq"],
        timeout=30,
        what="a second Failover",
    )
    assert replica.running
    assert replica.entered("Leader") == [] and replica.entered("Attempter") == []
    assert "SessionConnected" not in replica.event_types()
    replica.terminate()
    assert replica.wait(timeout=15) == 0
    assert "CERTIFICATE_VERIFY_FAILED" in replica.log_path.read_text()
