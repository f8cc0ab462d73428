"""`election status`, `pause`, `resume`, `handover` and `top --once` against a real
ZooKeeper, with the replicas' nodes made by hand: the queue node of the leader's kazoo
session at the head of the candidates' queue, member nodes of as many others
(`FakeCluster`). What the replicas do when they
read the controls is the core's; here a test thread plays that part where a command
waits for it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import pytest
from click.testing import CliRunner, Result
from kazoo.client import KazooClient
from kazoo.security import ACL, Id, Permissions, make_digest_acl_credential

from election.cli import main
from election.control import decode_handover, decode_pause, handover_path, pause_path
from election.core.queue import head, node_prefix
from election.observe.members import member_document, members_path
from election.runtime.zookeeper import node_acl
from election.security import ZkAuth
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer, free_port
from tests.conftest import KazooFactory

pytestmark = pytest.mark.zk

USER, PASSWORD = "ops", "Op3rator-pw"
CREDENTIAL = f"digest:{USER}:{PASSWORD}"
AUTH = ZkAuth(scheme="digest", credential=f"{USER}:{PASSWORD}")


class FakeCluster:
    """Replicas as ZooKeeper sees them: each a session with its member node; the leader's
    session heads the queue, its node marked (in office)."""

    def __init__(
        self, make: KazooFactory, servers: str, path: str, auth: ZkAuth | None = None
    ) -> None:
        self.make = make
        self.servers = servers
        self.path = path
        self.auth = auth
        self.sessions: dict[str, KazooClient] = {}
        self.priorities: dict[str, int] = {}
        self.nodes: dict[str, str] = {}  # replica -> its queue node's path

    def _client(self) -> KazooClient:
        if self.auth is None:
            return self.make(self.servers)
        return self.make(
            self.servers,
            auth_data=[(self.auth.scheme, self.auth.credential)],
            default_acl=node_acl(self.auth),
        )

    def member(self, name: str, state: str = "Attempter", priority: int = 1) -> KazooClient:
        client = self.sessions.get(name) or self._client()
        self.sessions[name] = client
        self.priorities[name] = priority
        client.create(
            self._member_path(name), self._doc(name, state), ephemeral=True, makepath=True
        )
        return client

    def _member_path(self, name: str) -> str:
        return f"{members_path(self.path)}/{name}"

    def _doc(self, name: str, state: str, token: int | None = None) -> bytes:
        return member_document(
            replica=name, state=state, since=time.time(), token=token, metrics=None,
            host="vm", pid=100, version="test", priority=self.priorities.get(name, 1),
        )  # fmt: skip

    def queue(self, name: str) -> str:
        """`name` joins the queue (at the back): its node's path."""
        client = self.sessions[name]
        client.ensure_path(self.path)
        prefix = f"{self.path}/{node_prefix(name, client.client_id[0])}"
        self.nodes[name] = client.create(prefix, name.encode(), ephemeral=True, sequence=True)
        return self.nodes[name]

    def lead(self, name: str) -> int:
        """`name` queues, alone at the head, and takes office (marks its node); its member
        node says Leader. The token."""
        client = self.sessions[name]
        node = self.queue(name)
        client.set(node, name.encode())  # the mark: in office
        token: int = client.exists(node).czxid
        client.set(self._member_path(name), self._doc(name, "Leader", token))
        return token

    def step_down(self, name: str) -> None:
        client = self.sessions[name]
        client.delete(self.nodes.pop(name))
        client.set(self._member_path(name), self._doc(name, "Attempter"))

    def token(self) -> int | None:
        client = self.sessions[next(iter(self.sessions))]
        first = head(client.get_children(self.path)) if client.exists(self.path) else None
        stat = None if first is None else client.exists(f"{self.path}/{first.name}")
        return None if stat is None else stat.czxid


@pytest.fixture
def cluster(zk_server: ZooKeeperServer, zk_path: str, kazoo_factory: KazooFactory) -> FakeCluster:
    return FakeCluster(kazoo_factory, zk_server.connect_string, zk_path)


def command(cluster: FakeCluster, *args: str, env: dict[str, str] | None = None) -> Result:
    """One command in process, reaching the cluster through the ELECTION_* variables."""
    variables = {
        "ELECTION_ZK_SERVERS": cluster.servers,
        "ELECTION_ELECTION_PATH": cluster.path,
        "COLUMNS": "160",
    }
    return CliRunner().invoke(main, list(args), env={**variables, **(env or {})})


