"""Two baselines to measure `election` against, as processes like `election run`:

* ``recipe``:  kazoo's own ``kazoo.recipe.election.Election`` (a Lock: sequential
  ephemeral nodes, each contender watching its predecessor).
* ``polling``: the seed's design without a watch: try to create the ephemeral node every
  ``--attempter-timeout``; a released node is only taken at the next try.

Each prints one JSON object a line on stdout, with ``time.time()`` wall clocks:
``{"event": "contending"|"leader"|"stopping"|"released", "wall": ..., "id": ...}``.
SIGTERM is the graceful stop: a leader returns from its work (the recipe then deletes its
lock node; the poller deletes its node), prints ``released`` and exits 0.

    python -m tools.bench.contenders recipe --hosts 127.0.0.1:2181 --path /b/x --id a
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError


def emit(event: str, replica: str) -> None:
    wall = time.time()
    sys.stdout.write(json.dumps({"event": event, "wall": wall, "id": replica}) + "\n")
    sys.stdout.flush()


def run_recipe(zk: KazooClient, args: argparse.Namespace, stop: threading.Event) -> None:
    election = zk.Election(args.path, args.id)
    leading = threading.Event()

    def on_term(signum: int, frame: Any) -> None:
        stop.set()
        if not leading.is_set():  # blocked in the lock's acquire: nothing to hand over
            os._exit(0)

    signal.signal(signal.SIGTERM, on_term)

    def lead() -> None:
        leading.set()
        emit("leader", args.id)
        while not stop.wait(0.5):
            pass
        emit("stopping", args.id)

    emit("contending", args.id)
    election.run(lead)  # acquires the lock, runs lead(), releases (deletes) the lock node
    emit("released", args.id)


def run_polling(zk: KazooClient, args: argparse.Namespace, stop: threading.Event) -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    emit("contending", args.id)
    while not stop.is_set():
        try:
            zk.create(args.path, args.id.encode(), ephemeral=True, makepath=True)
        except NodeExistsError:
            stop.wait(args.attempter_timeout)
            continue
        emit("leader", args.id)
        while not stop.wait(0.5):
            pass
        emit("stopping", args.id)
        zk.delete(args.path)
        emit("released", args.id)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.bench.contenders")
    p.add_argument("kind", choices=["recipe", "polling"])
    p.add_argument("--hosts", required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--id", required=True)
    p.add_argument("--attempter-timeout", type=float, default=10.0)
    p.add_argument("--session-timeout", type=float, default=2.0)
    args = p.parse_args(argv)
    stop = threading.Event()
    zk = KazooClient(hosts=args.hosts, timeout=args.session_timeout)
    zk.start(timeout=30)
    try:
        (run_recipe if args.kind == "recipe" else run_polling)(zk, args, stop)
    finally:
        zk.stop()
        zk.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
