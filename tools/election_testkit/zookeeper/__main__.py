"""`python -m election_testkit.zookeeper`: a throwaway standalone ZooKeeper on loopback,
for trying `election run` by hand (the README's "Two replicas by hand").

It runs Debian's zookeeper package (`make zookeeper` installs it) on 127.0.0.1:2181, the
default of `--zk-servers`, until Ctrl-C or SIGTERM, with its data and log in a fresh
temporary directory that goes with it (`--dir` keeps them where you say). No systemd, no
docker, nothing installed as a service.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path

from election_testkit.zookeeper.jvm import ZooKeeperStartError, ZooKeeperUnavailable
from election_testkit.zookeeper.server import ZooKeeperServer

DEFAULT_PORT = 2181
# Sessions as a replica may ask for them: ZooKeeper clamps a client's timeout to these.
MIN_SESSION_MS = 400
MAX_SESSION_MS = 60_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m election_testkit.zookeeper",
        description="A standalone ZooKeeper on 127.0.0.1 until Ctrl-C (Debian's package).",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="keep its data and log here (default: a temporary one)",
    )
    args = parser.parse_args(argv)
    taken = _in_use(args.port)
    if taken:
        print(f"zookeeper: 127.0.0.1:{args.port} is in use ({taken}): another ZooKeeper?",
              file=sys.stderr)  # fmt: skip
        return 1
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="election-zookeeper-"))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server = ZooKeeperServer(
        workdir, port=args.port, min_session_ms=MIN_SESSION_MS, max_session_ms=MAX_SESSION_MS
    )
    try:
        server.start()
    except (ZooKeeperUnavailable, ZooKeeperStartError) as exc:
        server.close()
        print(f"zookeeper: {str(exc).splitlines()[0]} (log: {server.log_path})", file=sys.stderr)
        return 1
    try:
        print(
            f"ZooKeeper serving on {server.connect_string} (data and log in {workdir}); "
            "Ctrl-C stops it",
            flush=True,
        )
        while not stop.wait(0.5):
            if not server.running:
                print(f"zookeeper: exited by itself (log: {server.log_path})", file=sys.stderr)
                return 1
        return 0
    finally:
        server.close()
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _in_use(port: int) -> str:
    """Why 127.0.0.1:`port` cannot be ours ('' when it can): a server already there would
    answer our start-up probe as if it were the one we started."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return ""


if __name__ == "__main__":
    sys.exit(main())
