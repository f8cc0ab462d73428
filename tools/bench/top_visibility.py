"""How soon `election top` can show a hand-over: from SIGTERM of the leader to the
moment top's own poll (`election.observe.top.poll`, what each refresh runs) reports the
new leader in its member row. top refreshes every 0.5 s, so on screen add up to that.

    .venv/bin/python -m tools.bench.top_visibility --runs 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kazoo.client import KazooClient

from election.observe.top import poll
from election_testkit.replicas import ReplicaSet
from election_testkit.zookeeper import ZooKeeperServer


def one_run(zk: ZooKeeperServer, workdir: Path, client: KazooClient) -> float:
    path = f"/top-bench/{uuid.uuid4().hex}/leader"
    replicas = ReplicaSet(workdir, zk.connect_string, path)
    try:
        replicas.start(2)
        old = replicas.wait_for_leader(15, settle=0.5)
        other = next(r for r in replicas if r is not old)
        old.terminate()
        sent = time.time()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = poll(client, path).rows
            if any(row.name == other.id and row.state == "Leader" for row in rows):
                return time.time() - sent
            time.sleep(0.005)
        raise RuntimeError("the new leader never showed in the member rows")
    finally:
        replicas.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        zk = ZooKeeperServer(Path(tmp) / "zk")
        zk.start()
        client = KazooClient(hosts=zk.connect_string)
        client.start()
        try:
            seen = [one_run(zk, Path(tmp) / f"run{i}", client) for i in range(args.runs)]
        finally:
            client.stop()
            zk.close()
    seen.sort()
    print(
        f"hand-over visible to top's poll, n={len(seen)}: median {statistics.median(seen):.3f}s "
        f"max {seen[-1]:.3f}s (top refreshes every 0.5 s: on screen within that much more)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
