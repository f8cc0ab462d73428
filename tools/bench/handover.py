"""Hand-over benchmark: how fast does leadership move from one replica to another?

Runs its own ZooKeeper (election_testkit.zookeeper: Debian's zookeeper package, tickTime
200 ms) and real `election run` processes (election_testkit.replicas), then, for each of N
runs with a fresh pair of replicas on a fresh election path:

* graceful: start 2 replicas, wait for a leader, SIGTERM it, and measure from the journals'
  wall times how long until the other replica's record entering Leader:
    - ``from_release``:        old leader's SessionClosed record (closing the session
                               deleted its node)
    - ``from_stop_requested``: old leader's StopRequested record (the signal is handled)
    - ``from_signal``:         the moment this script sent SIGTERM (time.time())
  and how long the old leader took to stop (its exit status must be 0):
    - ``exit_record_after_signal``:  SIGTERM sent -> its last record (the one with Exit)
    - ``process_exit_after_signal``: SIGTERM sent -> Popen.wait() returned (coarse: wait()
      polls with growing sleeps, so this is quantised to ~50 ms steps)
* sigkill: start 2 replicas, wait for a leader, SIGKILL it, and measure from the moment
  this script sent SIGKILL to the new leader's record entering Leader; reported in seconds
  and as a ratio to the session timeout ZooKeeper negotiated for the killed leader's
  session (read from ZooKeeper's ``cons`` four-letter word).

Both kinds use ``--attempter-timeout 30s``, so only the watch on the election node can
make a take-over quick. Run from the repository root:

    .venv/bin/python -m tools.bench.handover            # 20 + 20 runs, a table
    .venv/bin/python -m tools.bench.handover --runs 5 --json

Prints median, p95 (nearest rank), min and max of each measure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from election.durations import parse_duration
from election_testkit.replica import Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer

START_BOUND = 30.0  # seconds for a first leader after starting the processes


# ------------------------------------------------------------------------- statistics


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p95": percentile(values, 95),
        "min": min(values),
        "max": max(values),
        "values": values,
    }


# ------------------------------------------------------------------------ the machine


def machine(zk: ZooKeeperServer) -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    zk_version = ""
    try:
        first = zk.four_letter_word("srvr").splitlines()[0]
        # "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on ...": keep "3.8.0"
        text = first.split(":", 1)[1].strip()
        found = re.match(r"[0-9][0-9.]*", text)
        zk_version = found.group(0) if found else text
    except (OSError, IndexError):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "zookeeper": zk_version,
        "zookeeper_tick_ms": zk.tick_ms,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def negotiated_timeouts(zk: ZooKeeperServer) -> dict[int, float]:
    """Session id -> negotiated session timeout (seconds) of every connection, from
    ZooKeeper's ``cons`` (``sid=0x...,...,to=2000``)."""
    out: dict[int, float] = {}
    for match in re.finditer(r"sid=0x([0-9a-f]+)[^)]*?\bto=(\d+)", zk.four_letter_word("cons")):
        out[int(match.group(1), 16)] = int(match.group(2)) / 1000.0
    return out


def session_id(replica: Replica) -> int | None:
    """The replica's current session id, from its last SessionConnected record."""
    sid = None
    for record in replica.records():
        if record["event"]["type"] == "SessionConnected":
            sid = record["event"]["session_id"]
    return sid


# --------------------------------------------------------------------------- the runs


def new_leader_record(
    replicas: ReplicaSet, old: Replica, after_wall: float, timeout: float
) -> tuple[Replica, dict[str, Any]]:
    def found() -> tuple[Replica, dict[str, Any]] | None:
        candidates = [
            (r, rec) for r in replicas if r is not old for rec in r.entered("Leader", after_wall)
        ]
        return min(candidates, key=lambda c: c[1]["wall"]) if candidates else None

    return wait_until(found, timeout, lambda: f"no new leader\n{replicas.describe()}")