def process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """One command as its own process: what a terminal or a script sees."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ELECTION_")}
    return subprocess.run(
        [sys.executable, "-m", "election", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "COLUMNS": "160", **(env or {})},
    )


def four(cluster: FakeCluster) -> int:
    """r3, r2, r1, r0 of priorities 3/2/1/0; r3 leads. The token."""
    for priority in (3, 2, 1, 0):
        cluster.member(f"r{priority}", priority=priority)
    return cluster.lead("r3")


# ---------------------------------------------------------------- status


def test_status_names_the_leader_and_every_member(cluster: FakeCluster) -> None:
    token = four(cluster)
    result = command(cluster, "status", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["leader"]["replica"] == "r3" and document["leader"]["token"] == token
    assert abs(document["leader"]["since"] - time.time()) < 30
    assert document["paused"] is False and document["handover"] is None
    members = {m["replica"]: (m["state"], m["priority"]) for m in document["members"]}
    assert members == {
        "r3": ("Leader", 3), "r2": ("Attempter", 2), "r1": ("Attempter", 1), "r0": ("Attempter", 0),
    }  # fmt: skip

    table = command(cluster, "status")
    assert table.exit_code == 0
    assert f"leader    r3  token {token}  since" in table.stdout
    assert table.stderr == ""


def test_status_exits_1_when_none_leads(cluster: FakeCluster) -> None:
    result = command(cluster, "status", "--json")  # nothing there at all
    assert result.exit_code == 1
    assert json.loads(result.stdout)["leader"] is None
    four(cluster)
    cluster.step_down("r3")
    result = command(cluster, "status", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["leader"] is None and len(document["members"]) == 4
    assert "leader    none" in command(cluster, "status").stdout


def test_a_leader_that_stopped_answering_is_not_shown_as_leader(cluster: FakeCluster) -> None:
    four(cluster)
    # A replica whose last word was Leader, though the head of the queue is r3's session's.
    cluster.member("old", state="Attempter")
    cluster.sessions["old"].set(
        f"{members_path(cluster.path)}/old", cluster._doc("old", "Leader", 5)
    )
    document = json.loads(command(cluster, "status", "--json").stdout)
    old = next(m for m in document["members"] if m["replica"] == "old")
    assert old["leader"] is False
    assert old["stale"] is True
    assert old["stale_reason"] == "says Leader, but another session leads the queue (r3)"
    top = command(cluster, "top", "--once")
    assert top.exit_code == 0
    assert "Leader? stale" in top.stdout and "5 replicas; leader r3" in top.stdout


# ---------------------------------------------------------------- pause and resume


def test_pause_stores_who_when_and_why_and_resume_removes_it(
    cluster: FakeCluster, kazoo_client: KazooClient
) -> None:
    four(cluster)
    the_core = _plays_the_core_on_pause(cluster)
    result = command(cluster, "pause", "--reason", "kernel upgrade")
    assert result.exit_code == 0, result.output
    assert "kernel upgrade; r3 stopped leading within" in result.stdout
    data, stat = kazoo_client.get(pause_path(cluster.path))
    assert stat.ephemeralOwner == 0  # persistent: survives the command and restarts
    paused = decode_pause(data)
    assert paused.reason == "kernel upgrade" and "@" in paused.by
    assert abs(paused.at - time.time()) < 30
    the_core.join(5)

    document = json.loads(command(cluster, "status", "--json").stdout)
    assert document["paused"] is True and document["pause"]["reason"] == "kernel upgrade"
    assert command(cluster, "status").exit_code == 1

    again = command(cluster, "pause", "--reason", "other")
    assert again.exit_code == 0 and again.stdout.startswith("already paused by ")
    assert decode_pause(kazoo_client.get(pause_path(cluster.path))[0]).reason == "kernel upgrade"

    cluster.lead("r2")  # the replicas take leadership again once resumed
    resumed = command(cluster, "resume")
    assert resumed.exit_code == 0, resumed.output
    assert "resumed (was paused by " in resumed.stdout and "r2 leads" in resumed.stdout
    assert kazoo_client.exists(pause_path(cluster.path)) is None
    assert command(cluster, "resume").stdout == "not paused\n"


def _plays_the_core_on_pause(cluster: FakeCluster) -> threading.Thread:
    """What the leader does when it reads the pause: it ends its term."""

    def act() -> None:
        watcher = cluster.make(cluster.servers)
        wait_until(lambda: watcher.exists(pause_path(cluster.path)), 10, "no pause node")
        cluster.step_down("r3")

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    return thread


def test_pause_says_when_the_leader_has_not_stopped(cluster: FakeCluster) -> None:
    four(cluster)
    result = command(cluster, "pause", "--timeout", "1s")
    assert result.exit_code == 0
    assert "r3 still leads after 1" in result.stdout


def test_pause_without_a_replica_and_its_open_acl(
    cluster: FakeCluster, kazoo_client: KazooClient
) -> None:
    result = command(cluster, "pause")
    assert result.exit_code == 0 and result.stdout.endswith("; no replica was leading\n")
    acls, _ = kazoo_client.get_acls(pause_path(cluster.path))
    assert [(a.perms, a.id.scheme) for a in acls] == [(Permissions.ALL, "world")]


# ---------------------------------------------------------------- handover


def _plays_the_core_on_handover(cluster: FakeCluster, taker: str | None = None) -> list[Any]:
    """What the replicas do with a request: the leader of its term steps down, and `to`
    (or `taker`) takes the node. Returns what the request looked like while it stood."""
    seen: list[Any] = []

    def act() -> None:
        watcher = cluster.make(cluster.servers)
        path = handover_path(cluster.path)
        stat = wait_until(lambda: watcher.exists(path), 10, "no hand-over request")
        request = decode_handover(watcher.get(path)[0])
        seen.append((request, stat, watcher.get_acls(path)[0]))
        cluster.step_down(request.leader)
        cluster.lead(taker or request.to or "r2")

    threading.Thread(target=act, daemon=True).start()
    return seen


def test_handover_to_a_named_replica(cluster: FakeCluster, kazoo_client: KazooClient) -> None:
    token = four(cluster)
    seen = _plays_the_core_on_handover(cluster)
    result = command(cluster, "handover", "--to", "r1")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("r1 leads (token ") and "after the request" in result.stdout
    [(request, stat, acls)] = seen
    assert (request.leader, request.token, request.to) == ("r3", token, "r1")
    assert "@" in request.by and len(request.id) == 32
    assert stat.ephemeralOwner not in {c.client_id[0] for c in cluster.sessions.values()}
    assert [(a.perms, a.id.scheme) for a in acls] == [(Permissions.ALL, "world")]
    assert kazoo_client.get(cluster.nodes["r1"])[0] == b"r1"  # the head of the queue
    assert kazoo_client.exists(handover_path(cluster.path)) is None  # withdrawn on the way out


def test_handover_without_to_takes_any_new_term(cluster: FakeCluster) -> None:
    four(cluster)
    seen = _plays_the_core_on_handover(cluster, taker="r2")
    result = command(cluster, "handover")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("r2 leads")
    assert seen[0][0].to is None


def test_handover_not_done_within_wait_is_withdrawn(
    cluster: FakeCluster, kazoo_client: KazooClient
) -> None:
    four(cluster)
    started = time.monotonic()
    result = command(cluster, "handover", "--to", "r2", "--wait", "1s")
    assert result.exit_code == 1
    assert 1.0 <= time.monotonic() - started < 10
    assert result.stderr == (
        "election handover: no new leader within 1s: the request is withdrawn (r3 leads)\n"
    )
    assert kazoo_client.exists(handover_path(cluster.path)) is None
    assert cluster.token() == kazoo_client.exists(cluster.nodes["r3"]).czxid  # r3 still leads


def test_handover_fails_when_another_than_the_named_one_takes_over(cluster: FakeCluster) -> None:
    four(cluster)
    _plays_the_core_on_handover(cluster, taker="r2")
    result = command(cluster, "handover", "--to", "r1")
    assert result.exit_code == 1
    assert "r2 took over (token " in result.stderr and "not r1 as asked" in result.stderr


@pytest.mark.parametrize(
    ("to", "why"),
    [
        ("ghost", "--to ghost: no such replica among the live members (r3, r0, r1, r2)"),
        ("r0", "--to r0: priority 0, a standby that never leads"),
        ("r3", "--to r3: it already leads"),
    ],
)
def test_handover_to_a_replica_that_cannot_take_over_changes_nothing(
    cluster: FakeCluster, kazoo_client: KazooClient, to: str, why: str
) -> None:
    token = four(cluster)
    result = command(cluster, "handover", "--to", to)
    assert result.exit_code == 2
    assert result.stderr == f"election handover: {why}; nothing was changed\n"
    assert kazoo_client.exists(handover_path(cluster.path)) is None
    assert cluster.token() == token
    assert not kazoo_client.exists(f"{cluster.path.rsplit('/', 1)[0]}/control")


def test_handover_with_no_other_candidate_or_no_leader(cluster: FakeCluster) -> None:
    cluster.member("solo", priority=1)
    cluster.member("standby", priority=0)
    assert command(cluster, "handover").exit_code == 1  # nobody leads
    assert command(cluster, "handover").stderr == (
        "election handover: no replica leads: nothing to hand over\n"
    )
    cluster.lead("solo")
    alone = command(cluster, "handover")
    assert alone.exit_code == 2
    assert "no replica but solo may lead" in alone.stderr


def test_handover_while_another_request_stands(cluster: FakeCluster) -> None:
    four(cluster)
    other = cluster.make(cluster.servers)
    other.create(handover_path(cluster.path), b'{"id":"x","leader":"r3","token":1,"to":null,'
                 b'"by":"them@there","at":1.0}', ephemeral=True, makepath=True)  # fmt: skip
    result = command(cluster, "handover", "--to", "r2")
    assert result.exit_code == 1
    assert "already asked for by them@there (id x)" in result.stderr
    assert json.loads(command(cluster, "status", "--json").stdout)["handover"]["id"] == "x"


def test_handover_while_paused_is_refused(cluster: FakeCluster) -> None:
    four(cluster)
    assert command(cluster, "pause", "--timeout", "0.3s").exit_code == 0
    result = command(cluster, "handover", "--to", "r2")
    assert result.exit_code == 1 and "paused: resume it first" in result.stderr


# ---------------------------------------------------------------- an authenticated cluster


@pytest.fixture
def guarded(zk_server: ZooKeeperServer, kazoo_factory: KazooFactory) -> FakeCluster:
    """A cluster whose nodes were made with the credential: ALL for it, READ for all.
    Under a root of its own (ACLs there would lock other tests out)."""
    path = f"/election-operator-tests/{uuid.uuid4().hex}/leader"
    return FakeCluster(kazoo_factory, zk_server.connect_string, path, auth=AUTH)


def test_a_stranger_cannot_pause_resume_or_hand_over_but_may_look(
    guarded: FakeCluster, kazoo_client: KazooClient
) -> None:
    token = four(guarded)
    guarded.sessions["r3"].ensure_path(f"{guarded.path.rsplit('/', 1)[0]}/control")
    pause = process("pause", "--zk-servers", guarded.servers, "--election-path", guarded.path)
    assert pause.returncode == 4, pause.stderr
    assert pause.stderr.startswith("election pause: creating ")
    assert "refused by ZooKeeper's ACL (NoAuth); give the election's credential" in pause.stderr
    assert pause.stderr.count("\n") == 1 and pause.stdout == ""
    assert kazoo_client.exists(pause_path(guarded.path)) is None

    handover = command(guarded, "handover", "--to", "r2")
    assert handover.exit_code == 4 and "NoAuth" in handover.stderr
    assert kazoo_client.exists(handover_path(guarded.path)) is None and guarded.token() == token

    # With the credential: paused, under the election's ACL; the stranger cannot resume.
    assert command(guarded, "pause", "--timeout", "0.3s", "--zk-auth", CREDENTIAL).exit_code == 0
    acls, _ = guarded.sessions["r3"].get_acls(pause_path(guarded.path))
    ours = Id("digest", make_digest_acl_credential(USER, PASSWORD))
    assert {ACL(a.perms, Id(a.id.scheme, a.id.id)) for a in acls} == {
        ACL(Permissions.ALL, ours),
        ACL(Permissions.READ, Id("world", "anyone")),
    }
    resume = command(guarded, "resume")
    assert resume.exit_code == 4 and "deleting" in resume.stderr
    wrong = command(guarded, "resume", "--zk-auth", f"digest:{USER}:wrong")
    assert wrong.exit_code == 4 and f"the credential digest:{USER}:*** may not" in wrong.stderr
    assert "wrong" not in wrong.stderr.replace("digest:", "")

    # Anyone may read: status without the credential.
    status = command(guarded, "status", "--json")
    assert status.exit_code == 1  # paused
    assert json.loads(status.stdout)["paused"] is True
    assert command(guarded, "resume", "--zk-auth", CREDENTIAL).exit_code == 0


def test_a_credential_zookeeper_refuses_exits_4(cluster: FakeCluster) -> None:
    result = command(cluster, "status", "--zk-auth", "nosuchscheme:whatever")
    assert result.exit_code == 4
    assert result.stderr == "election status: ZooKeeper refused nosuchscheme:*** (AUTH_FAILED)\n"


def test_a_refusal_seen_late_by_a_slow_machine_still_exits_4(
    cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kazoo announces the connection before it sends the credential: on a loaded machine
    the refusal can land before `start()` looks, which then sees no connection. That is
    a refusal, not a silence (it was exit 3, "no answer", under load)."""
    start_async = KazooClient.start_async

    def looks_late(self: KazooClient) -> Any:
        event = start_async(self)
        event.wait(15)
        # Refused, then closed: kazoo gives up connecting after AUTH_FAILED.
        wait_until(lambda: self.client_state == "CLOSED", 5.0, "the refusal")
        return event  # the command looks now, after the refusal

    monkeypatch.setattr(KazooClient, "start_async", looks_late)
    result = command(cluster, "status", "--zk-auth", "nosuchscheme:whatever")
    assert result.exit_code == 4
    assert result.stderr == "election status: ZooKeeper refused nosuchscheme:*** (AUTH_FAILED)\n"


