"""The graceful hand-over and its cost, `election run` beside kazoo's `Election` recipe, at
2, 50 and 100 contenders against one ZooKeeper in one run (issue 20): the hand-over of
two replicas, and of N with N - 1 waiting (scale).

For each size N (``--sizes``, default 2,50,100) and each design (``--kinds``: ``election``,
``recipe``), on a fresh election path, after ZooKeeper's JVM is warmed up (``--warmup``
requests of the queue's kinds) and its request rate without clients measured
(``--baseline`` seconds):

1. Start N contenders, wait until one leads and the others wait (every `election run`
   in Attempter with its queue node made; every recipe contender's lock node made),
   then let them settle (``--settle``).
2. Idle for ``--idle`` seconds: ZooKeeper's requests per second from its ``mntr``
   (``zk_packets_received`` over the window, less the rate without clients) and its
   watch count, per contender; memory per contender (RSS and PSS from /proc; for
   `election run`, its keeper's beside it). The second design starts beside the first:
   its idle figures are both's less the first's.
3. ``--runs`` graceful hand-overs of each, interleaved one by one (a change of load on a
   shared machine hits both alike), each 1 s + 0 to ``--jitter`` s after the last settled:
   SIGTERM the leader and measure to the first moment its successor leads, from the
   signal and from the old leader's release (the record asking to delete its node,
   journaled just before the request goes out; the recipe's ``stopping``, printed just
   before its lock node's delete), and, for `election run`, in two legs: the release to
   the notification reaching the successor, and that to its leading (and whether it read
   the queue first); ZooKeeper's requests in the window from just before the signal to
   ``--after`` seconds after the successor leads, less the idle rate of both designs
   together; for `election run`, also the ZooKeeper effects its journals show in the
   window, but a timer's (no noise: what the hand-over itself asked). Then a replacement
   joins (at the back) and settles, so that N contend every time.

The successor is known before the signal (the second node of the queue), so only its
output is watched while the clock runs. Instants are wall clocks of one machine: journals
for `election run`, ``time.time()`` lines of tools/bench/contenders.py for the recipe.
Both designs ask for the same session timeout (``--session-timeout``, the daemon's
default 10 s); `election run` otherwise runs with its defaults (metrics off, log level warning).

    .venv/bin/python -m tools.bench.queue --runs 12 --idle 20 --json > queue.json
    .venv/bin/python -m tools.bench.queue --sizes 2 --runs 5 --idle 10    # a quick look
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient

from election.core.effects import ZOOKEEPER_EFFECTS
from election.core.queue import in_order
from election_testkit.replica import Record, Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer

from .contenders import Contender
from .report import summary
from .runner import Bench, Run, memory, mntr

POLL = 0.01  # seconds between looks at the one successor's output while the clock runs
SLOW_POLL = 0.25  # elsewhere: N contenders' outputs, a busy machine
KINDS = ("election", "recipe")
_LETTING_GO = ("ReleaseNode", "CloseSession")
_ZOOKEEPER = {kind.__name__ for kind in ZOOKEEPER_EFFECTS}


class ElectionFleet:
    """N `election run` processes on one election path."""

    kind = "election"

    def __init__(self, zk: ZooKeeperServer, workdir: Path, session_timeout: str) -> None:
        self.path = f"/bench-queue/{uuid.uuid4().hex}/leader"
        self.set = ReplicaSet(
            workdir,
            zk.connect_string,
            self.path,
            metrics_address="off",
            log_level="warning",
            leader_timeout="10s",
            attempter_timeout="10s",
            session_timeout=session_timeout,
            storage_capacity="10",
        )
        self.added = 0

    def add(self) -> None:
        self.set.add(f"e{self.added:03d}").start()
        self.added += 1

    def settled(self, client: KazooClient) -> bool:
        running = self.set.running()
        states = [r.state for r in running]
        queued = len(in_order(client.get_children(self.path))) if client.exists(self.path) else 0
        return (
            states.count("Leader") == 1
            and states.count("Attempter") == len(running) - 1
            and queued == len(running)
        )

    def order(self, client: KazooClient) -> list[str]:
        """The contenders' ids, first in line first."""
        return [node.replica for node in in_order(client.get_children(self.path))]

    def by_id(self, ident: str) -> Replica:
        return next(r for r in self.set.replicas if r.id == ident)

    def leads_since(self, ident: str, after_wall: float) -> float | None:
        found = self.by_id(ident).entered("Leader", after_wall)
        return found[0]["wall"] if found else None

    def signal(self, ident: str) -> float:
        """SIGTERM `ident`: when it was sent."""
        replica = self.by_id(ident)
        replica.terminate()
        assert replica.signalled_wall is not None
        return replica.signalled_wall

    def wait(self, ident: str) -> int:
        return self.by_id(ident).wait(30)

    def _letting_go(self, ident: str, after_wall: float) -> Record:
        """The old leader's record asking to let its node go (its delete; or, holding
        none, the close of its session), journaled just before the request leaves."""
        found = self.by_id(ident).find(
            lambda r: any(e.get("type") in _LETTING_GO for e in r.get("effects", ())),
            after_wall=after_wall,
        )
        assert found is not None, f"{ident} never let its node go"
        return found

    def released(self, ident: str, after_wall: float) -> float:
        return float(self._letting_go(ident, after_wall)["wall"])

    def legs(self, old: str, successor: str, after_wall: float) -> dict[str, float]:
        """The hand-over's two legs, on the machine's monotonic clock: from the record
        asking to delete the old leader's node to the watch's notification reaching the
        successor, and from that to the successor's record in Leader; `read_first` 1 when
        it listed the queue before leading, 0 when it asked nothing first."""
        closing = self._letting_go(old, after_wall)
        journal = self.by_id(successor)
        led = journal.entered("Leader", after_wall)
        notice = journal.find(
            lambda r: (
                r["event"].get("type") == "NodeWatchFired" and r["event"].get("kind") == "DELETED"
            ),
            after_wall=after_wall,
        )
        if not led or notice is None or notice["event"].get("answered_at") is None:
            return {}
        notified = float(notice["event"]["answered_at"])
        return {
            "release_to_notified": notified - float(closing["at"]),
            "notified_to_leads": float(led[0]["at"]) - notified,
            "read_first": float(led[0]["event"].get("type") == "QueueRead"),
        }

    def asked(self, since_wall: float, until_wall: float) -> dict[str, float]:
        """The ZooKeeper effects of the replicas' records between the two instants but a
        timer's (the periodic re-reads, which ZooKeeper's count has too)."""
        count = sum(
            sum(1 for e in record.get("effects", ()) if e.get("type") in _ZOOKEEPER)
            for replica in self.set.replicas
            for record in replica.records()
            if since_wall <= record["wall"] <= until_wall
            and record["event"]["type"] != "TimerFired"
        )
        return {"effects_journaled": float(count)}

    def leaders(self) -> list[str]:
        return [r.id for r in self.set.leaders()]

    def pids(self) -> dict[str, list[int]]:
        daemons = [r.pid for r in self.set.running() if r.pid is not None]
        keepers = [k for r in self.set.running() if (k := r.keeper_pid()) is not None]
        return {"daemon": daemons, "keeper": keepers}

    def close(self) -> None:
        self.set.close()


