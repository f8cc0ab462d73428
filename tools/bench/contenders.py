"""The baseline to measure `election` against, kazoo's own
``kazoo.recipe.election.Election`` (a Lock: sequential ephemeral nodes, each contender
watching its predecessor), as a process like `election run`; and `Contender`, the
benchmarks' handle on one such process.

The process prints one JSON object a line on stdout, with ``time.time()`` wall clocks:
``{"event": "contending"|"leader"|"stopping"|"released", "wall": ..., "id": ...}``.
SIGTERM is the graceful stop: a leader returns from its work, the recipe deletes its lock
node, prints ``released`` and exits 0.

    python -m tools.bench.contenders --hosts 127.0.0.1:2181 --path /b/x --id a
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient

ROOT = Path(__file__).resolve().parents[2]  # (not runner's: this process stays light)


class Contender:
    """One recipe process of this module, started at once, its lines in `workdir/ID.out`."""

    def __init__(
        self, hosts: str, path: str, ident: str, workdir: Path, session_timeout: float
    ) -> None:
        self.id = ident
        self.out = workdir / f"{ident}.out"
        workdir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "tools.bench.contenders", "--hosts", hosts]
        command += ["--path", path, "--id", ident, "--session-timeout", str(session_timeout)]
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def events(self) -> list[dict[str, Any]]:
        lines = self.out.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def first(self, event: str, after_wall: float = float("-inf")) -> float | None:
        """The wall time of its first `event` line at or after `after_wall`."""
        found = (e["wall"] for e in self.events() if e["event"] == event)
        return next((float(w) for w in found if w >= after_wall), None)

    def leads(self) -> bool:
        kinds = [e["event"] for e in self.events()]
        return self.proc.poll() is None and "leader" in kinds and "released" not in kinds

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def emit(event: str, replica: str) -> None:
    wall = time.time()
    sys.stdout.write(json.dumps({"event": event, "wall": wall, "id": replica}) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.bench.contenders")
    p.add_argument("--hosts", required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--id", required=True)
    p.add_argument("--session-timeout", type=float, default=2.0)
    args = p.parse_args(argv)
    stop, leading = threading.Event(), threading.Event()

    def on_term(signum: int, frame: Any) -> None:
        stop.set()
        if not leading.is_set():  # blocked in the lock's acquire: nothing to hand over
            os._exit(0)

    def lead() -> None:
        leading.set()
        emit("leader", args.id)
        while not stop.wait(0.5):
            pass
        emit("stopping", args.id)

    zk = KazooClient(hosts=args.hosts, timeout=args.session_timeout)
    zk.start(timeout=30)
    signal.signal(signal.SIGTERM, on_term)
    try:
        emit("contending", args.id)
        zk.Election(args.path, args.id).run(lead)  # lock, lead(), release (delete)
        emit("released", args.id)
    finally:
        zk.stop()
        zk.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
