"""ZooKeeper authentication and ACLs, against a real ZooKeeper and real `election run`s.

With `--zk-auth digest:user:password` the election node, its parents and the member nodes
grant ALL to that identity and READ to the world: a client without the credential can
look (and `election top` works) but not delete or change them. A replica with a wrong
credential, none, or one ZooKeeper refuses outright waits in Failover and exits 0 on
SIGTERM; the credential never reaches the journal or the log.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import ACL, Id, Permissions, make_digest_acl_credential

from election_testkit.replicas import ReplicaSet
from election_testkit.zookeeper import ZooKeeperServer

pytestmark = pytest.mark.zk

USER, PASSWORD = "election", "s3cret-pw"
CREDENTIAL = f"digest:{USER}:{PASSWORD}"
OURS = Id("digest", make_digest_acl_credential(USER, PASSWORD))
EXPECTED_ACL = {ACL(Permissions.ALL, OURS), ACL(Permissions.READ, Id("world", "anyone"))}
# ZooKeeper masks digest hashes for a client without ADMIN on the node.
AS_THE_WORLD_SEES_IT = {
    ACL(Permissions.ALL, Id("digest", f"{USER}:x")),
    ACL(Permissions.READ, Id("world", "anyone")),
}


@pytest.fixture
def zk_path() -> str:
    """A path under a root of our own: the ACLs made here would lock other tests out of
    the shared server's /election-tests if we created it."""
    return f"/election-auth-tests/{uuid.uuid4().hex}/leader"


@pytest.fixture
def replicas(tmp_path: Path, zk_server: ZooKeeperServer, zk_path: str) -> Iterator[ReplicaSet]:
    rs = ReplicaSet(tmp_path / "replicas", zk_server.connect_string, zk_path)
    try:
        yield rs
    finally:
        rs.close()


@pytest.fixture
def anonymous(zk_server: ZooKeeperServer) -> Iterator[KazooClient]:
    client = KazooClient(hosts=zk_server.connect_string, timeout=4.0)
    client.start(timeout=15)
    try:
        yield client
    finally:
        client.stop()
        client.close()


@pytest.fixture
def privileged(zk_server: ZooKeeperServer) -> Iterator[KazooClient]:
    client = KazooClient(
        hosts=zk_server.connect_string, timeout=4.0, auth_data=[("digest", f"{USER}:{PASSWORD}")]
    )
    client.start(timeout=15)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def _auth_file(tmp_path: Path, text: str = CREDENTIAL) -> Path:
    path = tmp_path / "zk-auth"
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def _acl(client: KazooClient, path: str) -> set[ACL]:
    acls, _ = client.get_acls(path)
    return {ACL(acl.perms, Id(acl.id.scheme, acl.id.id)) for acl in acls}


def test_nodes_grant_all_to_the_credential_and_only_read_to_the_world(
    replicas: ReplicaSet,
    anonymous: KazooClient,
    privileged: KazooClient,
    zk_path: str,
    tmp_path: Path,
) -> None:
    leader = replicas.add("r0", zk_auth_file=str(_auth_file(tmp_path))).start()
    leader.wait_for_state("Leader", timeout=20)
    parent = zk_path.rsplit("/", 1)[0]
    member = f"{parent}/members/r0"
    (name,) = privileged.get_children(zk_path)
    node = f"{zk_path}/{name}"  # the leader's queue node
    paths = (node, zk_path, parent, parent.rsplit("/", 1)[0], f"{parent}/members", member)
    for path in paths:
        assert _acl(privileged, path) == EXPECTED_ACL, path
        assert _acl(anonymous, path) == AS_THE_WORLD_SEES_IT, path

    data, _ = anonymous.get(node)  # the world reads
    assert data == b"r0"
    with pytest.raises(NoAuthError):
        anonymous.delete(node)
    with pytest.raises(NoAuthError):
        anonymous.set(node, b"fake leader")
    with pytest.raises(NoAuthError):
        anonymous.create(f"{zk_path}/intruder-0000000000-0000000000")  # no queue-jumping
    with pytest.raises(NoAuthError):
        anonymous.delete(member)
    with pytest.raises(NoAuthError):
        anonymous.create(f"{parent}/intruder")
    assert leader.is_leader()

    # `election top` needs no credential to read the members.
    command = [sys.executable, "-m", "election", "top", "--once"]
    command += ["--zk-servers", replicas.zk_servers, "--election-path", zk_path]
    top = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert top.returncode == 0, top.stderr
    assert "r0" in top.stdout and "Leader" in top.stdout

    leader.terminate()
    assert leader.wait(timeout=15) == 0
    # The secret is nowhere in what the replica wrote; the header shows it redacted.
    header = leader.header()
    assert header is not None
    assert header["config"]["zk_auth"] == f"digest:{USER}:***"
    assert PASSWORD not in leader.journal.read_text()
    assert PASSWORD not in leader.log_path.read_text()


def test_replicas_with_the_credential_hand_over(
    replicas: ReplicaSet, zk_path: str, tmp_path: Path
) -> None:
    first = replicas.add("a", zk_auth=CREDENTIAL).start()
    first.wait_for_state("Leader", timeout=20)
    second = replicas.add("b", zk_auth=CREDENTIAL).start()
    second.wait_for_state("Attempter", timeout=20)
    first.terminate()
    assert first.wait(timeout=15) == 0
    second.wait_for_state("Leader", timeout=15)


@pytest.mark.parametrize(
    "credential",
    [f"digest:{USER}:wrong-password", None],
    ids=["wrong-password", "no-credential"],
)
def test_a_replica_without_the_right_credential_waits_in_failover(
    replicas: ReplicaSet, credential: str | None
) -> None:
    leader = replicas.add("good", zk_auth=CREDENTIAL).start()
    leader.wait_for_state("Leader", timeout=20)
    leader.terminate()  # the node goes; its parents and their ACL stay
    assert leader.wait(timeout=15) == 0

    flags = {} if credential is None else {"zk_auth": credential}
    outsider = replicas.add("outsider", **flags).start()
    failover = outsider.wait_for(
        lambda r: r["state"] == "Failover" and "NoAuth" in r.get("cause", ""),
        timeout=20,
        what="Failover because of NoAuth",
    )
    assert "lets only digest:election create" in failover["cause"]
    # It keeps retrying with back-off, never leads, and stops cleanly.
    outsider.wait_for(
        lambda r: r["state"] == "Failover" and r["seq"] > failover["seq"] + 3,
        timeout=20,
        what="a later Failover",
    )
    assert outsider.entered("Leader") == []
    assert outsider.running
    outsider.terminate()
    assert outsider.wait(timeout=15) == 0
    if credential is not None:
        assert "wrong-password" not in outsider.log_path.read_text()


def test_a_credential_zookeeper_refuses_waits_in_failover_not_a_crash_loop(
    replicas: ReplicaSet,
) -> None:
    replica = replicas.add("refused", zk_auth="nosuchscheme:whatever").start()
    first = replica.wait_for(
        lambda r: r["state"] == "Failover" and r["event"]["type"] == "SessionLost",
        timeout=20,
        what="Failover after the refused authentication",
    )
    # Each retry reconnects, is refused again and goes back to Failover: still alive.
    replica.wait_for(
        lambda r: r["event"]["type"] == "SessionLost" and r["seq"] > first["seq"],
        timeout=20,
        what="a second refusal",
    )
    assert replica.running
    assert replica.entered("Leader") == []
    replica.terminate()
    assert replica.wait(timeout=15) == 0
    assert "AUTH_FAILED" in replica.log_path.read_text()
