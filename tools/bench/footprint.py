"""Footprint of a leading replica: start-to-first-file time, then RSS, CPU share and
threads while it leads at ``--leader-timeout 1s`` (metrics endpoint on, as deployed).

* start-to-first-file: from just before ``Popen`` to the ``written_at`` of the first
  leader file, for ``--starts`` fresh single replicas (each on a fresh election path and
  file-dir), so it includes Python's start-up, imports, connecting and the election.
* CPU share: (utime + stime) from /proc/PID/stat over ``--duration`` seconds (>= 60)
  of leading, divided by that wall time (1.0 = one core fully busy).
* RSS (VmRSS, sampled every second: max and mean; VmHWM), PSS (smaps_rollup) and
  Threads, from /proc/PID/status; the keeper's RSS and PSS beside the daemon's at the end.

    .venv/bin/python -m tools.bench.footprint --json > footprint.json
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from election_testkit.filedir import leader_files
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer, free_port

from .report import summary, table
from .runner import Bench, proc_pss_kb, proc_status

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of stat


def flags(leader_timeout: str, metrics: str) -> dict[str, str]:
    return {
        "leader_timeout": leader_timeout,
        "attempter_timeout": "10s",
        "session_timeout": "10s",
        "storage_capacity": "10",
        "metrics_address": metrics,
        "log_level": "info",
    }


def start_to_first_file(zk: ZooKeeperServer, workdir: Path, leader_timeout: str) -> float:
    path = f"/bench-footprint/{uuid.uuid4().hex}/leader"
    with ReplicaSet(workdir, zk.connect_string, path, **flags(leader_timeout, "off")) as rs:
        (replica,) = rs.start(1)
        files = wait_until(lambda: leader_files(rs.file_dir), 60, rs.describe)
        assert replica.started_wall is not None
        return files[0].written_wall - replica.started_wall


def leading_footprint(
    zk: ZooKeeperServer, workdir: Path, leader_timeout: str, duration: float
) -> dict[str, Any]:
    path = f"/bench-footprint/{uuid.uuid4().hex}/leader"
    metrics = f"127.0.0.1:{free_port()}"
    with ReplicaSet(workdir, zk.connect_string, path, **flags(leader_timeout, metrics)) as rs:
        (replica,) = rs.start(1)
        rs.wait_for_leader(60)
        time.sleep(2.0)  # past the start-up burst
        pid = replica.pid
        assert pid is not None
        rss: list[int] = []
        threads: list[int] = []
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        files0 = len(leader_files(rs.file_dir))
        while time.monotonic() - t0 < duration:
            status = proc_status(pid)
            rss.append(status["VmRSS"])
            threads.append(status["Threads"])
            time.sleep(1.0)
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        status = proc_status(pid)
        assert replica.state == "Leader", rs.describe()
        keeper = replica.keeper_pid()
        assert keeper is not None, rs.describe()
        return {
            "duration": t1 - t0,
            "cpu_seconds": cpu1 - cpu0,
            "cpu_share": (cpu1 - cpu0) / (t1 - t0),
            "rss_mb_max": max(rss) / 1024,
            "rss_mb_mean": statistics.mean(rss) / 1024,
            "hwm_mb": status["VmHWM"] / 1024,
            "pss_mb": (proc_pss_kb(pid) or 0) / 1024,
            "threads_max": max(threads),
            "threads_min": min(threads),
            "keeper_rss_mb": proc_status(keeper)["VmRSS"] / 1024,
            "keeper_pss_mb": (proc_pss_kb(keeper) or 0) / 1024,
            "files_at_start_of_window": files0,
        }


def render(report: Mapping[str, Any]) -> str:
    return "\n\n".join(
        [
            table(
                "start to first file", {"start_to_first_file": report["start_to_first_file"]}, "s"
            ),
            "leading: " + json.dumps(report["leading"], indent=1),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    bench = Bench("footprint", __doc__, argv, runs=10)  # --runs: start-to-first-file samples
    bench.add_argument("--leader-timeout", default="1s")
    bench.add_argument("--duration", type=float, default=60.0, help="seconds of leading (60)")
    args = bench.parse()
    with bench, bench.zookeeper() as zk:
        starts = bench.repeat(
            "start", args.runs, lambda d: {"seconds": start_to_first_file(zk, d, "1s")}
        )
        lead = leading_footprint(zk, bench.workdir / "lead", args.leader_timeout, args.duration)
    report = bench.report(start_to_first_file=summary(r["seconds"] for r in starts), leading=lead)
    return bench.finish(report, render)


if __name__ == "__main__":
    sys.exit(main())
