"""The candidates' queue beside kazoo's `Election` recipe, at 2, 50 and 100 contenders,
against one ZooKeeper in one run (issue 20).

For each size N (``--sizes``, default 2,50,100) and each design (``--kinds``: ``election``,
``recipe``), on a fresh election path:

0. Warm ZooKeeper's JVM up (``--warmup`` requests of the queue's kinds), then measure its
   request rate without clients (``--baseline`` seconds).
1. Start N contenders, wait until one leads and the others wait (every `election run`
   in Attempter with its queue node made; every recipe contender's lock node made),
   then let them settle (``--settle``).
2. Idle for ``--idle`` seconds: ZooKeeper's requests per second from its ``mntr``
   (``zk_packets_received`` over the window, less the rate of a ZooKeeper without
   clients, measured first for ``--baseline`` seconds), its watch count; memory per
   contender (RSS and PSS from /proc; for `election run`, its keeper's beside it).
   The second design starts beside the first: its idle figures are both's less the
   first's.
3. ``--runs`` graceful hand-overs of each, interleaved one by one (a change of load
   on a shared machine hits both alike): SIGTERM the leader and measure to the first
   moment its successor leads, from the signal and from the old leader's release (the
   record asking to delete its node, journaled just before the request goes out; the
   recipe's ``stopping``, printed just before its lock node's delete), and, for `election
   run`, in two legs: the release to the notification reaching the successor, and that to
   its leading; ZooKeeper's requests in the window from just before the signal to
   ``--after`` seconds after the successor leads, less the idle rate of both designs
   together over that window; and, of them, those naming a node of this design
   (ZooKeeper's reads and writes "per namespace", the first component of its path: no
   pings, no session's close), less their own idle rate (periodic re-reads); for
   `election run`, also the ZooKeeper effects its journals show in the window, but a
   timer's (no noise: what the hand-over itself asked). Then
   a replacement joins (at the back) and settles, so that N contend every time.

The successor is known before the signal (the second node of the queue, read before the
window opens), so only its output is watched while the clock runs. Instants are wall
clocks of one machine: journals for `election run`, ``time.time()`` lines of
``tools/bench/contenders.py`` for the recipe. Both designs ask ZooKeeper for the same
session timeout (``--session-timeout``, the daemon's default 10 s), so their pings cost
alike; `election run` otherwise runs with its defaults (metrics off, log level warning).

    .venv/bin/python -m tools.bench.queue --runs 10 --json > queue.json
    .venv/bin/python -m tools.bench.queue --sizes 2 --runs 5 --idle 10    # a quick look
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
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

from .footprint import proc_pss_kb, proc_status
from .report import summary
from .runner import ROOT, Bench, mntr
from .scale import rate

POLL = 0.01  # seconds between looks at the one successor's output while the clock runs
SLOW_POLL = 0.25  # elsewhere: N contenders' outputs, a busy machine
KINDS = ("election", "recipe")
_LETTING_GO = ("ReleaseNode", "CloseSession")


def _leads(record: Record) -> bool:
    return record.get("state") == "Leader"


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

    def start(self, n: int) -> None:
        for _ in range(n):
            self.add()

    def add(self) -> Replica:
        replica = self.set.add(f"e{self.added:03d}").start()
        self.added += 1
        return replica

    def settled(self, client: KazooClient) -> bool:
        running = self.set.running()
        states = [r.state for r in running]
        queued = len(in_order(client.get_children(self.path))) if client.exists(self.path) else 0
        return (
            states.count("Leader") == 1
            and states.count("Attempter") == len(running) - 1
            and (queued == len(running))
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
        successor (our journal's sync, the delete, ZooKeeper), and from that to the
        successor's record in Leader; `read_first` 1 when it listed the queue before
        leading (no answer lately proved its session), 0 when it asked nothing first."""
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
        """What the replicas' journals show asked of ZooKeeper between the two instants
        for the hand-over: the ZooKeeper effects of every record in the window but a
        timer's (the periodic re-reads, which ZooKeeper's count has too). An effect is one
        request, but `ReadControl` (two) and `ReadMembers` (a listing, and a read per
        member not queued)."""
        kinds = {kind.__name__ for kind in ZOOKEEPER_EFFECTS}
        count = 0
        for replica in self.set.replicas:
            for record in replica.records():
                if not since_wall <= record["wall"] <= until_wall:
                    continue
                if record["event"]["type"] == "TimerFired":
                    continue
                count += sum(1 for e in record.get("effects", ()) if e.get("type") in kinds)
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
    """N `tools/bench/contenders.py recipe` processes (kazoo's `Election`) on one path."""

    kind = "recipe"

    def __init__(self, zk: ZooKeeperServer, workdir: Path, session_timeout: str) -> None:
        self.path = f"/bench-recipe/{uuid.uuid4().hex}/leader"
        self.zk = zk
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.session_timeout = float(session_timeout.rstrip("s"))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.added = 0

    def start(self, n: int) -> None:
        for _ in range(n):
            self.add()

    def add(self) -> str:
        ident = f"k{self.added:03d}"
        self.added += 1
        with open(self.workdir / f"{ident}.out", "wb") as out:
            self.procs[ident] = subprocess.Popen(
                [
                    sys.executable, "-m", "tools.bench.contenders", "recipe",
                    "--hosts", self.zk.connect_string, "--path", self.path, "--id", ident,
                    "--session-timeout", str(self.session_timeout),
                ],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        return ident

    def events(self, ident: str) -> list[dict[str, Any]]:
        text = (self.workdir / f"{ident}.out").read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def _first(self, ident: str, event: str, after_wall: float = float("-inf")) -> float | None:
        for e in self.events(ident):
            if e["event"] == event and e["wall"] >= after_wall:
                return float(e["wall"])
        return None

    def running(self) -> list[str]:
        return [i for i, p in self.procs.items() if p.poll() is None]

    def settled(self, client: KazooClient) -> bool:
        running = self.running()
        queued = len(client.get_children(self.path)) if client.exists(self.path) else 0
        return len(self.leaders()) == 1 and queued == len(running)

    def order(self, client: KazooClient) -> list[str]:
        """The contenders' ids, first in line first (a lock node's data is its id)."""
        names = sorted(client.get_children(self.path), key=lambda n: n[-10:])
        return [client.get(f"{self.path}/{name}")[0].decode() for name in names]

    def leads_since(self, ident: str, after_wall: float) -> float | None:
        return self._first(ident, "leader", after_wall)

    def signal(self, ident: str) -> float:
        signalled = time.time()
        self.procs[ident].send_signal(signal.SIGTERM)
        return signalled

    def wait(self, ident: str) -> int:
        return self.procs[ident].wait(30)

    def released(self, ident: str, after_wall: float) -> float:
        stopping = self._first(ident, "stopping", after_wall)
        assert stopping is not None, f"{ident} never said it was stopping"
        return stopping

    def legs(self, old: str, successor: str, after_wall: float) -> dict[str, float]:
        return {}  # (its notification is kazoo's inside: not timed here)

    def asked(self, since_wall: float, until_wall: float) -> dict[str, float]:
        return {}  # (kazoo's recipe keeps no journal: ZooKeeper's count alone)

    def leaders(self) -> list[str]:
        found = []
        for ident in self.running():
            kinds = [e["event"] for e in self.events(ident)]
            if "leader" in kinds and "released" not in kinds:
                found.append(ident)
        return found

    def pids(self) -> dict[str, list[int]]:
        return {"recipe": [self.procs[i].pid for i in self.running()]}

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


Fleet = ElectionFleet | RecipeFleet


def _memory(pids: dict[str, list[int]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for role, found in pids.items():
        rss, pss = [], []
        for pid in found:
            try:
                rss.append(proc_status(pid)["VmRSS"] / 1024)
                pss.append((proc_pss_kb(pid) or 0) / 1024)
            except (OSError, KeyError):
                continue  # gone meanwhile
        if rss:
            out[role] = {
                "processes": len(rss),
                "rss_mb_mean": statistics.mean(rss),
                "pss_mb_mean": statistics.mean(pss),
            }
    return out


def path_requests(counters: Mapping[str, float], path: str) -> float:
    """ZooKeeper's count of the requests on nodes under `path`'s first component (its
    reads and writes "per namespace": every request that names a node; not pings, not a
    session's creation or close)."""
    namespace = path.split("/")[1]
    return sum(
        counters.get(f"zk_cnt_{namespace}_{kind}_per_namespace", 0.0) for kind in ("read", "write")
    )


def idle_rates(zk: ZooKeeperServer, seconds: float, paths: list[str]) -> dict[str, float]:
    """Requests per second over ``seconds``: all (``packets``) and, per path in `paths`,
    those naming a node under it."""
    before, t0 = mntr(zk), time.monotonic()
    time.sleep(seconds)
    after, t1 = mntr(zk), time.monotonic()
    span = t1 - t0
    rates = {"packets": (after["zk_packets_received"] - before["zk_packets_received"]) / span}
    for path in paths:
        rates[path] = (path_requests(after, path) - path_requests(before, path)) / span
    return rates


def hand_over(
    fleet: Fleet, zk: ZooKeeperServer, client: KazooClient, after: float, idle: dict[str, float]
) -> dict[str, float]:
    """One graceful hand-over: its latencies and ZooKeeper's requests for it: all its
    packets, and those naming a node of this design (its election path's first
    component), each less its idle rate over the window."""
    order = fleet.order(client)
    old, successor = order[0], order[1]
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
    on_path = path_requests(spent, fleet.path) - path_requests(before, fleet.path)
    return {
        "from_signal": leads - signalled,
        "from_release": leads - fleet.released(old, signalled),
        **fleet.legs(old, successor, signalled),
        "requests": requests - idle["packets"] * (t1 - t0),
        "path_requests": on_path - idle[fleet.path] * (t1 - t0),
        "path_requests_counted": on_path,
        **fleet.asked(since, until),
        "window_s": t1 - t0,
    }


def _settled(fleet: Fleet, client: KazooClient) -> Callable[[], bool]:
    return lambda: fleet.settled(client)


def _idle(zk: ZooKeeperServer, seconds: float, baseline: float) -> dict[str, float]:
    measured = rate(zk, seconds)
    return {
        "requests_per_s": measured["packets_received_per_s"] - baseline,
        "watches": measured["watch_count"],
        "connections": measured["alive_connections"],
        "seconds": measured["seconds"],
    }


def _per_contender(idle: dict[str, float], less: dict[str, float] | None, n: int) -> dict[str, Any]:
    """One design's idle figures: `idle` measured with it running, less `less` (the
    other design's, running beside it), and per contender."""
    requests = idle["requests_per_s"] - (less["requests_per_s"] if less else 0.0)
    watches = idle["watches"] - (less["watches"] if less else 0.0)
    return {
        "requests_per_s": requests,
        "requests_per_s_per_contender": requests / n,
        "watches": watches,
        "watches_per_contender": watches / n,
        "seconds": idle["seconds"],
        "measured_beside_the_other": less is not None,
    }


def run_size(
    bench: Bench, size: int, zk: ZooKeeperServer, baseline: float
) -> dict[str, dict[str, Any]]:
    """Both designs at `size` contenders: each started and measured at idle (the first
    alone, the second beside it, its figures less the first's), then their hand-overs
    interleaved one by one, so that a change of load on a shared machine hits both."""
    args, workdir = bench.args, bench.workdir
    jitter = random.Random(size)  # the same waits for the same size, run to run
    client = KazooClient(hosts=zk.connect_string, timeout=30)
    client.start(30)
    fleets: dict[str, Fleet] = {}
    reports: dict[str, dict[str, Any]] = {}
    first_idle: dict[str, float] | None = None
    try:
        for kind in args.kinds:
            make = ElectionFleet if kind == "election" else RecipeFleet
            fleet: Fleet = make(zk, workdir / f"{kind}-{size}", args.session_timeout)
            fleets[kind] = fleet
            report: dict[str, Any] = {"contenders": size, "load_average_start": os.getloadavg()}
            reports[kind] = report
            t0 = time.monotonic()
            fleet.start(size)
            wait_until(_settled(fleet, client), 300, f"{size} {kind}", interval=1.0)
            report["all_up_seconds"] = time.monotonic() - t0
            time.sleep(args.settle)
            idle = _idle(zk, args.idle, baseline)
            report["idle"] = _per_contender(idle, first_idle, size)
            first_idle = first_idle or idle
            report["memory"] = _memory(fleet.pids())
            bench.log(f"{kind} x{size}: idle {report['idle']}")
        # Both run now: the requests a hand-over causes are counted over both's idle rate.
        both = idle_rates(zk, args.idle, [fleet.path for fleet in fleets.values()])
        both["packets"] -= baseline
        runs: dict[str, dict[str, list[float]]] = {kind: {} for kind in fleets}
        errors: dict[str, list[str]] = {kind: [] for kind in fleets}
        for i in range(args.runs):
            for kind, fleet in fleets.items():
                try:
                    measured = hand_over(fleet, zk, client, args.after, both)
                    for key, value in measured.items():
                        runs[kind].setdefault(key, []).append(value)
                    shown = ", ".join(f"{k}={v:.4f}" for k, v in measured.items())
                    bench.log(f"{kind} x{size} {i + 1}/{args.runs}: {shown}")
                    fleet.add()  # N contend again: the replacement queues at the back
                    wait_until(_settled(fleet, client), 120, kind, interval=SLOW_POLL)
                    time.sleep(args.between + jitter.uniform(0.0, args.jitter))
                except Exception as exc:  # report and go on: one bad run must not hide the rest
                    error = f"{kind} x{size} hand-over {i}: {type(exc).__name__}: {exc!s:.1500}"
                    errors[kind].append(error)
                    bench.errors.append(error)
                    bench.log(error[:300])
        for kind, report in reports.items():
            report["handover"] = {key: summary(values) for key, values in runs[kind].items()}
            requests = runs[kind].get("requests", [])
            report["requests_per_handover"] = {
                "mean": statistics.mean(requests) if requests else None,
                "stdev": statistics.stdev(requests) if len(requests) > 1 else None,
                "idle_rate_subtracted_per_s": both["packets"],
            }
            on_path = runs[kind].get("path_requests", [])
            report["path_requests_per_handover"] = {
                "median": statistics.median(on_path) if on_path else None,
                "mean": statistics.mean(on_path) if on_path else None,
                "stdev": statistics.stdev(on_path) if len(on_path) > 1 else None,
                "idle_rate_subtracted_per_s": both[fleets[kind].path],
            }
            report["errors"] = errors[kind]
            report["load_average_end"] = os.getloadavg()
    finally:
        client.stop()
        client.close()
        for fleet in fleets.values():
            fleet.close()
    return reports


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
    bench.add_argument(
        "--jitter",
        type=float,
        default=10.0,
        help="and a random 0 to this many seconds more (10: the default --attempter-timeout,"
        " so a hand-over finds the successor's last read at any age, as in production)",
    )
    bench.add_argument("--session-timeout", default="10s", help="asked by both designs (10s)")
    bench.add_argument(
        "--warmup", type=int, default=2000, help="requests to warm ZooKeeper's JVM first (2000)"
    )
    bench.add_argument("--render", type=Path, help="print the table of a saved --json report")
    args = bench.parse()
    if args.render is not None:
        print(render(json.loads(args.render.read_text())))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    args.kinds = kinds = [k for k in args.kinds.split(",") if k]
    if any(k not in KINDS for k in kinds) or any(s < 2 for s in sizes):
        bench.parser.error(f"--kinds from {', '.join(KINDS)}; --sizes of at least 2")
    runs: list[dict[str, Any]] = []
    with bench, bench.zookeeper(max_session_ms=60_000) as zk:
        warm_up(zk, args.warmup)
        baseline = rate(zk, args.baseline)["packets_received_per_s"]
        for size in sizes:
            for kind, measured in run_size(bench, size, zk, baseline).items():
                runs.append({"kind": kind, **measured})
        report = bench.report(baseline_requests_per_s=baseline, runs=runs)
    return bench.finish(report, render)


def render(report: Mapping[str, Any]) -> str:
    """Markdown: one row per design and size (ms, medians unless said)."""
    lines = [
        "| design | N | from signal (p95, min) | from release | release → notified "
        "| notified → leads (read first) | requests per hand-over (mean ± sd) "
        "| of them on its nodes (median; mean ± sd) "
        "| its journals' ZooKeeper effects (median, min to max) "
        "| idle requests/s per contender | watches per contender | RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in report["runs"]:
        h = run["handover"]
        sig = h.get("from_signal", {})
        memory = run["memory"].get("daemon") or run["memory"].get("recipe") or {}
        requests = run["requests_per_handover"]
        spread = "" if requests.get("stdev") is None else f" ± {requests['stdev']:.1f}"
        mean = "-" if requests.get("mean") is None else f"{requests['mean']:.1f}{spread}"
        on_path = run.get("path_requests_per_handover") or {}
        nodes = "-"
        if on_path.get("median") is not None:
            nodes = f"{on_path['median']:.1f}; {on_path['mean']:.1f}"
            if on_path.get("stdev") is not None:
                nodes += f" ± {on_path['stdev']:.1f}"
        lines.append(
            f"| {run['kind']} | {run['contenders']} | {_ms(sig.get('median'))} "
            f"({_ms(sig.get('p95'))}, {_ms(sig.get('min'))}) "
            f"| {_ms(h.get('from_release', {}).get('median'))} "
            f"| {_ms(h.get('release_to_notified', {}).get('median'))} "
            f"| {_ms(h.get('notified_to_leads', {}).get('median'))}{_share(h.get('read_first'))} "
            f"| {mean} | {nodes} "
            f"| {_counts(h.get('effects_journaled'))} "
            f"| {run['idle']['requests_per_s_per_contender']:.3f} "
            f"| {run['idle']['watches_per_contender']:.2f} | {memory.get('rss_mb_mean', 0):.1f} |"
        )
    lines.append("")
    lines.append(f"ZooKeeper without clients: {report['baseline_requests_per_s']:.3f} requests/s")
    return "\n".join(lines)


def _share(summary: Mapping[str, Any] | None) -> str:
    """` (k of n)`: in how many hand-overs the successor read the queue first."""
    if not summary or not summary.get("n"):
        return ""
    return f" ({round(sum(summary['values']))} of {summary['n']})"


def _counts(summary: Mapping[str, Any] | None) -> str:
    if not summary:
        return "-"
    return f"{summary['median']:.0f} ({summary['min']:.0f} to {summary['max']:.0f})"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.2f}"


if __name__ == "__main__":
    sys.exit(main())
