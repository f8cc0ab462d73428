"""Fault benchmark: how early does a cut-off leader stop, how late does its successor
start, and how long is the work left undone for each kind of fault?

Runs a 3-node ZooKeeper ensemble (election_testkit.zookeeper, tickTime 200 ms) and N
`election run` replicas, each behind its own proxies (election_testkit.cluster), with the
fault suite's timing (session 2 s, leader 0.2 s, attempter 1 s). Then:

* partition (``--runs`` times): blackhole the leader's proxies until its successor has
  written, then heal. From the journals' wall times:
    - ``partition_to_last_write``: partition start -> the old leader's last file (its
      FileWritten record); <= 0 when the last file came before the cut
    - ``partition_to_step_down``: partition start -> its record leaving Leader (SUSPENDED)
    - ``expiry_to_first_write``: its session's expiry, seen as the successor's
      NodeWatchFired DELETED record (or, if the attempt timer won, its entry in Leader)
      -> the successor's first file
    - ``margin``: the old leader's last file -> the successor's first file
    - ``step_down_to_expiry``: the old leader's step-down -> the expiry (the safety
      margin of SUSPENDED before the server gives the node away)
* every fault kind of the chaos soak (tools/chaos), aimed at the leader, ``--runs``
  times each: the longest pause between consecutive leader files (any replica) from the
  fault's start until one leader writes again after the fault ended.

    .venv/bin/python -m tools.bench.faults             # 5 runs each, a table
    .venv/bin/python -m tools.bench.faults --runs 10 --json
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Mapping
from typing import Any

from election_testkit.cluster import (
    RECOVERY_BOUND,
    SESSION_TIMEOUT,
    START_BOUND,
    Cluster,
    first_record,
    writes_of,
)
from election_testkit.injector import KINDS, Soak
from election_testkit.measures import journal_writes, leaderless_gaps
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperEnsemble

from .report import collect, summary, table
from .runner import Bench


def partition_run(c: Cluster) -> dict[str, float]:
    old, _ = c.wait_one_leader_writing(RECOVERY_BOUND, time.time())
    time.sleep(0.5)
    cut = time.time()
    c.links[old.id].blackhole()
    try:

        def successor_write() -> tuple[Any, dict[str, Any]] | None:
            for r in c:
                if r is old:
                    continue
                for entered in r.entered("Leader", cut):
                    w = [x for x in writes_of(r, entered["wall"])]
                    if w:
                        return r, entered
            return None

        new, entered = wait_until(successor_write, SESSION_TIMEOUT + 15, c.replicas.describe)
    finally:
        c.links[old.id].heal()
    old_last = writes_of(old)
    old_last_before = [w for w in old_last if w["wall"] < entered["wall"]][-1]
    down = old.find(lambda r: r.get("previous") == "Leader", cut)
    assert down is not None
    deleted = first_record(new, "NodeWatchFired", cut, kind="DELETED")
    expiry = deleted["wall"] if deleted is not None else entered["wall"]
    first = writes_of(new, entered["wall"])[0]
    result = {
        "partition_to_last_write": old_last_before["wall"] - cut,
        "partition_to_step_down": down["wall"] - cut,
        "step_down_to_expiry": expiry - down["wall"],
        "expiry_to_first_write": first["wall"] - expiry,
        "margin": first["wall"] - old_last_before["wall"],
    }
    c.wait_one_leader_writing(RECOVERY_BOUND, time.time())
    return result


def gap_run(soak: Soak, kind: str) -> float:
    soak.cluster.wait_one_leader_writing(RECOVERY_BOUND, time.time())
    time.sleep(0.5)
    fault = soak.inject(kind)
    end = (fault.recovered or fault.end) + 0.3
    writes = [w for w in journal_writes(soak.cluster.journals) if fault.start - 1 <= w.done <= end]
    gaps = leaderless_gaps(writes)
    return gaps[0][1] if gaps else float("nan")


def render(report: Mapping[str, Any]) -> str:
    lines = [
        table("partition of the leader", report["partition"], "s"),
        table("longest leaderless gap per fault kind", report["leaderless_gap"], "s", "fault"),
        f"election-replay: violations = {len(report['violations'])}",
        *[f"  {v}" for v in report["violations"]],
        *[f"  on disk, asked for by no journal: {n}" for n in report["unjournaled_files"]],
        f"problems = {len(report['problems'])}",
        *[f"  {p}" for p in report["problems"]],
    ]
    return "\n\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:])


def main(argv: list[str] | None = None) -> int:
    bench = Bench("faults", __doc__, argv, runs=5)
    bench.add_argument("--replicas", type=int, default=3)
    bench.add_argument("--seed", type=int, default=1)
    bench.add_argument("--kinds", default=",".join(KINDS))
    args = bench.parse()
    ensemble = ZooKeeperEnsemble(bench.workdir / "ensemble", 3)
    ensemble.start()
    cluster = Cluster(bench.workdir / "cluster", ensemble.connect_string, proxied=True)
    soak = Soak(cluster, ensemble, random.Random(args.seed), bench.log, leader_bias=1.0)
    gaps: dict[str, list[float]] = {}
    with bench:
        try:
            cluster.start(args.replicas)
            cluster.wait_one_leader_writing(START_BOUND, 0.0)
            partitions = bench.repeat("partition", args.runs, lambda d: partition_run(cluster))
            for kind in [k for k in args.kinds.split(",") if k]:
                gaps[kind] = [gap_run(soak, kind) for _ in range(args.runs)]
        finally:
            cluster.close()
            ensemble.close()
        verdict = cluster.verdict()
    report = bench.report(
        partition=collect(partitions),
        leaderless_gap={kind: summary(values) for kind, values in gaps.items()},
        violations=verdict.violations,
        unjournaled_files=list(verdict.unjournaled),
        problems=soak.problems,
    )
    code = bench.finish(report, render)
    return code if verdict.ok and not soak.problems else 1


if __name__ == "__main__":
    sys.exit(main())