# ---------------------------------------------------------------- ZooKeeper unreachable


@pytest.mark.parametrize(
    "args", [["status"], ["pause"], ["resume"], ["handover"], ["top", "--once"]]
)
def test_a_zookeeper_that_refuses_exits_3_at_once_with_the_real_cause(args: list[str]) -> None:
    # Nothing listens: waiting cannot help, so the command does not wait out --timeout
    # (it used to, 5.35 s with the default): the process's own bound of 60 s would end
    # a command that waited out --timeout 1h.
    port = free_port()
    done = process(*args, "--zk-servers", f"127.0.0.1:{port}", "--timeout", "1h")
    assert done.returncode == 3
    # One line, the real cause, no kazoo lines, nothing on stdout.
    assert done.stderr == (
        f"election {args[0]}: cannot reach ZooKeeper at 127.0.0.1:{port}: "
        f"127.0.0.1:{port}: connection refused\n"
    )
    assert done.stdout == ""


def test_every_server_saying_no_is_said_at_once() -> None:
    port = free_port()
    servers = f"127.0.0.1:{port},no-such-host.invalid:2181,localhost:{port}"
    done = process("status", "--zk-servers", servers, "--timeout", "1h")
    assert done.returncode == 3
    assert done.stderr.startswith(f"election status: cannot reach ZooKeeper at {servers}: ")
    assert "cannot resolve no-such-host.invalid" in done.stderr
    assert f"127.0.0.1:{port}: connection refused" in done.stderr
    assert done.stderr.count("\n") == 1


