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

Then the keeper itself: its start-up with its first job (Popen → `started`, the lease
given at once, the job /bin/true), beside `python -I -S -c pass`; its RSS beside the
daemon's while a job runs; and the first term of a lone replica (Popen → its first leader
file, and → its job's start), beside a tree from before the keeper with `--against REV`.

    .venv/bin/python -m tools.bench.crash --runs 20 --sessions 2,10,30 --against 8ffafc2 --json
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from election.keeper import wire
from election.keeper.records import record_path
from election.runtime.keeper import keeper_command
from election_testkit.filedir import leader_files
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer

from .compare import Contender
from .footprint import proc_status
from .handover import START_BOUND, new_leader_record
from .report import collect, ms, summary, table
from .runner import Bench, Run

KINDS = ("election", "election-job", "recipe")
ROOT = Path(__file__).resolve().parents[2]
JOB = "sh -c 'sleep 600 & wait'"


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


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
        new, entered = new_leader_record(replicas, old, killed, timeout=session + 30.0)
        measured = {"takeover": entered["wall"] - killed}
        if job:
            started = wait_until(
                lambda: new.find(
                    lambda r: (
                        r["event"]["type"] == "ChildStarted" and r["event"]["outcome"] == "ok"
                    ),
                    after_wall=killed,
                ),
                15,
                replicas.describe,
            )
            gone = wait_until(
                lambda: next(
                    (x for x in _records(record_path(old.journal)) if x["type"] == "job-gone"),
                    None,
                ),
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
    workdir.mkdir(parents=True, exist_ok=True)
    path = f"/bench-crash-recipe/{uuid.uuid4().hex}/leader"
    a = Contender("recipe", zk, path, "a", workdir, 30.0, session)
    b = None
    try:
        wait_until(lambda: a.first("leader"), 30, lambda: a.out.read_text())
        b = Contender("recipe", zk, path, "b", workdir, 30.0, session)
        wait_until(lambda: b.first("contending") if b else None, 30, lambda: "")
        time.sleep(settle)
        killed = time.time()
        a.proc.send_signal(signal.SIGKILL)
        entered = wait_until(lambda: b.first("leader") if b else None, session + 30, "")
        return {"takeover": entered["wall"] - killed}
    finally:
        a.stop()
        if b is not None:
            b.stop()


def footprint(zk: ZooKeeperServer, workdir: Path) -> dict[str, Any]:
    """The keeper's RSS beside its daemon's, while a job runs."""
    flags = {"metrics_address": "off", "exec": JOB, "exec_grace": "0.5s"}
    path = f"/bench-crash-rss/{uuid.uuid4().hex}/leader"
    with ReplicaSet(workdir, zk.connect_string, path, **flags) as replicas:
        (r,) = replicas.start(1)
        r.wait_for_state("Leader", START_BOUND)
        wait_until(lambda: r.find(lambda x: x["event"]["type"] == "ChildStarted"), 10, "")
        time.sleep(1.0)
        keeper = r.keeper_pid()
        assert r.pid is not None and keeper is not None
        return {
            "daemon_rss_kib": proc_status(r.pid)["VmRSS"],
            "keeper_rss_kib": proc_status(keeper)["VmRSS"],
        }


def first_term(zk: ZooKeeperServer, workdir: Path, job: bool, src: Path | None) -> float:
    """Popen of a lone replica → its first leader file (`job`: its job's start, on the
    keeper's clock): the daemon's start and its first term, keeper included. `src`: run
    another tree's daemon (an older release, `--against`) instead of this one."""
    flags = {"metrics_address": "off", "leader_timeout": "1s"}
    if job:
        flags.update(exec=JOB, exec_grace="0.5s")
    path = f"/bench-crash-first/{uuid.uuid4().hex}/leader"
    with ReplicaSet(workdir, zk.connect_string, path, **flags) as replicas:
        if src is not None:
            replicas.env["PYTHONPATH"] = str(src)
        (r,) = replicas.start(1)
        assert r.started_wall is not None
        if not job:
            files = wait_until(lambda: leader_files(replicas.file_dir), 60, replicas.describe)
            return files[0].written_wall - r.started_wall
        started = wait_until(
            lambda: r.find(
                lambda x: x["event"]["type"] == "ChildStarted" and x["event"]["outcome"] == "ok"
            ),
            60,
            replicas.describe,
        )
        return float(started["event"].get("started_at") or started["wall"]) - r.started_wall


def tree_of(rev: str, workdir: Path) -> Path:
    """The source tree of git revision `rev`, unpacked under `workdir`."""
    out = workdir / f"tree-{rev}"
    out.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", rev], capture_output=True, check=True, cwd=ROOT)
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    return out


def keeper_start(workdir: Path) -> float:
    """Seconds from before Popen to the keeper's `started` line for its first job (lease
    given at once; the job is /bin/true): a keeper's start-up and a job's start together."""
    config = {"daemon": os.getpid(), "servers": []}
    t0 = time.monotonic()
    proc = subprocess.Popen(
        keeper_command(config),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its notes once we close its control pipe
        start_new_session=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        start = wire.encode(
            "start",
            request=1,
            token=1,
            command=["/bin/true"],
            env={},
            grace=0.5,
            lock=str(workdir / "job.lock"),
            start_by=time.monotonic() + 5.0,
        )
        proc.stdin.write(start + wire.encode("lease", token=1, until=time.monotonic() + 10.0))
        proc.stdin.flush()
        for raw in proc.stdout:
            message = json.loads(raw)
            if message["type"] == "started":
                return time.monotonic() - t0
            if message["type"] == "failed":
                raise RuntimeError(f"keeper failed: {message}")
        raise RuntimeError(f"keeper exited {proc.wait(5)} without starting the job")
    finally:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):  # a stop, as the daemon says it: no session
                proc.stdin.write(wire.encode("exit", code=0, graceful=True))
                proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


def python_floor() -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
    return time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    bench = Bench("crash", __doc__, argv, runs=20)
    bench.add_argument("--sessions", default="2,10,30", help="session timeouts, seconds")
    bench.add_argument("--kinds", default=",".join(KINDS))
    bench.add_argument("--recipe-runs", type=int, help="runs of the recipe (default --runs)")
    bench.add_argument("--settle", type=float, default=0.5)
    bench.add_argument("--startup-runs", type=int, default=30)
    bench.add_argument("--first-runs", type=int, default=10, help="lone replicas started")
    bench.add_argument("--against", help="a git revision to measure the first term beside")
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
        rss = footprint(zk, bench.workdir / "footprint")
        trees: dict[str, Path | None] = {"this tree": None}
        if args.against:
            trees[args.against] = tree_of(args.against, bench.workdir)
        firsts: dict[str, dict[str, list[float]]] = {}
        for i in range(args.first_runs):
            for t, (name, src) in enumerate(trees.items()):
                for job in (False, True):
                    key = "first_job_started" if job else "first_file"
                    run_dir = bench.workdir / f"first-{t}-{i}-{key}"  # one of each
                    value = first_term(zk, run_dir, job, src)
                    firsts.setdefault(name, {}).setdefault(key, []).append(value)
        starts = [keeper_start(bench.workdir) for _ in range(args.startup_runs)]
        floors = [python_floor() for _ in range(args.startup_runs)]
    report = bench.report(
        results={
            session: {kind: collect(done) for kind, done in by_kind.items()}
            for session, by_kind in runs.items()
        },
        first_term={
            name: {key: summary(values) for key, values in measures.items()}
            for name, measures in firsts.items()
        },
        keeper={"start_with_first_job": summary(starts), "python_floor": summary(floors), **rss},
    )
    return bench.finish(report, render)


def render(report: Mapping[str, Any]) -> str:
    parts = [
        table(f"{session} session: {kind}", measures)
        for session, by_kind in report["results"].items()
        for kind, measures in by_kind.items()
    ]
    parts += [
        table(f"{name}: Popen of a lone replica ->", measures)
        for name, measures in report["first_term"].items()
    ]
    k = report["keeper"]
    first, floor = k["start_with_first_job"].get("median"), k["python_floor"].get("median")
    parts.append(
        f"keeper start-up with its first job: median {ms(first, 1)}"
        f" ms (python -I -S -c pass: {ms(floor, 1)} ms); RSS keeper "
        f"{k['keeper_rss_kib'] / 1024:.1f} MiB, daemon {k['daemon_rss_kib'] / 1024:.1f} MiB"
    )
    return "\n\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())
