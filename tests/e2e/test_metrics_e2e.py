"""A live replica's /metrics, as Prometheus reads it: `promtool check metrics` finds
nothing to say, and every metric the shipped alerting rules use is there."""

from __future__ import annotations

import re
import subprocess
import urllib.request

from election_testkit.zookeeper import ZooKeeperServer, free_port
from tests.e2e.conftest import MakeReplicaSet
from tests.unit.test_alert_rules import RULES, promtool


def test_a_leading_replica_s_metrics_pass_promtool_and_feed_every_alert(
    zk_server: ZooKeeperServer, zk_path: str, replica_set: MakeReplicaSet
) -> None:
    port = free_port()
    replicas = replica_set(zk_server.connect_string, zk_path)
    leader = replicas.add("m1", metrics_address=f"127.0.0.1:{port}", exec="sleep 60").start()
    leader.wait_for_state("Leader", 20)
    leader.wait_for(lambda r: r["event"]["type"] == "ChildStarted", 20, "its job started")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    done = subprocess.run(
        [promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr
    exposed = set(re.findall(r"^# TYPE (election_[a-z_]+) ", text, re.MULTILINE))
    used = set(re.findall(r"\belection_[a-z_]+", RULES.read_text()))
    assert used <= exposed, f"the rules use what /metrics lacks: {used - exposed}"
    assert "election_is_leader 1.0" in text and "election_child_running 1.0" in text
    leader.terminate()
    assert leader.wait(15) == 0
