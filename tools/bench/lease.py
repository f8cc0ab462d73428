"""The job's lease (issue 12): after a fault of the leader's daemon, how long after the
old term's job is gone does the new term's job start? A negative margin is an overlap:
the promise of `--exec` broken.

One standalone ZooKeeper (election_testkit.zookeeper, tickTime 200 ms). Each run: two
`election run` replicas as on two machines (each its own TMPDIR, so the machine-wide job
lock cannot serialise their jobs, and its own TCP proxy to ZooKeeper,
election_testkit.proxy), on a fresh election path, running
`sh -c 'python election_testkit/jobs/family_job.py & wait'` (a shell, a worker, the
worker's child; election_testkit.family). Once the job runs and has settled (1 s plus
a uniformly random part of a heartbeat period, timeout / 6, so the fault falls at any
phase of the heartbeats), the fault, aimed at the leader's daemon:

* ``sigkill``:   SIGKILL of the daemon (the job respects SIGTERM);
* ``sigstop``:   SIGSTOP of the daemon until the other replica's job has started, then
                 SIGCONT;
* ``partition``: the leader's proxy blackholed until the other replica's job has started,
                 then healed; the job ignores SIGTERM (FAMILY_IGNORE_TERM=1), so only a
                 SIGKILL ends it (the supervisor's: at the lease, or a grace after the
                 daemon's own stop at its step-down if that came first).

The instants (all `time.time()`, one host, one clock):

* the fault: just before the signal or the blackhole;
* the old job gone: a thread of this benchmark polls every process of the old job (the
  shell, the worker and the worker's child) every ``--poll`` s (default 1 ms):
  ``os.kill(pid, 0)`` and the state in /proc/PID/stat not Z; a process is gone at the
  first poll that finds it so (the time read after the check: late, never early); the
  job is gone when its last process is;
* the new job started: its shell's start time in /proc/PID/stat (clock ticks since boot,
  10 ms, rounded down: early, never late), so the margin errs on the side of an overlap;
  the new worker also reports any process of another term it finds alive at its start;
* the session's expiry as the successor saw it: its NodeWatchFired DELETED record;
* the old job's first ``term`` line (a SIGTERM arrived: the lease's at lease - grace,
  the daemon's stop, or the supervisor's at the daemon's death).

    .venv/bin/python -m tools.bench.lease                      # 10 runs each, tables
    .venv/bin/python -m tools.bench.lease --runs 3 --sessions 2 --faults partition --json

Exit status 1 if any run overlapped or failed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import shlex
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from election_testkit.family import FAMILY_JOB, FamilyLog, alive
from election_testkit.proxy import TcpProxy
from election_testkit.replica import Record, Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer

from .report import collect, ms
from .runner import Bench, negotiated_timeouts, session_id

FAULTS = ("sigkill", "sigstop", "partition")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
START_BOUND = 30.0  # seconds for a first leader with its job running
GRACE_SHARE = 0.3  # the stop grace, of the session timeout (at most a third is allowed)
JOB_SECONDS = 300  # the family job ends by itself after this, should anything leak
Line = tuple[str, int, int, float, str]  # the family log's: kind, token, pid, wall, others


def grace_for(session: float) -> float:
    return round(GRACE_SHARE * session, 3)


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time in clock ticks since boot) from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0].decode(), int(fields[1]), int(fields[19])


def ticks_to_wall(ticks: int) -> float:
    """A /proc start time (clock ticks since boot, CLOCK_BOOTTIME) as Unix seconds; the
    ticks are whole, so the instant is rounded down to 1 / CLK_TCK."""
    boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    return boot + ticks / CLOCK_TICKS


class DeathWatch:
    """A thread polling a set of processes until each is gone (dead or a zombie)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._pids: dict[int, int] = {}  # pid -> start ticks (a reused pid is not it)
        self.gone: dict[int, float] = {}
        self.max_gap = 0.0  # the longest time between two polls
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="death-watch", daemon=True)

    def add(self, pid: int) -> None:
        stat = proc_stat(pid)
        with self._lock:
            if stat is None or stat[0] in ("Z", "X"):
                self.gone.setdefault(pid, time.time())
            else:
                self._pids[pid] = stat[2]

    def start(self) -> None:
        self._thread.start()

    def all_gone(self) -> bool:
        with self._lock:
            return all(pid in self.gone for pid in self._pids)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(5)

    def _alive(self, pid: int, ticks: int) -> bool:
        stat = proc_stat(pid) if alive(pid) else None
        return stat is not None and stat[2] == ticks and stat[0] not in ("Z", "X")

    def _run(self) -> None:
        previous = time.time()
        while not self._stop.is_set():
            before = time.time()
            self.max_gap = max(self.max_gap, before - previous)
            previous = before
            with self._lock:
                pending = [(p, t) for p, t in self._pids.items() if p not in self.gone]
            for pid, ticks in pending:
                if not self._alive(pid, ticks):
                    with self._lock:
                        self.gone[pid] = time.time()  # read after the check: late
            time.sleep(self.interval)