class RecipeFleet:
    """N tools/bench/contenders.py processes (kazoo's `Election`) on one path."""

    kind = "recipe"

    def __init__(self, zk: ZooKeeperServer, workdir: Path, session_timeout: str) -> None:
        self.path = f"/bench-recipe/{uuid.uuid4().hex}/leader"
        self.hosts = zk.connect_string
        self.workdir = workdir
        self.session_timeout = float(session_timeout.rstrip("s"))
        self.procs: dict[str, Contender] = {}

    def add(self) -> None:
        ident = f"k{len(self.procs):03d}"
        self.procs[ident] = Contender(
            self.hosts, self.path, ident, self.workdir, self.session_timeout
        )

    def settled(self, client: KazooClient) -> bool:
        running = [c for c in self.procs.values() if c.proc.poll() is None]
        queued = len(client.get_children(self.path)) if client.exists(self.path) else 0
        return len(self.leaders()) == 1 and queued == len(running)

    def order(self, client: KazooClient) -> list[str]:
        """The contenders' ids, first in line first (a lock node's data is its id)."""
        names = sorted(client.get_children(self.path), key=lambda n: n[-10:])
        return [client.get(f"{self.path}/{name}")[0].decode() for name in names]

    def leads_since(self, ident: str, after_wall: float) -> float | None:
        return self.procs[ident].first("leader", after_wall)

    def signal(self, ident: str) -> float:
        signalled = time.time()
        self.procs[ident].proc.terminate()
        return signalled

    def wait(self, ident: str) -> int:
        return self.procs[ident].proc.wait(30)

    def released(self, ident: str, after_wall: float) -> float:
        stopping = self.procs[ident].first("stopping", after_wall)
        assert stopping is not None, f"{ident} never said it was stopping"
        return stopping

    def legs(self, old: str, successor: str, after_wall: float) -> dict[str, float]:
        return {}  # (its notification is kazoo's inside: not timed here)

    def asked(self, since_wall: float, until_wall: float) -> dict[str, float]:
        return {}  # (kazoo's recipe keeps no journal: ZooKeeper's count alone)

    def leaders(self) -> list[str]:
        return [ident for ident, c in self.procs.items() if c.leads()]

    def pids(self) -> dict[str, list[int]]:
        return {"recipe": [c.proc.pid for c in self.procs.values() if c.proc.poll() is None]}

    def close(self) -> None:
        for contender in self.procs.values():
            contender.stop()