def test_a_server_that_does_not_answer_is_waited_for_while_others_refuse() -> None:
    # The port accepts (the kernel completes the handshake) and nobody answers: that
    # server may yet, so the command waits out --timeout, naming both causes. kazoo tries
    # the servers in a random order and gives the silent one 2 s (its 4 s session over two
    # servers) before the next: a --timeout of 3 s sees both whichever comes first (1 s
    # saw only the silent one when it came first, half the runs).
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    with silent:
        quiet = f"127.0.0.1:{silent.getsockname()[1]}"
        refusing = f"127.0.0.1:{free_port()}"
        started = time.monotonic()
        done = process("status", "--zk-servers", f"{refusing},{quiet}", "--timeout", "3s")
        waited = time.monotonic() - started
    assert done.returncode == 3
    assert done.stderr.startswith(
        f"election status: cannot reach ZooKeeper at {refusing},{quiet} within 3s: "
    )
    assert f"{refusing}: connection refused" in done.stderr
    assert waited >= 3.0  # it waited for the silent one


def test_a_name_that_does_not_resolve_is_said_so() -> None:
    done = process("status", "--zk-servers", "no-such-host.invalid:2181", "--timeout", "1s")
    assert done.returncode == 3
    assert "cannot resolve no-such-host.invalid" in done.stderr
    assert done.stderr.count("\n") == 1