class Job(NamedTuple):
    token: int
    shell: int
    worker: int
    proc_start: float  # the shell's start, rounded down to a clock tick
    others: str  # what the worker found alive of other terms at its start ("-": nothing)


class Machines:
    """Two replicas, each as on a machine of its own, running a job with a family (the
    arrangement of tests/e2e/test_lease_e2e.py)."""

    def __init__(
        self, zk: ZooKeeperServer, workdir: Path, flags: dict[str, str], ignore_term: bool
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.family = FamilyLog(workdir / "family.log")
        self.proxies = [TcpProxy("127.0.0.1", zk.port) for _ in range(2)]
        worker = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAMILY_JOB))}"
        path = f"/bench-lease/{uuid.uuid4().hex}/leader"
        job = f"sh -c {shlex.quote(worker + ' & wait')}"
        self.replicas = ReplicaSet(workdir, "unused", path, exec=job, **flags)
        self.replicas.env.update(
            FAMILY_LOG=str(self.family.path),
            FAMILY_MARK=str(workdir),
            FAMILY_IGNORE_TERM="1" if ignore_term else "0",
            FAMILY_SECONDS=str(JOB_SECONDS),
        )
        for i, proxy in enumerate(self.proxies):
            replica = self.replicas.add(f"m{i}", zk_servers=proxy.connect_string)
            (workdir / f"machine{i}").mkdir()
            replica.env["TMPDIR"] = str(workdir / f"machine{i}")
            replica.start()

    def lines(self) -> list[Line]:
        """The family log's whole lines (one being written is not yet one)."""
        with contextlib.suppress(FileNotFoundError):
            *whole, _ = self.family.path.read_text().split("\n")
            return [
                (kind, int(token), int(pid), float(wall), rest[0] if rest else "")
                for kind, token, pid, wall, *rest in (line.split() for line in whole)
            ]
        return []

    def first(self, kind: str, pred: Callable[[int], bool]) -> Line | None:
        return next((x for x in self.lines() if x[0] == kind and pred(x[1])), None)

    def job(self, after_token: int = 0, timeout: float = START_BOUND) -> Job:
        """The first job of a term newer than `after_token` once it has started (its
        worker's `start` line is there)."""
        _, token, worker, _, others = wait_until(
            lambda: self.first("start", lambda t: t > after_token), timeout, self.describe
        )
        stat = proc_stat(worker)
        shell = proc_stat(stat[1]) if stat is not None else None
        if stat is None or shell is None:
            raise RuntimeError(f"job of term {token} gone at once")
        return Job(token, stat[1], worker, ticks_to_wall(shell[2]), others)

    def owner(self, job: Job) -> Replica:
        """The replica whose keeper runs `job` (shell -> keeper -> daemon)."""
        keeper = proc_stat(job.shell)
        daemon = proc_stat(keeper[1]) if keeper is not None else None
        for replica in self.replicas.replicas:
            if daemon is not None and replica.pid == daemon[1]:
                return replica
        raise RuntimeError(f"no replica runs job {job}\n{self.describe()}")

    def proxy_of(self, replica: Replica) -> TcpProxy:
        return self.proxies[self.replicas.replicas.index(replica)]

    def describe(self) -> str:
        return f"family: {self.family.lines()[-8:]}\n{self.replicas.describe()}"

    def close(self) -> list[str]:
        """Stop everything; returns what had to be killed by hand (should be nothing)."""
        for proxy in self.proxies:
            proxy.heal()
        for replica in self.replicas:
            if replica.running:
                replica.send_signal(signal.SIGCONT)
        self.replicas.close()
        for proxy in self.proxies:
            proxy.close()
        with contextlib.suppress(Exception):
            wait_until(lambda: not self.family.alive(), 5.0)
        leftovers = []
        for pid in self.family.alive():
            leftovers.append(f"job process {pid} still alive after the replicas stopped")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return leftovers