def graceful_run(
    zk: ZooKeeperServer, workdir: Path, flags: dict[str, str], settle: float
) -> dict[str, float]:
    path = f"/bench/{uuid.uuid4().hex}/leader"
    with ReplicaSet(workdir, zk.connect_string, path, **flags) as replicas:
        replicas.start(2)
        old = replicas.wait_for_leader(START_BOUND)
        time.sleep(settle)  # let the other replica settle into Attempter with its watch
        assert replicas.leaders() == [old], replicas.describe()
        old.terminate()
        signalled = old.signalled_wall
        assert signalled is not None
        code = old.wait(30)
        exited = time.time()
        if code != 0:
            raise RuntimeError(f"old leader exited {code}\n{old.log_tail()}")
        stop = old.entered("Stopping")[0]
        released = old.find(lambda r: r["event"]["type"] == "SessionClosed")
        if released is None or released["event"]["outcome"] != "ok":
            raise RuntimeError(f"old leader did not close its session: {released}")
        _, entered = new_leader_record(replicas, old, signalled, timeout=35.0)
        last = old.last_record()
        assert last is not None
        return {
            "from_release": entered["wall"] - released["wall"],
            "from_stop_requested": entered["wall"] - stop["wall"],
            "from_signal": entered["wall"] - signalled,
            "exit_record_after_signal": last["wall"] - signalled,
            "process_exit_after_signal": exited - signalled,  # polled by wait(): coarse
        }


def sigkill_run(
    zk: ZooKeeperServer, workdir: Path, flags: dict[str, str], settle: float
) -> dict[str, float]:
    path = f"/bench/{uuid.uuid4().hex}/leader"
    with ReplicaSet(workdir, zk.connect_string, path, **flags) as replicas:
        replicas.start(2)
        old = replicas.wait_for_leader(START_BOUND)
        time.sleep(settle)
        assert replicas.leaders() == [old], replicas.describe()
        sid = session_id(old)
        negotiated = negotiated_timeouts(zk).get(sid) if sid is not None else None
        if negotiated is None:
            raise RuntimeError(f"session {sid} of {old.id} not in ZooKeeper's `cons`")
        old.kill()
        killed = old.killed_wall
        assert killed is not None
        old.wait(10)
        _, entered = new_leader_record(replicas, old, killed, timeout=negotiated + 30.0)
        if entered["cause"] != "election node created":
            raise RuntimeError(f"unexpected take-over cause: {entered['cause']}")
        takeover = entered["wall"] - killed
        return {
            "takeover": takeover,
            "ratio": takeover / negotiated,
            "negotiated_session_timeout": negotiated,
        }


def repeat(
    kind: str,
    runs: int,
    run: Callable[[Path], dict[str, float]],
    workdir: Path,
    progress: bool,
) -> tuple[dict[str, list[float]], list[str]]:
    results: dict[str, list[float]] = {}
    errors: list[str] = []
    for i in range(runs):
        try:
            measured = run(workdir / f"{kind}-{i:02d}")
        except Exception as exc:  # report and go on: one bad run must not hide the rest
            errors.append(f"{kind} run {i}: {type(exc).__name__}: {str(exc)[:2000]}")
            if progress:
                print(f"  {kind} {i + 1}/{runs}: ERROR {exc!s:.200}", file=sys.stderr)
            continue
        for key, value in measured.items():
            results.setdefault(key, []).append(value)
        if progress:
            shown = ", ".join(f"{k}={v:.3f}" for k, v in measured.items())
            print(f"  {kind} {i + 1}/{runs}: {shown}", file=sys.stderr)
    return results, errors


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tools.bench.handover",
        description="Measure graceful (SIGTERM) and crash (SIGKILL) leader hand-over.",
    )
    p.add_argument("--runs", type=int, default=20, help="runs of each kind (default 20)")
    p.add_argument("--graceful-runs", type=int, help="override --runs for SIGTERM runs")
    p.add_argument("--sigkill-runs", type=int, help="override --runs for SIGKILL runs")
    p.add_argument("--session-timeout", default="2s", help="asked of ZooKeeper (default 2s)")
    p.add_argument("--leader-timeout", default="0.5s", help="leader file cadence (0.5s)")
    p.add_argument("--attempter-timeout", default="30s", help="retry period (default 30s)")
    p.add_argument("--settle", type=float, default=0.5, help="seconds after the first leader")
    p.add_argument("--workdir", type=Path, help="keep ZooKeeper, journals and logs here")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no per-run progress on stderr")
    return p.parse_args(argv)