def test_a_server_that_stops_answering_exits_3(
    zk_fresh: ZooKeeperServer, zk_path: str, kazoo_factory: KazooFactory
) -> None:
    cluster = FakeCluster(kazoo_factory, zk_fresh.connect_string, zk_path)
    four(cluster)
    zk_fresh.pause()  # SIGSTOP: the port accepts, nothing answers
    try:
        done = process(
            "status", "--zk-servers", zk_fresh.connect_string, "--election-path", zk_path,
            "--timeout", "1s",
        )  # fmt: skip
    finally:
        zk_fresh.resume()
    assert done.returncode == 3
    assert done.stderr.startswith(
        f"election status: cannot reach ZooKeeper at {zk_fresh.connect_string}"
    )
    assert done.stderr.count("\n") == 1


# ---------------------------------------------------------------- top --once


def test_top_once_exits_1_without_a_leader_and_0_with_one(cluster: FakeCluster) -> None:
    for priority in (2, 0):
        cluster.member(f"r{priority}", priority=priority)
    env = {"ELECTION_ZK_SERVERS": cluster.servers, "ELECTION_ELECTION_PATH": cluster.path}
    none = process("top", "--once", env=env)
    assert none.returncode == 1 and "no leader node" in none.stdout and none.stderr == ""
    cluster.lead("r2")
    one = process("top", "--once", env=env)
    assert one.returncode == 0 and "leader r2" in one.stdout and one.stderr == ""
    assert "prio" in one.stdout