Fleet = ElectionFleet | RecipeFleet


def idle(zk: ZooKeeperServer, seconds: float, baseline: float = 0.0) -> dict[str, float]:
    """ZooKeeper's requests per second over `seconds` (less `baseline`), its watches."""
    before, t0 = mntr(zk), time.monotonic()
    time.sleep(seconds)
    after, t1 = mntr(zk), time.monotonic()
    requests = after["zk_packets_received"] - before["zk_packets_received"]
    return {
        "requests_per_s": requests / (t1 - t0) - baseline,
        "watches": after.get("zk_watch_count", float("nan")),
        "seconds": t1 - t0,
    }


def per_contender(measured: dict[str, float], less: dict[str, float] | None, n: int) -> Run:
    """One design's idle figures: `measured` with it running, less `less` (the other
    design's, running beside it), and per contender."""
    requests = measured["requests_per_s"] - (less["requests_per_s"] if less else 0.0)
    watches = measured["watches"] - (less["watches"] if less else 0.0)
    return {
        "requests_per_s": requests,
        "requests_per_s_per_contender": requests / n,
        "watches_per_contender": watches / n,
        "measured_beside_the_other": less is not None,
    }


def hand_over(
    fleet: Fleet, zk: ZooKeeperServer, client: KazooClient, after: float, idle_rate: float
) -> dict[str, float]:
    """One graceful hand-over: its latencies and ZooKeeper's requests for it, less the
    idle rate over the window."""
    old, successor = fleet.order(client)[:2]
    before, t0, since = mntr(zk), time.monotonic(), time.time()
    signalled = fleet.signal(old)
    leads = wait_until(
        lambda: fleet.leads_since(successor, signalled),
        30,
        lambda: f"{successor} does not lead after {old}",
        interval=POLL,
    )
    time.sleep(after)
    spent, t1, until = mntr(zk), time.monotonic(), time.time()
    code = fleet.wait(old)  # its close went out long before: its exit is no request
    if code != 0:
        raise RuntimeError(f"{fleet.kind} leader {old} exited {code}")
    leaders = fleet.leaders()
    if leaders != [successor]:
        raise RuntimeError(f"after {old}: leaders {leaders}, not [{successor}] alone")
    requests = spent["zk_packets_received"] - before["zk_packets_received"]
    return {
        "from_signal": leads - signalled,
        "from_release": leads - fleet.released(old, signalled),
        **fleet.legs(old, successor, signalled),
        "requests": requests - idle_rate * (t1 - t0),
        **fleet.asked(since, until),
    }