def event_is(event_type: str, **fields: object) -> Callable[[Record], bool]:
    return lambda r: (
        r["event"]["type"] == event_type and all(r["event"].get(k) == v for k, v in fields.items())
    )


def fault_run(
    zk: ZooKeeperServer,
    workdir: Path,
    fault: str,
    session: float,
    poll: float,
    rng: random.Random,
) -> dict[str, Any]:
    flags = {
        "session_timeout": f"{session}s",
        "leader_timeout": "1s",
        "attempter_timeout": "30s",
        "exec_grace": f"{grace_for(session)}s",
    }
    m = Machines(zk, workdir, flags, ignore_term=fault == "partition")
    watch = DeathWatch(poll)
    try:
        old_job = m.job()
        old = m.owner(old_job)
        other = next(r for r in m.replicas if r is not old)
        child = wait_until(lambda: m.first("child", lambda t: t == old_job.token), 10, m.describe)
        for pid in (old_job.shell, old_job.worker, child[2]):
            watch.add(pid)
        wait_until(lambda: other.state == "Attempter", 10, m.describe)
        sid = session_id(old)
        negotiated = negotiated_timeouts(zk).get(sid) if sid is not None else None
        time.sleep(1.0 + rng.uniform(0, session / 6))
        watch.start()
        if watch.all_gone():
            raise RuntimeError(f"the old job ended before the fault\n{m.describe()}")
        cut = time.time()
        if fault == "sigkill":
            old.kill()
        elif fault == "sigstop":
            old.send_signal(signal.SIGSTOP)
        else:
            m.proxy_of(old).blackhole()
        try:
            new_job = m.job(after_token=old_job.token, timeout=session + 20)
        finally:
            if fault == "sigstop":
                old.send_signal(signal.SIGCONT)
            elif fault == "partition":
                m.proxy_of(old).heal()
        wait_until(watch.all_gone, session + 10, m.describe)
        watch.stop()
        gone = max(watch.gone.values())
        termed = [x[3] for x in m.lines() if x[0] == "term" and x[1] == old_job.token]
        # The journals, once the measured window is over.
        expiry = m.owner(new_job).find(event_is("NodeWatchFired", kind="DELETED"), cut)
        result: dict[str, Any] = {
            "margin": new_job.proc_start - gone,
            "fault_to_old_gone": gone - cut,
            "fault_to_new_started": new_job.proc_start - cut,
            "fault_to_first_sigterm": (min(termed) - cut) if termed else None,
            "sigterm_to_old_gone": (gone - min(termed)) if termed else None,
            "fault_to_expiry_seen": (expiry["wall"] - cut) if expiry else None,
            "expiry_seen_to_new_started": (
                (new_job.proc_start - expiry["wall"]) if expiry else None
            ),
            "death_poll_max_gap": watch.max_gap,
            "negotiated_session_timeout": negotiated,
            "new_job_found_alive": new_job.others if new_job.others != "-" else "",
        }
        if fault != "sigkill":
            # Who sent the SIGTERM: the lease, if the supervisor reported it ran out
            # (ChildLeaseExpired; it reports nothing once a stop has begun), else the
            # daemon's stop at its step-down. A daemon woken from SIGSTOP journals it a
            # moment after SIGCONT.
            with contextlib.suppress(AssertionError):
                wait_until(lambda: old.find(event_is("ChildExited", pid=old_job.shell), cut), 5)
            lease = old.find(event_is("ChildLeaseExpired", pid=old_job.shell), cut)
            result["sigterm_from"] = "lease" if lease is not None else "daemon stop"
        return result
    finally:
        watch.stop()
        leftovers = m.close()
        if leftovers:
            raise RuntimeError("; ".join(leftovers))


