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

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from election.keeper.records import record_path
from election_testkit.filedir import leader_files
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer

from .compare import Contender
from .handover import START_BOUND, machine, new_leader_record, summary
from .lease import supervisor_start as keeper_start

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


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


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
        return {"daemon_rss_kib": rss_kib(r.pid), "keeper_rss_kib": rss_kib(keeper)}


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


def python_floor() -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
    return time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.bench.crash", description=__doc__)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--sessions", default="2,10,30", help="session timeouts, seconds")
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--recipe-runs", type=int, help="runs of the recipe (default --runs)")
    p.add_argument("--settle", type=float, default=0.5)
    p.add_argument("--startup-runs", type=int, default=30)
    p.add_argument("--first-runs", type=int, default=10, help="lone replicas started")
    p.add_argument("--against", help="a git revision to measure the first term beside")
    p.add_argument("--workdir", type=Path)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    sessions = [float(s) for s in args.sessions.split(",") if s]
    kinds = [k for k in args.kinds.split(",") if k]
    recipe_runs = args.runs if args.recipe_runs is None else args.recipe_runs
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="election-crash-"))
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    errors: list[str] = []
    load_before = os.getloadavg()
    started = time.monotonic()
    try:
        # The test kit's server grants at most 10 s by default: widen it to the longest.
        longest = int(max(sessions) * 1000)
        with ZooKeeperServer(workdir / "zk", max_session_ms=max(longest, 10_000)) as zk:
            info = machine(zk)
            for session in sessions:
                at = results.setdefault(f"{session:g}s", {})
                for i in range(args.runs):
                    for kind in kinds:
                        if kind == "recipe" and i >= recipe_runs:
                            continue
                        run_dir = workdir / f"{kind}-{session:g}-{i:02d}"
                        try:
                            if kind == "recipe":
                                measured = recipe_run(zk, run_dir, session, args.settle)
                            else:
                                job = kind == "election-job"
                                measured = election_run(zk, run_dir, session, job, args.settle)
                        except Exception as exc:  # one bad run must not hide the rest
                            errors.append(f"{kind} {session:g}s run {i}: {exc!s:.1500}")
                            print(
                                f"  {kind} {session:g}s {i + 1}: ERROR {exc!s:.200}",
                                file=sys.stderr,
                            )
                            continue
                        for key, value in measured.items():
                            at.setdefault(kind, {}).setdefault(key, []).append(value)
                        shown = ", ".join(f"{k}={v * 1000:.1f}ms" for k, v in measured.items())
                        print(f"  {kind} {session:g}s {i + 1}: {shown}", file=sys.stderr)
            rss = footprint(zk, workdir / "footprint")
            trees: dict[str, Path | None] = {"this tree": None}
            if args.against:
                trees[args.against] = tree_of(args.against, workdir)
            firsts: dict[str, dict[str, list[float]]] = {}
            for i in range(args.first_runs):
                for name, src in trees.items():
                    for job in (False, True):
                        key = "first_job_started" if job else "first_file"
                        run_dir = workdir / f"first-{i}-{len(firsts)}-{key}"
                        value = first_term(zk, run_dir, job, src)
                        firsts.setdefault(name, {}).setdefault(key, []).append(value)
        starts = [keeper_start(workdir) for _ in range(args.startup_runs)]
        floors = [python_floor() for _ in range(args.startup_runs)]
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "machine": info,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "config": {"runs": args.runs, "recipe_runs": recipe_runs, "settle": args.settle},
        "results": {
            session: {
                kind: {key: summary(values) for key, values in measures.items()}
                for kind, measures in by_kind.items()
            }
            for session, by_kind in results.items()
        },
        "first_term": {
            name: {key: summary(values) for key, values in measures.items()}
            for name, measures in firsts.items()
        },
        "keeper": {
            "start_with_first_job": summary(starts),
            "python_floor": summary(floors),
            **rss,
        },
        "errors": errors,
        "elapsed": time.monotonic() - started,
    }
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(render(report))
    return 1 if errors else 0


def render(report: dict[str, Any]) -> str:
    lines = [
        f"load average before {report['load_average_before']}, after {report['load_average_after']}"
    ]
    for session, by_kind in report["results"].items():
        for kind, measures in by_kind.items():
            for key, s in measures.items():
                lines.append(
                    f"session {session:>4} {kind:<13} {key:<12} n={s['n']:>3} "
                    f"median={s['median'] * 1000:8.1f} ms p95={s['p95'] * 1000:8.1f} ms "
                    f"max={s['max'] * 1000:8.1f} ms"
                )
    for name, measures in report["first_term"].items():
        for key, s in measures.items():
            lines.append(
                f"{name:<12} Popen -> {key:<18} n={s['n']:>3} median={s['median'] * 1000:8.1f}"
                f" ms max={s['max'] * 1000:8.1f} ms"
            )
    k = report["keeper"]
    first = k["start_with_first_job"]["median"] * 1000
    lines.append(
        f"keeper start-up with its first job: median {first:.1f}"
        f" ms (python -I -S -c pass: {k['python_floor']['median'] * 1000:.1f} ms); RSS keeper "
        f"{k['keeper_rss_kib'] / 1024:.1f} MiB, daemon {k['daemon_rss_kib'] / 1024:.1f} MiB"
    )
    lines += report["errors"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
