"""SIGTERM in every state ends the replica with 0 within the stop deadline; a second
signal during Stopping forces exit 1 (README: exit codes)."""

from __future__ import annotations

import signal

import pytest

from election_testkit.cluster import (
    RECOVERY_BOUND,
    SESSION_TIMEOUT,
    SLACK,
    START_BOUND,
    now,
    writes_of,
)
from election_testkit.proxy import TcpProxy
from election_testkit.replica import Replica
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer
from tests.faults.conftest import MakeCluster

pytestmark = [pytest.mark.e2e, pytest.mark.zk]

STOP_DEADLINE = 5.0  # Settings.stop_deadline
EXIT_BOUND = STOP_DEADLINE + SLACK


def _stopped(replica: Replica, previous: str) -> None:
    code = replica.wait(EXIT_BOUND)
    assert code == 0, replica.log_tail()
    stop = replica.entered("Stopping")
    assert stop and stop[0]["event"] == {"type": "StopRequested", "signal": "SIGTERM"}
    assert stop[0]["previous"] == previous, stop[0]
    last = replica.last_record()
    assert last is not None and any(
        e["type"] == "Exit" and e["code"] == 0 for e in last["effects"]
    ), last


def test_sigterm_in_init_while_zookeeper_is_unreachable(
    zk_server: ZooKeeperServer, cluster: MakeCluster
) -> None:
    # A proxy that swallows everything: the TCP connect succeeds, no answer ever comes.
    with TcpProxy(zk_server.host, zk_server.port) as hole:
        hole.blackhole()
        c = cluster(hole.connect_string, session_timeout="4s")
        (r,) = c.start(1)
        r.wait_for_state("Init", START_BOUND)
        r.terminate()
        _stopped(r, "Init")
        assert not r.entered("Attempter")


def test_sigterm_in_attempter_and_in_leader(
    zk_server: ZooKeeperServer, cluster: MakeCluster
) -> None:
    c = cluster(zk_server.connect_string)
    c.start(3)
    leader = c.wait_for_writing_leader(START_BOUND)  # and the others in Attempter, watching
    follower = next(r for r in c if r is not leader)

    follower.terminate()
    _stopped(follower, "Attempter")
    assert c.replicas.leaders() == [leader]  # a follower leaving changes nothing

    stopped = now()
    leader.terminate()
    _stopped(leader, "Leader")
    c.wait_one_leader_writing(RECOVERY_BOUND, stopped)
    c.assert_safe()


def test_sigterm_in_failover(zk_server: ZooKeeperServer, cluster: MakeCluster) -> None:
    c = cluster(zk_server.connect_string, proxied=True)
    c.start(2)
    leader = c.wait_for_leader(START_BOUND, settle=0.3)

    cut = now()
    c.links[leader.id].blackhole()
    leader.wait_for_state("Failover", SESSION_TIMEOUT + SLACK, cut)
    leader.terminate()
    code = leader.wait(EXIT_BOUND)
    assert code == 0, leader.log_tail()
    stop = leader.entered("Stopping")[0]
    # Failover retries through Init: either may be the state the signal found.
    assert stop["previous"] in ("Failover", "Init"), stop
    c.wait_one_leader_writing(RECOVERY_BOUND, cut)
    c.assert_safe()


def test_second_signal_while_stopping_forces_exit_1(
    zk_server: ZooKeeperServer, cluster: MakeCluster
) -> None:
    c = cluster(zk_server.connect_string, proxied=True)
    c.start(2)
    leader = c.wait_for_leader(START_BOUND, settle=0.3)
    wait_until(lambda: writes_of(leader), 5.0, "leader not writing")

    # Cut the leader off, then stop it: its release cannot be answered, so it lingers in
    # Stopping (up to the 5 s stop deadline) — where a second signal forces the exit.
    cut = now()
    c.links[leader.id].blackhole()
    leader.terminate()
    leader.wait_for_state("Stopping", EXIT_BOUND, cut)
    assert leader.running
    leader.send_signal(signal.SIGTERM)
    assert leader.wait(EXIT_BOUND) == 1, leader.log_tail()
    last = leader.last_record()
    assert last is not None
    assert any(e["type"] == "Exit" and e["code"] == 1 for e in last["effects"]), last
    assert not writes_of(leader, cut + 0.05)

    # Its session was not closed: the successor waits for the expiry, then leads alone.
    c.wait_one_leader_writing(SESSION_TIMEOUT + RECOVERY_BOUND, cut)
    c.assert_safe()
