"""Scale: N replicas (default 50) of `election run` on one machine against one ZooKeeper.

1. ZooKeeper alone for ``--baseline`` seconds: its request rate with no clients.
2. Start N replicas (daemon defaults: leader-timeout, attempter-timeout and
   session-timeout 10 s; metrics off), wait for one leader and every other in Attempter.
3. Idle for ``--idle`` seconds (>= 60): ZooKeeper's requests per second from its ``mntr``
   counters (``zk_packets_received`` over the window, less the baseline rate), its watch
   and connection counts; memory per replica (RSS and PSS from /proc, mean over replicas).
4. ``--handovers`` graceful hand-overs: SIGTERM the leader, measure until the first
   record in Leader of any other replica (journal wall times), then start a replacement so
   that N replicas compete every time.

    .venv/bin/python -m tools.bench.scale --json > scale.json
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from election_testkit.replica import Record, Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer

from .footprint import proc_pss_kb, proc_status
from .report import summary, table
from .runner import Bench, mntr

POLL = 0.25  # seconds between journal scans: 50 journals, a busy machine


def rate(zk: ZooKeeperServer, seconds: float) -> dict[str, float]:
    """Per-second deltas of ZooKeeper's packet counters over ``seconds``, and gauges."""
    before, t0 = mntr(zk), time.monotonic()
    time.sleep(seconds)
    after, t1 = mntr(zk), time.monotonic()
    span = t1 - t0
    return {
        "seconds": span,
        "packets_received_per_s": (after["zk_packets_received"] - before["zk_packets_received"])
        / span,
        "packets_sent_per_s": (after["zk_packets_sent"] - before["zk_packets_sent"]) / span,
        "watch_count": after.get("zk_watch_count", float("nan")),
        "alive_connections": after.get("zk_num_alive_connections", float("nan")),
        "ephemerals": after.get("zk_ephemerals_count", float("nan")),
    }


def first_new_leader(
    replicas: list[Replica], old: Replica, after_wall: float, timeout: float
) -> Record:
    def found() -> Record | None:
        records = [rec for r in replicas if r is not old for rec in r.entered("Leader", after_wall)]
        return min(records, key=lambda rec: rec["wall"]) if records else None

    return wait_until(found, timeout, "no new leader", interval=POLL)


def attempting(replica: Replica) -> Callable[[], bool]:
    return lambda: replica.state == "Attempter"


def main(argv: list[str] | None = None) -> int:
    bench = Bench("scale", __doc__, argv, runs=10)  # --runs: hand-overs
    bench.add_argument("--replicas", type=int, default=50)
    bench.add_argument("--baseline", type=float, default=20.0)
    bench.add_argument("--idle", type=float, default=60.0)
    args = bench.parse()
    workdir = bench.workdir
    report: dict[str, Any] = {}
    path = f"/bench-scale/{uuid.uuid4().hex}/leader"
    flags = {
        "metrics_address": "off",
        "log_level": "warning",
        "storage_capacity": "10",
        "leader_timeout": "10s",
        "attempter_timeout": "10s",
        "session_timeout": "10s",
    }
    with (
        bench,
        bench.zookeeper() as zk,
        ReplicaSet(workdir / "replicas", zk.connect_string, path, **flags) as rs,
    ):
        report["baseline"] = rate(zk, args.baseline)
        print(f"  baseline: {report['baseline']}", file=sys.stderr)
        t0 = time.monotonic()
        rs.start(args.replicas)
        leader = rs.wait_for_leader(120)
        wait_until(
            lambda: all(r.state in ("Attempter", "Leader") for r in rs.running()),
            180,
            rs.describe,
            interval=POLL,
        )
        report["all_started_seconds"] = time.monotonic() - t0
        print(f"  {args.replicas} up in {report['all_started_seconds']:.1f} s", file=sys.stderr)
        time.sleep(5.0)  # past the start-up burst
        report["load_average_idle_start"] = os.getloadavg()
        idle = rate(zk, args.idle)
        idle["requests_per_s_over_baseline"] = (
            idle["packets_received_per_s"] - report["baseline"]["packets_received_per_s"]
        )
        idle["requests_per_s_per_replica"] = idle["requests_per_s_over_baseline"] / len(
            rs.running()
        )
        report["idle"] = idle
        report["load_average_idle_end"] = os.getloadavg()
        pids = [r.pid for r in rs.running() if r.pid is not None]
        rss = [proc_status(pid)["VmRSS"] / 1024 for pid in pids]
        pss = [(proc_pss_kb(pid) or 0) / 1024 for pid in pids]
        threads = [proc_status(pid)["Threads"] for pid in pids]
        report["memory"] = {
            "replicas": len(pids),
            "rss_mb_mean": statistics.mean(rss),
            "rss_mb_max": max(rss),
            "pss_mb_mean": statistics.mean(pss),
            "pss_mb_total": sum(pss),
            "threads_mean": statistics.mean(threads),
        }
        print(f"  idle: {idle}\n  memory: {report['memory']}", file=sys.stderr)
        latencies: list[float] = []
        for i in range(args.runs):
            try:
                leader = rs.wait_for_leader(60)
                leader.terminate()
                signalled = leader.signalled_wall
                assert signalled is not None
                entered = first_new_leader(rs.replicas, leader, signalled, 60)
                code = leader.wait(30)
                if code != 0:
                    raise RuntimeError(f"{leader.id} exited {code}")
                latencies.append(entered["wall"] - signalled)
                print(f"  hand-over {i + 1}: {latencies[-1] * 1000:.1f} ms", file=sys.stderr)
                fresh = rs.add(f"x{i}").start()
                wait_until(attempting(fresh), 60, fresh.log_tail, interval=POLL)
                time.sleep(1.0)
            except Exception as exc:
                bench.errors.append(f"hand-over {i}: {type(exc).__name__}: {exc!s:.1500}")
        report["handover_from_signal"] = summary(latencies)
    return bench.finish(bench.report(flags=flags, **report), render)


def render(report: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in report.items() if k in ("baseline", "idle", "memory")}
    return "\n\n".join(
        [
            f"{report['config']['replicas']} replicas up in {report['all_started_seconds']:.1f} s",
            json.dumps(shown, indent=1),
            table("hand-over (SIGTERM)", {"from_signal": report["handover_from_signal"]}),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
