"""Hand-over benchmark: how fast does leadership move from one replica to another?

Runs its own ZooKeeper (election_testkit.zookeeper: Debian's zookeeper package, tickTime
200 ms) and real `election run` processes (election_testkit.replicas), then, for each of N
runs with a fresh pair of replicas on a fresh election path:

* graceful: start 2 replicas, wait for a leader, SIGTERM it, and measure from the journals'
  wall times how long until the other replica's record entering Leader:
    - ``from_release``:        old leader's NodeReleased record (the delete of its
                               queue node answered; SessionClosed if it held none)
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

Both kinds use ``--attempter-timeout 30s``, so only the watch on the node below ours can
make a take-over quick. Run from the repository root:

    .venv/bin/python -m tools.bench.handover            # 20 + 20 runs, a table
    .venv/bin/python -m tools.bench.handover --runs 5 --json

Prints median, p95 (nearest rank), min and max of each measure.
"""

from __future__ import annotations

import contextlib
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from election.durations import parse_duration
from election_testkit.replica import Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer

from .report import collect, summary, table
from .runner import Bench, negotiated_timeouts, session_id

START_BOUND = 30.0  # seconds for a first leader after starting the processes


# --------------------------------------------------------------------------- the runs

# Why a replica leads after the one before it went (never the attempt timer's re-read):
# its watch on the node below its own, or a read of the queue that watch asked for.
TAKE_OVER_CAUSES = ("the node below ours went: we are next", "our node leads the queue")


def new_leader_record(
    replicas: ReplicaSet, old: Replica, after_wall: float, timeout: float
) -> tuple[Replica, dict[str, Any]]:
    def found() -> tuple[Replica, dict[str, Any]] | None:
        candidates = [
            (r, rec) for r in replicas if r is not old for rec in r.entered("Leader", after_wall)
        ]
        return min(candidates, key=lambda c: c[1]["wall"]) if candidates else None

    return wait_until(found, timeout, lambda: f"no new leader\n{replicas.describe()}")


@contextlib.contextmanager
def leading_pair(
    zk: ZooKeeperServer, workdir: Path, flags: dict[str, str], settle: float
) -> Iterator[tuple[ReplicaSet, Replica]]:
    """Two replicas on a fresh election path, the leader, and the other settled into
    Attempter with its watch (`settle` seconds); both stopped on the way out."""
    path = f"/bench/{uuid.uuid4().hex}/leader"
    with ReplicaSet(workdir, zk.connect_string, path, **flags) as replicas:
        replicas.start(2)
        old = replicas.wait_for_leader(START_BOUND)
        time.sleep(settle)
        assert replicas.leaders() == [old], replicas.describe()
        yield replicas, old


def graceful_run(
    zk: ZooKeeperServer, workdir: Path, flags: dict[str, str], settle: float
) -> dict[str, float]:
    with leading_pair(zk, workdir, flags, settle) as (replicas, old):
        old.terminate()
        signalled = old.signalled_wall
        assert signalled is not None
        code = old.wait(30)
        exited = time.time()
        if code != 0:
            raise RuntimeError(f"old leader exited {code}\n{old.log_tail()}")
        stop = old.entered("Stopping")[0]
        closed = old.find(lambda r: r["event"]["type"] == "SessionClosed")
        if closed is None or closed["event"]["outcome"] != "ok":
            raise RuntimeError(f"old leader did not close its session: {closed}")
        # Its queue node's delete answered (the next in line heard of it as it committed);
        # a stopping replica holding no node only closes its session.
        deleted = old.find(lambda r: r["event"]["type"] == "NodeReleased")
        released = deleted if deleted is not None else closed
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
    with leading_pair(zk, workdir, flags, settle) as (replicas, old):
        sid = session_id(old)
        negotiated = negotiated_timeouts(zk).get(sid) if sid is not None else None
        if negotiated is None:
            raise RuntimeError(f"session {sid} of {old.id} not in ZooKeeper's `cons`")
        old.kill()
        killed = old.killed_wall
        assert killed is not None
        old.wait(10)
        _, entered = new_leader_record(replicas, old, killed, timeout=negotiated + 30.0)
        if entered["cause"] not in TAKE_OVER_CAUSES:
            raise RuntimeError(f"unexpected take-over cause: {entered['cause']}")
        takeover = entered["wall"] - killed
        return {
            "takeover": takeover,
            "ratio": takeover / negotiated,
            "negotiated_session_timeout": negotiated,
        }


GRACEFUL = (
    "from_release",
    "from_stop_requested",
    "from_signal",
    "exit_record_after_signal",
    "process_exit_after_signal",
)


def render(report: Mapping[str, Any]) -> str:
    c = report["config"]
    return "\n\n".join(
        [
            f"session-timeout asked {c['session_timeout']}, attempter-timeout "
            f"{c['attempter_timeout']}, leader-timeout {c['leader_timeout']}",
            table("SIGTERM hand-over", report["graceful"], "s"),
            table("SIGKILL take-over (ratio: of the negotiated timeout)", report["sigkill"], "s"),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    bench = Bench("handover", __doc__, argv, runs=20)
    bench.add_argument("--graceful-runs", type=int, help="override --runs for SIGTERM runs")
    bench.add_argument("--sigkill-runs", type=int, help="override --runs for SIGKILL runs")
    bench.add_argument("--session-timeout", default="2s", help="asked of ZooKeeper (2s)")
    bench.add_argument("--leader-timeout", default="0.5s", help="leader file cadence (0.5s)")
    bench.add_argument("--attempter-timeout", default="30s", help="retry period (30s)")
    bench.add_argument("--settle", type=float, default=0.5, help="seconds after a first leader")
    args = bench.parse()
    parse_duration(args.session_timeout)  # fail early on a typo
    flags = {
        "session_timeout": args.session_timeout,
        "leader_timeout": args.leader_timeout,
        "attempter_timeout": args.attempter_timeout,
        "storage_capacity": "3",
        "metrics_address": "off",
        "log_level": "info",
    }
    graceful_runs = args.runs if args.graceful_runs is None else args.graceful_runs
    sigkill_runs = args.runs if args.sigkill_runs is None else args.sigkill_runs
    with bench, bench.zookeeper() as zk:
        graceful = bench.repeat(
            "graceful", graceful_runs, lambda d: graceful_run(zk, d, flags, args.settle)
        )
        sigkill = bench.repeat(
            "sigkill", sigkill_runs, lambda d: sigkill_run(zk, d, flags, args.settle)
        )
    report = bench.report(
        graceful={k: summary(r[k] for r in graceful) for k in GRACEFUL},
        sigkill=collect(sigkill),
    )
    return bench.finish(report, render)


if __name__ == "__main__":
    sys.exit(main())