def _settled(fleet: Fleet, client: KazooClient) -> Callable[[], bool]:
    return lambda: fleet.settled(client)


def run_size(bench: Bench, size: int, zk: ZooKeeperServer, baseline: float) -> list[Run]:
    """Both designs at `size` contenders: each started and measured at idle (the first
    alone, the second beside it, its figures less the first's), then their hand-overs
    interleaved one by one, so that a change of load on a shared machine hits both."""
    args, workdir = bench.args, bench.workdir
    jitter = random.Random(size)  # the same waits for the same size, run to run
    client = KazooClient(hosts=zk.connect_string, timeout=30)
    client.start(30)
    fleets: dict[str, Fleet] = {}
    reports: dict[str, Run] = {}
    first: dict[str, float] | None = None
    try:
        for kind in args.kinds:
            make = ElectionFleet if kind == "election" else RecipeFleet
            fleet: Fleet = make(zk, workdir / f"{kind}-{size}", args.session_timeout)
            fleets[kind] = fleet
            report: Run = {"kind": kind, "contenders": size, "load_average_start": os.getloadavg()}
            reports[kind] = report
            t0 = time.monotonic()
            for _ in range(size):
                fleet.add()
            wait_until(_settled(fleet, client), 300, f"{size} {kind}", interval=1.0)
            report["all_up_seconds"] = time.monotonic() - t0
            time.sleep(args.settle)
            measured = idle(zk, args.idle, baseline)
            report["idle"] = per_contender(measured, first, size)
            first = first or measured
            report["memory"] = memory(fleet.pids())
            bench.log(f"{kind} x{size}: idle {report['idle']}")
        # Both run now: the requests a hand-over causes are counted over both's idle rate.
        both = idle(zk, args.idle, baseline)["requests_per_s"]
        runs: dict[str, list[Run]] = {kind: [] for kind in fleets}
        for i in range(args.runs):
            for kind, fleet in fleets.items():

                def one(_: Path, fleet: Fleet = fleet) -> Run:
                    measured = hand_over(fleet, zk, client, args.after, both)
                    fleet.add()  # N contend again: the replacement queues at the back
                    wait_until(_settled(fleet, client), 120, fleet.kind, interval=SLOW_POLL)
                    time.sleep(args.between + jitter.uniform(0.0, args.jitter))
                    return measured

                runs[kind] += bench.repeat(f"{kind}-x{size}-{i:02d}", 1, one)
        for kind, report in reports.items():
            keys = dict.fromkeys(k for r in runs[kind] for k in r)
            report["handover"] = {k: summary(r[k] for r in runs[kind] if k in r) for k in keys}
            report["idle_requests_per_s_subtracted"] = both
            report["load_average_end"] = os.getloadavg()
    finally:
        client.stop()
        client.close()
        for fleet in fleets.values():
            fleet.close()
    return list(reports.values())


