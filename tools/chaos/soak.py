"""The chaos soak: N replicas, a 3-node ensemble, a seeded random schedule of faults.

Each replica reaches ZooKeeper through its own proxies (replica -> TcpProxy per server ->
ensemble), so it can be partitioned alone. Faults are drawn from shuffled decks of all
kinds (so every kind comes round), one at a time: inject, hold, end it, then wait for
exactly one leader writing again (bound: session + attempter timeout + slack). At the
end every replica is stopped and `election-replay` judges all journals: its violations
and divergences are the soak's, as they stand. Beside them the summary lists the
soak's own problems (no single leader writing again within the bound, an exit code
other than the contract's) and any leader file on disk that no journal asked for; the
leaderless gaps are measurements, not a verdict.

With `--job`, each replica also runs a job through `--exec` (and keeps writing its leader
files), as on a machine of its own (its own TMPDIR, so the machine-wide job lock cannot
order the jobs): the family job of `election_testkit.family`, a shell whose worker has a
child, which at each start records any live process of another term's job. The job's
promise is then judged from the job's side too: no start may find one, and no job
process may outlive the soak.

    python -m tools.chaos --duration 600 --seed 7 --workdir /tmp/chaos
    python -m tools.chaos --duration 600 --seed 7 --job
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shlex
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from election_testkit.cluster import (
    ATTEMPTER_TIMEOUT,
    RECOVERY_BOUND,
    SESSION_TIMEOUT,
    START_BOUND,
    Cluster,
)
from election_testkit.family import FAMILY_JOB, FamilyLog
from election_testkit.injector import KINDS, Fault, Soak
from election_testkit.measures import journal_writes, leader_terms, leaderless_gaps
from election_testkit.verdict import Verdict
from election_testkit.waiting import WaitTimeout, wait_until
from election_testkit.zookeeper import ZooKeeperEnsemble

JOB_GRACE = 0.6  # seconds of --exec-grace: within a third of the 2 s session


def _deck(rng: random.Random, kinds: tuple[str, ...]) -> list[str]:
    deck = list(kinds)
    rng.shuffle(deck)
    return deck


def gaps_by_kind(gaps: list[tuple[float, float]], faults: list[Fault]) -> dict[str, float]:
    """The longest gap per fault kind: each gap goes to the latest fault that began before
    it (0.5 s of tolerance) if that fault had not yet recovered, else to "(none)"."""
    per_kind: dict[str, float] = defaultdict(float)
    for start, length in gaps:
        began = [f for f in faults if f.start - 0.5 <= start]
        f = max(began, key=lambda f: f.start) if began else None
        kind = "(none)"
        if f is not None and start <= (f.recovered or f.end) + 0.5:
            kind = f.kind
        per_kind[kind] = max(per_kind[kind], length)
    return dict(sorted(per_kind.items()))


def crash_takeovers(
    faults: list[Fault], terms: list[tuple[str, float, float | None]]
) -> list[float]:
    """Seconds from each SIGKILL of the leader's daemon to the next term of another
    replica: its keeper stops the job and closes the dead session, the next one leads."""
    out = []
    for f in faults:
        if f.kind != "sigkill" or f.role != "leader" or f.acted is None:
            continue
        later = [start for replica, start, _ in terms if replica != f.target and start >= f.acted]
        if later:
            out.append(min(later) - f.acted)
    return out


def summarise(soak: Soak, verdict: Verdict) -> dict[str, Any]:
    c = soak.cluster
    writes = journal_writes(c.journals)
    gaps = leaderless_gaps(writes)
    per_kind = gaps_by_kind(gaps, soak.faults)
    terms = leader_terms(c.journals)
    handovers = sum(1 for a, b in itertools.pairwise(terms) if a[0] != b[0])
    recoveries = [f.recovered - f.end for f in soak.faults if f.recovered is not None]
    takeovers = sorted(crash_takeovers(soak.faults, terms))
    return {
        "crash_takeovers": takeovers,
        "crash_takeover_median": statistics.median(takeovers) if takeovers else None,
        "faults": dict(Counter(f.kind for f in soak.faults)),
        "faults_total": len(soak.faults),
        "handovers": handovers,
        "terms": len(terms),
        "files_written": len(writes),
        "longest_leaderless_gap": gaps[0][1] if gaps else None,
        "longest_leaderless_gap_by_kind": per_kind,
        "longest_recovery_after_fault_end": max(recoveries) if recoveries else None,
        "violations": verdict.violations,
        "unjournaled_files": list(verdict.unjournaled),
        "problems": soak.problems,
        "notes": verdict.replay.get("notes", []),
        "log": [f.as_json() for f in soak.faults],
    }


def _cluster(workdir: Path, servers: str, family: FamilyLog | None) -> Cluster:
    if family is None:
        return Cluster(workdir / "cluster", servers, proxied=True)
    worker = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAMILY_JOB))}"
    cluster = Cluster(
        workdir / "cluster",
        servers,
        proxied=True,
        machines=True,
        exec=f"sh -c {shlex.quote(worker + ' & wait')}",
        exec_grace=f"{JOB_GRACE:g}s",
        leader_files="on",  # the soak's recovery check waits for a leader writing
    )
    cluster.replicas.env.update(FAMILY_LOG=str(family.path), FAMILY_MARK=str(workdir))
    return cluster


def _judge_jobs(family: FamilyLog, soak: Soak) -> None:
    """The job's promise from the job's side: no start found a process of another term
    alive, and none is left once every daemon has stopped."""
    for found in family.others_at_start():
        soak.problems.append(f"job start overlapped another term's: {found}")
    try:  # the daemons have stopped; their supervisors reap the last jobs
        wait_until(lambda: not family.alive(), 10.0, lambda: str(family.alive()))
    except WaitTimeout:
        soak.problems.append(f"job processes outlived their daemons: {family.alive()}")
    if not family.starts():
        soak.problems.append("no job ever started")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.chaos", description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=60.0, help="seconds of faults (default 60)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--kinds", default=",".join(KINDS), help="comma-separated fault kinds")
    p.add_argument("--workdir", type=Path, help="keep ZooKeeper, journals and logs here")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument(
        "--job",
        action="store_true",
        help="each replica runs a job (--exec) as on a machine of its own; judge the job's promise",
    )
    args = p.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        p.error(f"unknown fault kinds: {sorted(unknown)}; known: {', '.join(KINDS)}")

    def log(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="election-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    job = " with a job" if args.job else ""
    log(f"seed {args.seed}, {args.replicas} replicas{job}, {args.duration:g}s, workdir {workdir}")
    ensemble = ZooKeeperEnsemble(workdir / "ensemble", 3)
    ensemble.start()
    family = FamilyLog(workdir / "family.log") if args.job else None
    cluster = _cluster(workdir, ensemble.connect_string, family)
    soak = Soak(cluster, ensemble, rng, log)
    try:
        cluster.start(args.replicas)
        cluster.wait_one_leader_writing(START_BOUND, 0.0)
        log("first leader writing; faults begin")
        deadline = time.monotonic() + args.duration
        deck: list[str] = []
        while time.monotonic() < deadline:
            if not deck:
                deck = _deck(rng, kinds)
            soak.inject(deck.pop())
            time.sleep(rng.uniform(0.3, 1.5))
    finally:
        for r in cluster:
            if r.running and r.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(r.pid, signal.SIGCONT)
        for links in cluster.links.values():
            links.heal()
        with contextlib.suppress(Exception):
            cluster.wait_for_leader(RECOVERY_BOUND, settle=0.5)
        cluster.close()
        ensemble.close()
    if family is not None:
        _judge_jobs(family, soak)
    verdict = cluster.verdict()
    summary = summarise(soak, verdict)
    if family is not None:
        summary["job_starts"] = len(family.starts())
    summary.update(
        seed=args.seed,
        duration=args.duration,
        replicas=args.replicas,
        session_timeout=SESSION_TIMEOUT,
        attempter_timeout=ATTEMPTER_TIMEOUT,
        workdir=str(workdir),
        replay_events=verdict.replay.get("events"),
        replay_divergences=len(verdict.replay.get("divergences", [])),
    )
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print_summary(summary)
    return 0 if verdict.ok and not soak.problems else 1


def print_summary(s: dict[str, Any]) -> None:
    gap = s["longest_leaderless_gap"]
    print(f"chaos soak: seed {s['seed']}, {s['replicas']} replicas, {s['duration']:g}s")
    print(f"faults injected: {s['faults_total']}")
    for kind, n in sorted(s["faults"].items()):
        longest = s["longest_leaderless_gap_by_kind"].get(kind)
        shown = "-" if longest is None else f"{longest:.2f}s"
        print(f"  {kind:16} {n:4}   longest leaderless gap {shown}")
    print(f"hand-overs: {s['handovers']} ({s['terms']} leadership terms)")
    takeovers = s["crash_takeovers"]
    if takeovers:
        print(
            f"crash take-over (SIGKILL of the leader's daemon -> the next Leader record): "
            f"median {s['crash_takeover_median'] * 1000:.0f} ms, max "
            f"{max(takeovers) * 1000:.0f} ms, over {len(takeovers)}"
        )
    if "job_starts" in s:
        print(f"job starts: {s['job_starts']}")
    print(f"files written: {s['files_written']}")
    print("longest leaderless gap: " + ("-" if gap is None else f"{gap:.2f}s"))
    print(f"journal records replayed: {s['replay_events']}, divergences {s['replay_divergences']}")
    print(f"election-replay: violations = {len(s['violations'])}")
    for v in s["violations"]:
        print(f"  {v}")
    for name in s["unjournaled_files"]:
        print(f"  on disk, asked for by no journal: {name}")
    print(f"problems = {len(s['problems'])}")
    for problem in s["problems"]:
        print(f"  {problem}")
