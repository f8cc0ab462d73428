"""Planned hand-over (issue 14): how long does `election handover` take, from the
operator's request to the new leader, and, with a job, from the old job's exit to the
new job's start?

One standalone ZooKeeper (election_testkit.zookeeper, tickTime 200 ms). Each run: three
`election run` replicas (election_testkit.replicas; priority 1 each, session 2 s,
``--attempter-timeout 30s`` so only a watch makes a take-over quick) on a fresh election
path; r0 is started first and leads, then r1 and r2 join as candidates. Once every
replica has read the controls and the members, and a settle of ``--settle`` s plus a
uniformly random part of the leader's period (its 0.2 s write period, or its job's
heartbeat, session / 6) has passed, the benchmark runs ``.venv/bin/election handover
--zk-servers ... --election-path ... [--to r1|r2] --wait 10s`` as a process, as an
operator would, and waits for it (bounded) to exit. Two kinds, each with ``--to`` (r1
and r2 in turn) and without, interleaved run by run:

* ``files``: leader files, ``--leader-timeout 0.2s``;
* ``exec``: ``--exec 'python election_testkit/jobs/family_job.py'`` (the test kit's
  family job: a worker and its child, each logging ``start``/``child``, a ``beat``
  every 20 ms and ``term`` at SIGTERM, with wall times; election_testkit.family),
  ``--exec-grace 0.5s``; each replica its own TMPDIR, as on three machines, so the
  machine-wide job lock cannot order the jobs: only the daemon's order can.

The instants (all Unix seconds on one host):

* R, the command run: ``time.time()`` just before Popen;
* A, the request node exists: its ``ctime`` (ZooKeeper's clock, the same host's, in
  whole ms: early by up to 1 ms), read by a watch of this benchmark's own client;
  beside it the first ``ControlRead`` record carrying the request, on any replica;
* the old leader's records: B its ``ControlChanged`` (CREATED) of the request, C its
  ``ControlRead`` carrying it (the term ends there: Attempter), D the record asking
  ``ReleaseNode`` (C itself, or the ``FileWritten`` of a file in flight, or the job's
  ``ChildExited``);
* the new leader's records: E its ``NodeWatchFired`` (DELETED), F its record entering
  Leader, G (exec) its ``ChildStarted``;
* X, the command's exit (exit status 0 required): a pidfd polled for it, read at once;
* exec: the old job's last line (its processes' ``term`` lines) and its processes gone
  (polled every ``--poll`` s from /proc, as tools/bench/lease.py: late, never early);
  the new job's ``start`` line (its worker's, after Python's start-up and its search of
  /proc for another term's live process) and its process start (/proc, 10 ms clock
  ticks, rounded down: early, never late).

An overlap is a run where the new job started before the old one had exited by any of
the three pairs (last line -> start line, ChildExited -> ChildStarted, gone -> process
start) or where the new job found another term's process alive at its start. Also
counted: runs where the command exited 0.4 s or more after the new Leader record (it
looks at the election node again every 0.5 s when a watch told it nothing).

    .venv/bin/python -m tools.bench.planned                 # 10 runs of each, tables
    .venv/bin/python -m tools.bench.planned --runs 2 --kinds files --json > p.json
    .venv/bin/python -m tools.bench.planned --render p.json  # the tables of a --json run

Exit status 1 if any run overlapped or failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient
from kazoo.protocol.states import EventType, WatchedEvent

from election.control import handover_path
from election.durations import parse_duration
from election_testkit.family import FAMILY_JOB, FamilyLog
from election_testkit.replica import Record, Replica
from election_testkit.replicas import ReplicaSet
from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer

from .handover import machine, summary
from .lease import DeathWatch, LineTail, proc_stat, ticks_to_wall

KINDS = ("files", "exec")
TARGETS = ("to", "any")  # --to a named replica; without --to
SESSION = 2.0
GRACE = 0.5
LEADER_TIMEOUT = 0.2
WAIT = "10s"  # the command's --wait
COMMAND_BOUND = 30.0  # seconds for the command to exit, whatever it does
START_BOUND = 30.0  # seconds for a first leader (with its job) after starting
JOB_SECONDS = 300  # the family job ends by itself after this, should anything leak
LATE_EXIT = 0.4  # seconds: a command that saw the new term only at its next look (0.5 s)


# ------------------------------------------------------------------- the request node


class RequestWatch:
    """Our own session, watching for the request node of one run: when it is made, its
    ctime (ZooKeeper's clock, ms) and when the notification reached us."""

    def __init__(self, client: KazooClient, path: str) -> None:
        self.client = client
        self.path = path
        self.seen: float | None = None
        self.ctime: float | None = None
        self.problem = ""
        client.exists(path, watch=self._fired)

    def _fired(self, event: WatchedEvent) -> None:  # kazoo's thread: never block
        if event.type != EventType.CREATED:
            self.problem = f"watch fired {event.type}"
            return
        self.seen = time.time()
        self.client.exists_async(self.path).rawlink(self._got)

    def _got(self, result: Any) -> None:
        try:
            stat = result.get()
        except Exception as exc:  # reported, not raised in kazoo's thread
            self.problem = f"exists: {exc!r}"
            return
        if stat is None:
            self.problem = "the request node was gone before its ctime could be read"
        else:
            self.ctime = stat.ctime / 1000.0


# --------------------------------------------------------------------------- records


def event_is(event_type: str, /, **fields: object) -> Callable[[Record], bool]:
    return lambda r: (
        r["event"]["type"] == event_type and all(r["event"].get(k) == v for k, v in fields.items())
    )


def asks(kind: str) -> Callable[[Record], bool]:
    return lambda r: any(e.get("type") == kind for e in r.get("effects", []))


def first(records: list[Record], pred: Callable[[Record], bool], start: int = 0) -> int | None:
    """The index of the first record from `start` on that matches."""
    for i in range(start, len(records)):
        if pred(records[i]):
            return i
    return None


def carries_request(record: Record) -> bool:
    return bool(event_is("ControlRead")(record) and record["event"].get("handover"))


def leader_entries(replicas: ReplicaSet, after: float) -> list[tuple[Replica, Record]]:
    entries = [(r, rec) for r in replicas for rec in r.entered("Leader", after)]
    return sorted(entries, key=lambda e: e[1]["wall"])


# ---------------------------------------------------------------------------- one run


class Cluster:
    """Three replicas on a fresh path; with `exec`, running the family job, each as on a
    machine of its own."""

    def __init__(self, zk: ZooKeeperServer, workdir: Path, kind: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.kind = kind
        self.family = FamilyLog(workdir / "family.log")
        self.tail = LineTail(self.family.path)
        flags = {
            "session_timeout": f"{SESSION:g}s",
            "leader_timeout": f"{LEADER_TIMEOUT:g}s",
            "attempter_timeout": "30s",
            "storage_capacity": "3",
        }
        if kind == "exec":
            flags["exec"] = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAMILY_JOB))}"
            flags["exec_grace"] = f"{GRACE:g}s"
        path = f"/bench-planned/{uuid.uuid4().hex}/leader"
        self.replicas = ReplicaSet(workdir, zk.connect_string, path, **flags)
        self.replicas.env.update(
            FAMILY_LOG=str(self.family.path),
            FAMILY_MARK=str(workdir),
            FAMILY_SECONDS=str(JOB_SECONDS),
        )
        for i in range(3):
            replica = self.replicas.add(f"r{i}")
            machine_tmp = workdir / f"machine{i}"
            machine_tmp.mkdir(exist_ok=True)
            replica.env["TMPDIR"] = str(machine_tmp)

    def start(self) -> Replica:
        """r0 first, until it leads (and its job runs); then r1 and r2, until each of
        the three has read the controls and the members."""
        first_replica, *others = self.replicas.replicas
        first_replica.start().wait_for_state("Leader", START_BOUND)
        if self.kind == "exec":
            wait_until(
                lambda: self.tail.first("start", lambda t: t > 0), START_BOUND, self.describe
            )
        for replica in others:
            replica.start()
        for replica in self.replicas:
            for kind in ("ControlRead", "MembersRead"):
                replica.wait_for(event_is(kind, outcome="ok"), START_BOUND, kind)
        for replica in others:
            replica.wait_for_state("Attempter", START_BOUND)
        return first_replica

    def describe(self) -> str:
        return f"family: {self.family.lines()[-6:]}\n{self.replicas.describe()}"

    def close(self) -> list[str]:
        """Stop everything; what had to be killed by hand (should be nothing)."""
        self.replicas.close()
        leftovers = []
        with contextlib.suppress(Exception):
            wait_until(lambda: not self.family.alive(), 5.0)
        for pid in self.family.alive():
            leftovers.append(f"job process {pid} still alive after the replicas stopped")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return leftovers