def render(report: dict[str, Any]) -> str:
    lines = []
    m = report["machine"]
    lines.append(
        f"machine: {m['nproc']} CPU ({m['cpu']}), Python {m['python']}, "
        f"ZooKeeper {m['zookeeper']} (tick {m['zookeeper_tick_ms']} ms), {m['date']}"
    )
    c = report["config"]
    lines.append(
        f"config: session-timeout asked {c['session_timeout']}, attempter-timeout "
        f"{c['attempter_timeout']}, leader-timeout {c['leader_timeout']}"
    )
    header = f"{'measure':<42} {'n':>3} {'median':>8} {'p95':>8} {'min':>8} {'max':>8}"
    for kind, title in (("graceful", "SIGTERM hand-over (s)"), ("sigkill", "SIGKILL take-over")):
        lines += ["", title, header]
        for key, stats in report[kind].items():
            if not stats.get("n"):
                lines.append(f"{key:<42} {0:>3}")
                continue
            unit = "" if key == "ratio" else " s"
            name = f"{key}{unit}"
            lines.append(
                f"{name:<42} {stats['n']:>3} {stats['median']:>8.3f} {stats['p95']:>8.3f}"
                f" {stats['min']:>8.3f} {stats['max']:>8.3f}"
            )
    if report["errors"]:
        lines += ["", f"errors ({len(report['errors'])}):", *report["errors"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    graceful_runs = args.graceful_runs if args.graceful_runs is not None else args.runs
    sigkill_runs = args.sigkill_runs if args.sigkill_runs is not None else args.runs
    parse_duration(args.session_timeout)  # fail early on a typo
    flags = {
        "session_timeout": args.session_timeout,
        "leader_timeout": args.leader_timeout,
        "attempter_timeout": args.attempter_timeout,
        "storage_capacity": "3",
        "metrics_address": "off",
        "log_level": "info",
    }
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="election-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    progress = not args.quiet
    started = time.monotonic()
    try:
        with ZooKeeperServer(workdir / "zk") as zk:
            info = machine(zk)
            if progress:
                print(f"ZooKeeper {info['zookeeper']} on {zk.connect_string}", file=sys.stderr)
            graceful, g_errors = repeat(
                "graceful",
                graceful_runs,
                lambda d: graceful_run(zk, d, flags, args.settle),
                workdir,
                progress,
            )
            sigkill, k_errors = repeat(
                "sigkill",
                sigkill_runs,
                lambda d: sigkill_run(zk, d, flags, args.settle),
                workdir,
                progress,
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "machine": info,
        "config": {
            "graceful_runs": graceful_runs,
            "sigkill_runs": sigkill_runs,
            "session_timeout": args.session_timeout,
            "attempter_timeout": args.attempter_timeout,
            "leader_timeout": args.leader_timeout,
            "settle": args.settle,
            "command": " ".join(["python -m tools.bench.handover", *(argv or sys.argv[1:])]),
        },
        "graceful": {
            k: summary(graceful.get(k, []))
            for k in (
                "from_release",
                "from_stop_requested",
                "from_signal",
                "exit_record_after_signal",
                "process_exit_after_signal",
            )
        },
        "sigkill": {
            k: summary(sigkill.get(k, []))
            for k in ("takeover", "ratio", "negotiated_session_timeout")
        },
        "errors": g_errors + k_errors,
        "elapsed": time.monotonic() - started,
    }
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(render(report))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