def warm_up(zk: ZooKeeperServer, requests: int) -> None:
    """A fresh ZooKeeper's JVM runs its request path interpreted at first: the first
    size's hand-overs would pay for the compilation. Queue-like work until it is warm."""
    client = KazooClient(hosts=zk.connect_string, timeout=30)
    client.start(30)
    try:
        path = f"/bench-warmup/{uuid.uuid4().hex}"
        client.ensure_path(path)
        for _ in range(requests // 4):
            made = client.create(f"{path}/n-", b"x", ephemeral=True, sequence=True)
            client.get_children(path)
            client.exists(made, watch=lambda event: None)
            client.delete(made)
    finally:
        client.stop()
        client.close()


def main(argv: list[str] | None = None) -> int:
    bench = Bench("queue", __doc__, argv, runs=10)  # --runs: hand-overs of each design
    bench.add_argument("--sizes", default="2,50,100", help="contenders per run (2,50,100)")
    bench.add_argument("--kinds", default=",".join(KINDS), help="election,recipe")
    bench.add_argument("--idle", type=float, default=30.0, help="idle window, seconds (30)")
    bench.add_argument("--baseline", type=float, default=10.0, help="ZooKeeper alone, seconds")
    bench.add_argument("--settle", type=float, default=5.0, help="after all are up, seconds")
    bench.add_argument("--after", type=float, default=0.5, help="window past the successor (s)")
    bench.add_argument("--between", type=float, default=1.0, help="after a replacement (s)")
    bench.add_argument("--jitter", type=float, default=10.0, help="and 0 to this more (s)")
    bench.add_argument("--session-timeout", default="10s", help="asked by both designs (10s)")
    bench.add_argument("--warmup", type=int, default=2000, help="requests to warm ZooKeeper up")
    args = bench.parse()
    sizes = [int(s) for s in args.sizes.split(",")]
    args.kinds = [k for k in args.kinds.split(",") if k]
    if any(k not in KINDS for k in args.kinds) or any(s < 2 for s in sizes):
        bench.parser.error(f"--kinds from {', '.join(KINDS)}; --sizes of at least 2")
    runs: list[Run] = []
    with bench, bench.zookeeper(max_session_ms=60_000) as zk:
        warm_up(zk, args.warmup)
        baseline = idle(zk, args.baseline)["requests_per_s"]
        for size in sizes:
            runs += run_size(bench, size, zk, baseline)
        report = bench.report(baseline_requests_per_s=baseline, runs=runs)
    return bench.finish(report, render)


def render(report: Mapping[str, Any]) -> str:
    """Markdown: one row per design and size (ms, medians unless said)."""
    lines = [
        "| design | N | from signal (p95, min) | from release | release → notified "
        "| notified → leads (read first) | requests per hand-over (mean ± sd) "
        "| its journals' ZooKeeper effects (median, min to max) "
        "| idle requests/s per contender | watches per contender | RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in report["runs"]:
        h = run["handover"]
        sig = h.get("from_signal", {})
        memory = run["memory"].get("daemon") or run["memory"].get("recipe") or {}
        lines.append(
            f"| {run['kind']} | {run['contenders']} | {_ms(sig.get('median'))} "
            f"({_ms(sig.get('p95'))}, {_ms(sig.get('min'))}) "
            f"| {_ms(h.get('from_release', {}).get('median'))} "
            f"| {_ms(h.get('release_to_notified', {}).get('median'))} "
            f"| {_ms(h.get('notified_to_leads', {}).get('median'))}{_share(h.get('read_first'))} "
            f"| {_spread(h.get('requests'))} | {_counts(h.get('effects_journaled'))} "
            f"| {run['idle']['requests_per_s_per_contender']:.3f} "
            f"| {run['idle']['watches_per_contender']:.2f} | {memory.get('rss_mb_mean', 0):.1f} |"
        )
    lines.append("")
    lines.append(f"ZooKeeper without clients: {report['baseline_requests_per_s']:.3f} requests/s")
    return "\n".join(lines)


def _share(s: Mapping[str, Any] | None) -> str:
    """` (k of n)`: in how many hand-overs the successor read the queue first."""
    return f" ({round(sum(s['values']))} of {s['n']})" if s and s.get("n") else ""


def _spread(s: Mapping[str, Any] | None) -> str:
    if not s or not s.get("n"):
        return "-"
    sd = f" ± {statistics.stdev(s['values']):.1f}" if s["n"] > 1 else ""
    return f"{statistics.mean(s['values']):.1f}{sd}"


def _counts(s: Mapping[str, Any] | None) -> str:
    return f"{s['median']:.0f} ({s['min']:.0f} to {s['max']:.0f})" if s and s.get("n") else "-"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.2f}"


if __name__ == "__main__":
    sys.exit(main())