def election_command() -> list[str]:
    """The venv's `election` script, as an operator runs it."""
    script = Path(sys.executable).parent / "election"
    if not script.exists():
        raise SystemExit(f"no {script}: run `make venv` and use .venv/bin/python")
    return [str(script)]


class Command:
    """One `election handover` process: its run and exit instants, status and output."""

    def __init__(self, args: list[str], workdir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ELECTION_")}
        self.out_path = workdir / "handover.out"
        self.err_path = workdir / "handover.err"
        self.args = args
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.run_wall = time.time()
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env
            )
        self.exit_wall: float | None = None

    def wait(self, bound: float) -> int:
        """Wait (bounded) for the exit, its instant read as the pidfd becomes readable."""
        fd = os.pidfd_open(self.proc.pid)
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if not poller.poll(bound * 1000):
                self.kill()
                raise RuntimeError(f"`{shlex.join(self.args)}` still running after {bound:g}s")
            self.exit_wall = time.time()
        finally:
            os.close(fd)
        return self.proc.wait(5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")


def took(stdout: str) -> tuple[str, int, float]:
    """(replica, token, seconds) from "r2 leads (token 25), 33ms after the request"."""
    found = re.match(r"(\S+) leads \(token (\d+)\), (\S+) after the request", stdout)
    if found is None:
        raise RuntimeError(f"unexpected output of election handover: {stdout!r}")
    return found.group(1), int(found.group(2)), parse_duration(found.group(3))


def planned_run(
    zk: ZooKeeperServer,
    client: KazooClient,
    workdir: Path,
    kind: str,
    target: str | None,
    settle: float,
    poll: float,
) -> dict[str, Any]:
    cluster = Cluster(zk, workdir, kind)
    replicas = cluster.replicas
    watch = DeathWatch(poll)
    command: Command | None = None
    try:
        old = cluster.start()
        old_record = old.last_record()
        assert old_record is not None and old_record["state"] == "Leader", cluster.describe()
        old_token: int = old_record["token"]
        old_lines = []
        if kind == "exec":
            wait_until(
                lambda: cluster.tail.first("child", lambda t: t == old_token), 10, cluster.describe
            )
            cluster.tail.poll()
            old_lines = [ln for ln in cluster.tail.lines if ln[1] == old_token]
            for pid in {ln[2] for ln in old_lines if ln[0] in ("start", "child")}:
                watch.add(pid)
        time.sleep(settle)
        if replicas.leaders() != [old]:
            raise RuntimeError(f"leadership moved before the request\n{cluster.describe()}")
        request = RequestWatch(client, handover_path(replicas.election_path))
        if kind == "exec":
            watch.start()
            if watch.all_gone():
                raise RuntimeError(f"the old job ended before the request\n{cluster.describe()}")
        args = [*election_command(), "handover"]
        args += ["--zk-servers", replicas.zk_servers, "--election-path", replicas.election_path]
        args += ["--wait", WAIT, *(["--to", target] if target else [])]
        command = Command(args, workdir)
        code = command.wait(COMMAND_BOUND)
        if code != 0:
            raise RuntimeError(
                f"election handover exited {code}: {command.stderr.strip()}\n{cluster.describe()}"
            )
        said_replica, said_token, said_took = took(command.stdout)
        run, exited = command.run_wall, command.exit_wall
        assert exited is not None
        entries = leader_entries(replicas, run)
        if len(entries) != 1 or entries[0][0] is old:
            shown = [(r.id, rec["wall"] - run) for r, rec in entries]
            raise RuntimeError(f"leaders since the request: {shown}\n{cluster.describe()}")
        new, entered = entries[0]
        if target is not None and new.id != target:
            raise RuntimeError(f"{new.id} took over, not {target}\n{cluster.describe()}")
        if (said_replica, said_token) != (new.id, entered["token"]):
            raise RuntimeError(f"the command said {said_replica} {said_token}, journal {entered}")
        if not old.running:
            raise RuntimeError(f"the old leader exited\n{old.log_tail()}")
        new_line = None
        if kind == "exec":
            new_line = wait_until(
                lambda: cluster.tail.first("start", lambda t: t == entered["token"]),
                10,
                cluster.describe,
            )
            wait_until(watch.all_gone, 10, cluster.describe)
            watch.stop()
            wait_until(
                lambda: new.find(event_is("ChildStarted", outcome="ok"), run), 10, cluster.describe
            )
        wait_until(lambda: request.ctime is not None or request.problem, 5, "no request ctime")
        if request.ctime is None:
            raise RuntimeError(f"request node: {request.problem}")

        # The old leader's records: B, C, D.
        old_records = old.records()
        start = first(old_records, lambda r: r["wall"] >= run) or 0
        c = first(old_records, carries_request, start)
        if c is None:
            raise RuntimeError(f"the old leader never read the request\n{cluster.describe()}")
        read = old_records[c]
        ev = read["event"]
        if read["state"] != "Attempter" or ev["handover_token"] != old_token:
            raise RuntimeError(f"the old leader's read of the request: {read}")
        if ev["handover_to"] != target:
            raise RuntimeError(f"the request names {ev['handover_to']!r}, not {target!r}")
        asked = event_is("ControlChanged", kind="CREATED", path=request.path)
        b = first(old_records, asked, start)
        d = first(old_records, asks("ReleaseNode"), c)
        if b is None or b > c or d is None:
            raise RuntimeError(f"no ControlChanged before the read or no release: {b} {c} {d}")
        changed, release = old_records[b], old_records[d]
        # The new leader's records: E (the watch on the node), F, G.
        new_records = new.records()
        f = next(i for i, r in enumerate(new_records) if r["seq"] == entered["seq"])
        e = None
        for i in range(f, -1, -1):
            if new_records[i]["wall"] < run:
                break
            if event_is("NodeWatchFired", kind="DELETED")(new_records[i]):
                e = i
                break
        first_read = min(
            rec["wall"]
            for r in replicas
            for rec in r.records()
            if rec["wall"] >= run and carries_request(rec)
        )
        node = request.ctime
        leader_at = entered["wall"]
        result: dict[str, Any] = {
            "new_leader": new.id,
            "file_in_flight": d != c,
            "run_to_leader": leader_at - run,
            "run_to_exit": exited - run,
            "node_to_leader": leader_at - node,
            "node_to_exit": exited - node,
            "first_read_to_leader": leader_at - first_read,
            "command_took": said_took,
            "run_to_node": node - run,
            "node_to_watch_seen": request.seen - node if request.seen else None,
            "node_to_leader_changed": changed["wall"] - node,
            "leader_changed_to_read": read["wall"] - changed["wall"],
            "read_to_release_asked": release["wall"] - read["wall"],
            "release_asked_to_watch": (new_records[e]["wall"] - release["wall"])
            if e is not None
            else None,
            "watch_to_leader": (leader_at - new_records[e]["wall"]) if e is not None else None,
            "leader_to_exit": exited - leader_at,
        }
        if kind == "exec":
            assert new_line is not None
            _token, new_pid, new_start_line, others = new_line
            exit_record = old.find(event_is("ChildExited"), run)
            started_record = new.find(event_is("ChildStarted", outcome="ok"), run)
            assert exit_record is not None and started_record is not None
            cluster.tail.poll()
            old_last_line = max(ln[3] for ln in cluster.tail.lines if ln[1] == old_token)
            stat = proc_stat(new_pid)
            if stat is None:
                raise RuntimeError(f"the new job's worker {new_pid} is gone already")
            new_process = ticks_to_wall(stat[2])
            gone = max(watch.gone.values())
            last = max(watch.gone, key=lambda p: watch.gone[p])
            result.update(
                {
                    "gap_lines": new_start_line - old_last_line,
                    "gap_records": started_record["wall"] - exit_record["wall"],
                    "gap_processes": new_process - gone,
                    "run_to_job": new_start_line - run,
                    "node_to_job": new_start_line - node,
                    "node_to_child_started": started_record["wall"] - node,
                    "read_to_old_last_line": old_last_line - read["wall"],
                    "read_to_child_exited": exit_record["wall"] - read["wall"],
                    "old_last_line_to_child_exited": exit_record["wall"] - old_last_line,
                    "old_gone_to_child_exited": exit_record["wall"] - gone,
                    "leader_to_child_started": started_record["wall"] - leader_at,
                    "child_started_to_start_line": new_start_line - started_record["wall"],
                    "death_poll_resolution": gone - watch.last_alive.get(last, gone),
                    "new_job_found_alive": "" if others == "-" else others,
                    "old_exit_code": exit_record["event"]["code"],
                }
            )
            result["overlap"] = bool(
                result["gap_lines"] <= 0
                or result["gap_records"] <= 0
                or result["gap_processes"] <= 0
                or result["new_job_found_alive"]
            )
        return result
    finally:
        watch.stop()
        if command is not None:
            command.kill()
        leftovers = cluster.close()
        if leftovers:
            raise RuntimeError("; ".join(leftovers))


# ---------------------------------------------------------------------------- the report

MEASURES: dict[str, list[tuple[str, str]]] = {
    "request": [
        ("run_to_leader", "command run → the new leader's record entering Leader"),
        ("run_to_exit", "command run → the command's exit 0"),
        ("node_to_leader", "request node made (ctime) → new Leader record"),
        ("node_to_exit", "request node made → the command's exit 0"),
        ("first_read_to_leader", "first ControlRead of the request (any replica) → new Leader"),
        ("command_took", 'the command\'s own "… after the request"'),
    ],
    "where": [
        ("run_to_node", "command run → request node made (start-up, connect, status read)"),
        ("node_to_leader_changed", "node made → the leader's ControlChanged record"),
        ("leader_changed_to_read", "→ its ControlRead of the request (the term ends)"),
        ("read_to_release_asked", "→ the record asking ReleaseNode (job gone / file landed)"),
        ("release_asked_to_watch", "→ the new leader's NodeWatchFired (DELETED)"),
        ("watch_to_leader", "→ its record entering Leader (its create)"),
        ("leader_to_exit", "new Leader record → the command's exit"),
    ],
    "job": [
        ("gap_lines", "old job's last line → new job's `start` line"),
        ("gap_records", "old daemon's ChildExited → new daemon's ChildStarted"),
        ("gap_processes", "old job's processes gone (/proc poll) → new worker's process start"),
        ("node_to_job", "request node made → new job's `start` line"),
        ("run_to_job", "command run → new job's `start` line"),
        ("node_to_child_started", "request node made → new ChildStarted"),
    ],
    "job_where": [
        ("read_to_old_last_line", "leader's ControlRead (StopChild) → old job's last line"),
        ("old_last_line_to_child_exited", "old job's last line → its ChildExited"),
        ("old_gone_to_child_exited", "old job's processes gone → its ChildExited"),
        ("leader_to_child_started", "new Leader record → its ChildStarted"),
        ("child_started_to_start_line", "ChildStarted → the new job's `start` line"),
    ],
}


def collect(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys: list[str] = []
    for run in runs:
        keys += [k for k, v in run.items() if isinstance(v, float) and k not in keys]
    return {k: summary([r[k] for r in runs if isinstance(r.get(k), float)]) for k in keys}


def loads(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


SECTIONS = {
    "files": (("request", "request → new leader"), ("where", "where the time goes")),
    "exec": (
        ("job", "old job → new job, and request → new job"),
        ("request", "request → new leader"),
        ("where", "where the time goes"),
        ("job_where", "where the job's time goes"),
    ),
}


def render(report: dict[str, Any]) -> str:
    mi = report["machine"]
    lines = [
        f"machine: {mi.get('nproc')} CPU ({mi.get('cpu')}), Python {mi.get('python')}, "
        f"ZooKeeper {mi.get('zookeeper')} (tick {mi.get('zookeeper_tick_ms')} ms), "
        f"{mi.get('date')}; load average {loads(report['load_average_before'])} -> "
        f"{loads(report['load_average_after'])}; {report['elapsed']:.0f} s",
    ]
    groups = {(g["kind"], g["target"]): g for g in report["groups"]}
    for kind, sections in SECTIONS.items():
        pair = [groups.get((kind, target)) for target in TARGETS]
        if not any(pair):
            continue
        n = " / ".join(str(len(g["runs"])) if g else "0" for g in pair)
        for section, title in sections:
            lines += [
                "",
                f"{kind}: {title}, ms, n = {n} (--to r1/r2 / no --to)",
                "| measure | --to: median | p95 | min | max | no --to: median | p95 | min | max |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for key, name in MEASURES[section]:
                cells = []
                for g in pair:
                    s = g["stats"].get(key, {}) if g else {}
                    if s.get("n"):
                        cells += [ms(s[k]) for k in ("median", "p95", "min", "max")]
                    else:
                        cells += ["-"] * 4
                if any(c != "-" for c in cells):
                    lines.append(f"| {name} | {' | '.join(cells)} |")
        runs = [r for g in pair if g for r in g["runs"]]
        late = sum(1 for r in runs if r["leader_to_exit"] >= LATE_EXIT)
        lines.append(
            f"  the command exited {LATE_EXIT * 1000:.0f} ms or more after the new Leader "
            f"record in {late} of {len(runs)} runs"
        )
        if kind == "files":
            for g in pair:
                if not g:
                    continue
                flight = sum(1 for r in g["runs"] if r["file_in_flight"])
                won: dict[str, int] = {}
                for r in g["runs"]:
                    won[r["new_leader"]] = won.get(r["new_leader"], 0) + 1
                lines.append(
                    f"  {g['target']}: a leader file in flight at the read in {flight} of "
                    f"{len(g['runs'])} runs; new leaders {won}"
                )
            continue
        lines += [
            "",
            "exec, per run: had the old job exited before the new one started? (ms)",
            "| run | --to | new leader | last line → `start` line | ChildExited → "
            "ChildStarted | gone → process start | found alive at start | old job's code "
            "| overlap |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in sorted(runs, key=lambda r: (r["index"], r["to"] is None)):
            lines.append(
                f"| {r['index']} | {r['to'] or 'none'} | {r['new_leader']} "
                f"| {ms(r['gap_lines'])} | {ms(r['gap_records'])} "
                f"| {ms(r['gap_processes'])} | {r['new_job_found_alive'] or 'none'} "
                f"| {r['old_exit_code']} | {'**yes**' if r['overlap'] else 'no'} |"
            )
        res = [r["death_poll_resolution"] for r in runs]
        if res:
            lines.append(
                f"  death poll: the last process's death bracketed within "
                f"{ms(summary(res)['median'])} ms (median), {ms(max(res))} ms at most"
            )
    errors = report["errors"]
    lines += ["", f"overlaps: {report['overlaps']}; errors: {len(errors)}"]
    lines += [f"  {e}" for e in errors]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.bench.planned",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--runs", type=int, default=10, help="runs of each kind and target")
    p.add_argument("--kinds", default=",".join(KINDS), help="files, exec or both")
    p.add_argument("--settle", type=float, default=1.0, help="seconds before the request")
    p.add_argument("--poll", type=float, default=0.001, help="death-watch poll, seconds")
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--workdir", type=Path, help="keep ZooKeeper, journals and logs here")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no per-run progress on stderr")
    p.add_argument(
        "--render", type=Path, metavar="JSON", help="print the tables of a --json report"
    )
    args = p.parse_args(argv)
    if args.render is not None:
        print(render(json.loads(args.render.read_text())))
        return 0
    kinds = [k for k in args.kinds.split(",") if k]
    for k in kinds:
        if k not in KINDS:
            p.error(f"unknown kind {k!r} (one of {', '.join(KINDS)})")
    if args.runs < 1:
        p.error("--runs must be at least 1")
    election_command()  # fail early without the venv's script
    rng = random.Random(args.seed)
    sys.setswitchinterval(0.0005)  # the death watch shares the interpreter: see lease.py
    logging.getLogger("kazoo").setLevel(logging.WARNING)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="election-bench-planned-"))
    workdir.mkdir(parents=True, exist_ok=True)

    def log(line: str) -> None:
        if not args.quiet:
            print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)

    load_before = os.getloadavg()
    started = time.monotonic()
    errors: list[str] = []
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {(k, t): [] for k in kinds for t in TARGETS}
    info: dict[str, Any] = {}
    try:
        with ZooKeeperServer(workdir / "zk", tick_ms=200) as zk:
            info = machine(zk)
            client = KazooClient(hosts=zk.connect_string, timeout=10.0)
            client.start(10)
            try:
                for i in range(args.runs):
                    for kind, target_kind in runs:
                        target = ("r1", "r2")[i % 2] if target_kind == "to" else None
                        period = LEADER_TIMEOUT if kind == "files" else SESSION / 6
                        settle = args.settle + rng.uniform(0, period)
                        run_dir = workdir / f"{kind}-{target_kind}-{i:02d}"
                        label = f"{kind} --to {target}" if target else f"{kind} (no --to)"
                        try:
                            r = planned_run(zk, client, run_dir, kind, target, settle, args.poll)
                        except Exception as exc:  # report and go on
                            errors.append(f"{label} run {i}: {type(exc).__name__}: {exc!s:.1500}")
                            log(f"{label} {i + 1}/{args.runs}: ERROR {exc!s:.300}")
                            continue
                        r.update(index=i, to=target)
                        runs[(kind, target_kind)].append(r)
                        shown = (
                            f"run→leader {ms(r['run_to_leader'])}, node→leader "
                            f"{ms(r['node_to_leader'])}, run→exit {ms(r['run_to_exit'])}"
                        )
                        if kind == "exec":
                            shown += (
                                f", last line→start {ms(r['gap_lines'])}, ChildExited→"
                                f"ChildStarted {ms(r['gap_records'])}"
                                f"{'  OVERLAP' if r['overlap'] else ''}"
                            )
                        log(f"{label} {i + 1}/{args.runs}: {shown} ms ({r['new_leader']})")
            finally:
                client.stop()
                client.close()
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    groups: list[dict[str, Any]] = [
        {"kind": kind, "target": target, "stats": collect(rs), "runs": rs}
        for (kind, target), rs in runs.items()
    ]
    overlaps = sum(1 for g in groups for r in g["runs"] if r.get("overlap"))
    report: dict[str, Any] = {
        "machine": info,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "config": {
            "runs": args.runs,
            "kinds": kinds,
            "session_timeout": SESSION,
            "exec_grace": GRACE,
            "leader_timeout": LEADER_TIMEOUT,
            "attempter_timeout": 30.0,
            "wait": WAIT,
            "settle": args.settle,
            "poll": args.poll,
            "seed": args.seed,
            "command": " ".join(["python -m tools.bench.planned", *(argv or sys.argv[1:])]),
        },
        "groups": groups,
        "overlaps": overlaps,
        "errors": errors,
        "elapsed": time.monotonic() - started,
    }
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(render(report))
    if overlaps:
        print(
            f"OVERLAP: {overlaps} run(s) started a job before the old one had exited",
            file=sys.stderr,
        )
    return 1 if overlaps or errors else 0


if __name__ == "__main__":
    sys.exit(main())