# ---------------------------------------------------------------- the TUI's lookout


def test_the_lookout_sees_who_leads_and_since_when(
    cluster: FakeCluster, kazoo_client: KazooClient
) -> None:
    from election.observe.lookout import LeaderLookout

    four(cluster)
    lookout = LeaderLookout(kazoo_client, cluster.path)
    seen = lookout.look()
    assert (seen.replica, seen.token, seen.problem) == ("r3", cluster.token(), "")
    assert seen.since is not None and abs(seen.since - time.time()) < 30
    cluster.step_down("r3")
    assert lookout.look().replica is None and lookout.look().problem == ""
    kazoo_client.stop()
    assert lookout.look().problem == "not connected"


def test_the_lookout_thread_keeps_the_latest_sighting(
    cluster: FakeCluster, kazoo_client: KazooClient
) -> None:
    from election.observe.lookout import LeaderLookout

    four(cluster)
    lookout = LeaderLookout(kazoo_client, cluster.path, every=0.05)
    lookout.start()
    try:
        wait_until(lambda: lookout.latest().replica == "r3", 5, "the lookout never saw r3")
        cluster.step_down("r3")
        cluster.lead("r2")
        wait_until(lambda: lookout.latest().replica == "r2", 5, "the lookout never saw r2")
    finally:
        lookout.close()


def test_a_handover_command_killed_outright_withdraws_its_request_with_its_session(
    cluster: FakeCluster, kazoo_client: KazooClient
) -> None:
    four(cluster)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ELECTION_")}
    waiting = subprocess.Popen(
        [sys.executable, "-m", "election", "handover", "--to", "r2", "--wait", "60s",
         "--zk-servers", cluster.servers, "--election-path", cluster.path],
        env=clean, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        path = handover_path(cluster.path)
        wait_until(lambda: kazoo_client.exists(path), 20, "no request")
        waiting.kill()  # no finally, no close: only the session's end removes it
        waiting.wait(10)
        started = time.monotonic()
        wait_until(lambda: kazoo_client.exists(path) is None, 20, "the request outlived it")
        assert time.monotonic() - started < 12  # the command's short session
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait(10)