def overlaps(runs: list[dict[str, Any]]) -> int:
    return sum(1 for r in runs if r["margin"] < 0 or r.get("new_job_found_alive"))


def render(report: Mapping[str, Any]) -> str:
    lines = [
        "margin: old job gone -> new job's process started (ms; negative = overlap)",
        "| fault | session | grace | n | overlaps | margin median | min | max |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in report["faults"]:
        s = f["stats"].get("margin", {})
        lines.append(
            f"| {f['fault']} | {f['session']:g} s | {f['grace']:g} s | {s.get('n', 0)} "
            f"| **{f['overlaps']}** | {ms(s.get('median'))} | {ms(s.get('min'))} "
            f"| {ms(s.get('max'))} |"
        )
    lines += [
        "",
        "where the time goes (ms from the fault; median [min, max])",
        "| fault | session | → first SIGTERM | → old job gone | SIGTERM → gone "
        "| → expiry seen | → new job started | expiry → new job | SIGTERM from |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in report["faults"]:
        cells = [f["fault"], f"{f['session']:g} s"]
        for key in (
            "fault_to_first_sigterm",
            "fault_to_old_gone",
            "sigterm_to_old_gone",
            "fault_to_expiry_seen",
            "fault_to_new_started",
            "expiry_seen_to_new_started",
        ):
            s = f["stats"].get(key, {})
            cells.append(f"{ms(s['median'])} [{ms(s['min'])}, {ms(s['max'])}]" if s else "-")
        cells.append(str(f["sigterm_from"] or "-"))
        lines.append(f"| {' | '.join(cells)} |")
    gaps = [f["stats"].get("death_poll_max_gap", {}).get("max", 0.0) for f in report["faults"]]
    gap = max(gaps, default=0.0)
    lines += ["", f"longest death-watch poll gap: {ms(gap)} ms", f"overlaps: {report['overlaps']}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    bench = Bench("lease", __doc__, argv, runs=10)
    bench.add_argument("--sessions", default="2,10", help="session timeouts, seconds")
    bench.add_argument("--faults", default=",".join(FAULTS))
    bench.add_argument("--poll", type=float, default=0.001, help="death-watch poll, seconds")
    bench.add_argument("--seed", type=int, default=12)
    args = bench.parse()
    faults = [f for f in args.faults.split(",") if f]
    sessions = [float(s) for s in args.sessions.split(",") if s]
    if any(f not in FAULTS for f in faults):
        bench.parser.error(f"--faults from {', '.join(FAULTS)}")
    if any(not 0.4 <= s <= 10 for s in sessions):
        bench.parser.error("session timeouts must lie in [0.4, 10] s (the test ZooKeeper's)")
    rng = random.Random(args.seed)

    def run(workdir: Path, fault: str, session: float) -> dict[str, Any]:
        return fault_run(zk, workdir, fault, session, args.poll, rng)

    # The death watch shares the interpreter with the proxies' threads and the waits:
    # hand the GIL over sooner than the default 5 ms.
    sys.setswitchinterval(0.0005)
    results = []
    with bench, bench.zookeeper(tick_ms=200) as zk:
        for session in sessions:
            for fault in faults:
                label = f"{fault}-{session:g}s"
                runs = bench.repeat(
                    label, args.runs, functools.partial(run, fault=fault, session=session)
                )
                results.append(
                    {
                        "fault": fault,
                        "session": session,
                        "grace": grace_for(session),
                        "overlaps": overlaps(runs),
                        "stats": collect(runs),
                        "sigterm_from": dict(
                            Counter(r["sigterm_from"] for r in runs if "sigterm_from" in r)
                        ),
                        "runs": runs,
                    }
                )
    report = bench.report(faults=results, overlaps=sum(f["overlaps"] for f in results))
    code = bench.finish(report, render)
    if report["overlaps"]:
        print(f"OVERLAP: {report['overlaps']} run(s) started a job beside another term's")
    return 1 if report["overlaps"] else code


if __name__ == "__main__":
    sys.exit(main())
