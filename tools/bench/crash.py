"""Crash take-over: SIGKILL of the leader's daemon → the successor's Leader record, beside
kazoo's Election recipe with its process SIGKILLed, in one run on one ZooKeeper.

Kinds, interleaved run by run at each session timeout (so that a load change on a shared
machine hits them alike):

* ``election``: two `election run` replicas writing leader files; the leader's daemon is
  SIGKILLed; its keeper closes its session; `takeover` is the kill → the other's Leader
  record (journal wall times).
* ``election-job``: the same with `--exec` (a shell whose worker sleeps, `sh -c 'sleep
  600 & wait'`); also `job_gap`: the old job's group gone (its keeper's `job-gone`
  record) → the new job started (`ChildStarted.started_at`), and `job_stopped`: the kill →
  the old job's group gone.
* ``recipe``: kazoo's ``Election`` (tools/bench/contenders.py); SIGKILL the leading
  process; `takeover`: the kill → the other's `leader` line. It waits for the session.

    .venv/bin/python -m tools.bench.crash --runs 20 --sessions 2,10,30 --json
"""

from __future__ import annotations

import functools
import json
import signal
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from election.keeper.records import record_path
from election_testkit.replica import Record, Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer

from .contenders import Contender
from .report import collect, table
from .runner import Bench, Run

KINDS = ("election", "election-job", "recipe")
JOB = "sh -c 'sleep 600 & wait'"
START_BOUND = 30.0  # seconds for a first leader after starting the processes


def _keeper_records(replica: Replica) -> list[dict[str, Any]]:
    path = record_path(replica.journal)
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def new_leader(
    replicas: ReplicaSet, old: Replica, after_wall: float, timeout: float
) -> tuple[Replica, Record]:
    """The first other replica to enter Leader after `after_wall`, and that record."""

    def found() -> tuple[Replica, Record] | None:
        led = [(r, x) for r in replicas if r is not old for x in r.entered("Leader", after_wall)]
        return min(led, key=lambda c: c[1]["wall"]) if led else None

    return wait_until(found, timeout, lambda: f"no new leader\n{replicas.describe()}")


def election_run(
    zk: ZooKeeperServer, workdir: Path, session: float, job: bool, settle: float
) -> dict[str, float]:
    flags = {
        "session_timeout": f"{session}s",
        "leader_timeout": "0.5s",
        "attempter_timeout": "60s",
        "metrics_address": "off",
        "leader_files": "on",
    }
    if job:
        flags.update(exec=JOB, exec_grace="0.5s")
    path = f"/bench-crash/{uuid.uuid4().hex}/leader"
    with ReplicaSet(workdir, zk.connect_string, path, **flags) as replicas:
        replicas.start(2)
        old = replicas.wait_for_leader(START_BOUND)
        time.sleep(settle)  # the other settles into Attempter with its watch
        if job:
            wait_until(lambda: old.find(lambda r: r["event"]["type"] == "ChildStarted"), 10, "")
        old.kill()  # not collected at once: its keeper reads how it died
        killed = old.killed_wall
        assert killed is not None
        new, entered = new_leader(replicas, old, killed, timeout=session + 30.0)
        measured = {"takeover": entered["wall"] - killed}
        if job:
            ok = {"type": "ChildStarted", "outcome": "ok"}
            started = wait_until(
                lambda: new.find(lambda r: ok.items() <= r["event"].items(), after_wall=killed),
                15,
                replicas.describe,
            )
            gone = wait_until(
                lambda: next((x for x in _keeper_records(old) if x["type"] == "job-gone"), None),
                15,
                "no job-gone record",
            )
            measured["job_stopped"] = gone["wall"] - killed
            measured["job_gap"] = started["event"]["started_at"] - gone["wall"]
        old.wait(10)
        return measured


def recipe_run(
    zk: ZooKeeperServer, workdir: Path, session: float, settle: float
) -> dict[str, float]:
    path = f"/bench-crash-recipe/{uuid.uuid4().hex}/leader"
    a = Contender(zk.connect_string, path, "a", workdir, session)
    b = None
    try:
        wait_until(lambda: a.first("leader"), 30, lambda: a.out.read_text())
        b = Contender(zk.connect_string, path, "b", workdir, session)
        wait_until(lambda: b.first("contending") if b else None, 30, "")
        time.sleep(settle)
        killed = time.time()
        a.proc.send_signal(signal.SIGKILL)
        entered = wait_until(lambda: b.first("leader") if b else None, session + 30, "")
        return {"takeover": entered - killed}
    finally:
        a.stop()
        if b is not None:
            b.stop()


def main(argv: list[str] | None = None) -> int:
    bench = Bench("crash", __doc__, argv, runs=20)
    bench.add_argument("--sessions", default="2,10,30", help="session timeouts, seconds")
    bench.add_argument("--kinds", default=",".join(KINDS))
    bench.add_argument("--recipe-runs", type=int, help="runs of the recipe (default --runs)")
    bench.add_argument("--settle", type=float, default=0.5)
    args = bench.parse()
    sessions = [float(s) for s in args.sessions.split(",") if s]
    kinds = [k for k in args.kinds.split(",") if k]
    recipe_runs = args.runs if args.recipe_runs is None else args.recipe_runs
    runs: dict[str, dict[str, list[Run]]] = {}

    def one(kind: str, session: float, run_dir: Path) -> Run:
        if kind == "recipe":
            return recipe_run(zk, run_dir, session, args.settle)
        return election_run(zk, run_dir, session, kind == "election-job", args.settle)

    # The test kit's server grants at most 10 s by default: widen it to the longest.
    longest = max(int(max(sessions) * 1000), 10_000)
    with bench, bench.zookeeper(max_session_ms=longest) as zk:
        for session in sessions:
            at = runs.setdefault(f"{session:g}s", {})
            for i in range(args.runs):  # interleaved: a change of load hits every kind alike
                for kind in kinds:
                    if kind == "recipe" and i >= recipe_runs:
                        continue
                    label = f"{kind}-{session:g}s-{i:02d}"
                    at.setdefault(kind, [])
                    at[kind] += bench.repeat(label, 1, functools.partial(one, kind, session))
    report = bench.report(
        results={
            session: {kind: collect(done) for kind, done in by_kind.items()}
            for session, by_kind in runs.items()
        }
    )
    return bench.finish(report, render)


def render(report: Mapping[str, Any]) -> str:
    return "\n\n".join(
        table(f"{session} session: {kind}", measures)
        for session, by_kind in report["results"].items()
        for kind, measures in by_kind.items()
    )


if __name__ == "__main__":
    sys.exit(main())
