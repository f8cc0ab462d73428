"""Graceful hand-over: `election` beside kazoo's Election recipe and the seed's polling.

Against one ZooKeeper (election_testkit.zookeeper), in one run, interleaving the three
kinds run by run so that a load change on a shared machine hits them alike. Each run: start two
contenders on a fresh path, wait for a leader, let the other settle, SIGTERM the leader,
and measure from the moment SIGTERM was sent to the other's first moment as leader
(``from_signal``), and from the old leader's release of its node (``from_release``):

* ``election``: `election run` processes (tools/bench/handover.py's graceful run; the
  instants are the journals' wall times), ``--attempter-timeout 30s``.
* ``recipe``:   ``kazoo.recipe.election.Election`` (tools/bench/contenders.py).
* ``polling``:  create every ``--polling-attempter-timeout`` (default 2 s), no watch; the
  SIGTERM comes at a uniformly random phase of the poller's period.

    .venv/bin/python -m tools.bench.compare --runs 20 --json > compare.json
"""

from __future__ import annotations

import functools
import json
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from election_testkit.waiting import wait_until
from election_testkit.zookeeper import ZooKeeperServer

from .handover import graceful_run
from .report import collect, table
from .runner import ROOT, Bench, Run

KINDS = ("election", "recipe", "polling")


class Contender:
    """One tools/bench/contenders.py process and the events it printed."""

    def __init__(
        self,
        kind: str,
        zk: ZooKeeperServer,
        path: str,
        ident: str,
        workdir: Path,
        attempter_timeout: float,
        session_timeout: float,
    ) -> None:
        self.id = ident
        self.out = workdir / f"{ident}.out"
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tools.bench.contenders",
                    kind,
                    "--hosts",
                    zk.connect_string,
                    "--path",
                    path,
                    "--id",
                    ident,
                    "--attempter-timeout",
                    str(attempter_timeout),
                    "--session-timeout",
                    str(session_timeout),
                ],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.out.read_text().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def first(self, event: str) -> dict[str, Any] | None:
        return next((e for e in self.events() if e["event"] == event), None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def baseline_run(
    kind: str,
    zk: ZooKeeperServer,
    workdir: Path,
    settle: float,
    attempter_timeout: float,
    session_timeout: float,
) -> dict[str, float]:
    workdir.mkdir(parents=True, exist_ok=True)
    path = f"/bench-{kind}/{uuid.uuid4().hex}/leader"
    a = Contender(kind, zk, path, "a", workdir, attempter_timeout, session_timeout)
    try:
        wait_until(lambda: a.first("leader"), 30, lambda: a.out.read_text())
        b = Contender(kind, zk, path, "b", workdir, attempter_timeout, session_timeout)
        try:
            wait_until(lambda: b.first("contending"), 30, lambda: b.out.read_text())
            # polling: SIGTERM at a random phase of b's retry period
            time.sleep(settle + (random.uniform(0, attempter_timeout) if kind == "polling" else 0))
            assert b.first("leader") is None, "b leads before a stopped"
            signalled = time.time()
            a.proc.send_signal(signal.SIGTERM)
            code = a.proc.wait(30)
            if code != 0:
                raise RuntimeError(f"{kind} leader exited {code}: {a.out.read_text()[-2000:]}")
            entered = wait_until(
                lambda: b.first("leader"), attempter_timeout + 30, lambda: b.out.read_text()
            )
            released = a.first("released")
            assert released is not None
            return {
                "from_signal": entered["wall"] - signalled,
                "from_release": entered["wall"] - released["wall"],
            }
        finally:
            b.stop()
    finally:
        a.stop()


def render(report: Mapping[str, Any]) -> str:
    return "\n\n".join(
        table(f"{kind}: graceful hand-over", measures)
        for kind, measures in report["results"].items()
    )


def main(argv: list[str] | None = None) -> int:
    bench = Bench("compare", __doc__, argv, runs=20)
    bench.add_argument("--settle", type=float, default=0.5)
    bench.add_argument("--session-timeout", type=float, default=2.0)
    bench.add_argument("--polling-attempter-timeout", type=float, default=2.0)
    bench.add_argument("--kinds", default=",".join(KINDS))
    args = bench.parse()
    kinds = [k for k in args.kinds.split(",") if k]
    runs: dict[str, list[Run]] = {k: [] for k in kinds}
    flags = {
        "session_timeout": f"{args.session_timeout}s",
        "leader_timeout": "0.5s",
        "attempter_timeout": "30s",
        "storage_capacity": "3",
        "metrics_address": "off",
        "log_level": "info",
    }

    def one(kind: str, run_dir: Path, zk: ZooKeeperServer) -> Run:
        if kind == "election":
            m = graceful_run(zk, run_dir, flags, args.settle)
            return {k: m[k] for k in ("from_signal", "from_release")}
        retry = args.polling_attempter_timeout if kind == "polling" else 30.0
        return baseline_run(kind, zk, run_dir, args.settle, retry, args.session_timeout)

    with bench, bench.zookeeper() as zk:
        for i in range(args.runs):  # interleaved: a change of load hits every kind alike
            for kind in kinds:
                runs[kind] += bench.repeat(
                    f"{kind}-{i:02d}", 1, functools.partial(one, kind, zk=zk)
                )
    report = bench.report(results={kind: collect(done) for kind, done in runs.items()})
    return bench.finish(report, render)


if __name__ == "__main__":
    sys.exit(main())
