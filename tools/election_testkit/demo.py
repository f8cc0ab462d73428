"""`make demo` (`python -m election_testkit.demo`): a throwaway local ZooKeeper, three
`election run` replicas, `election top`.

On a terminal `election top` shows the cluster live (q or Ctrl-C ends the demo); the
replicas' logs go to `.demo/logs/demo-N.log` (`tail -f` them in another terminal).
Without a terminal (or with `--no-top`) it waits, prints one `election top --once`
snapshot at the end, and stops. Ctrl-C stops the replicas gracefully (each exits 0),
then ZooKeeper. Everything lives in `.demo/` (files, journals, logs, ZooKeeper data) and
is started afresh each run (`--workdir`: `.demo` in the current directory by default).
`--duration N` stops by itself after N seconds. Needs Debian's zookeeper package and a
JRE (`make zookeeper`); works from a checkout and from an installed wheel alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from election.runtime.childwrap import wrapped
from election_testkit.zookeeper import ZooKeeperServer

REPLICAS = 3
ELECTION_PATH = "/election/leader"


def replica_command(index: int, zk: str, work: Path, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "election",
        "run",
        f"--zk-servers={zk}",
        f"--election-path={ELECTION_PATH}",
        f"--replica-id=demo-{index}",
        f"--leader-timeout={args.leader_timeout}",
        f"--attempter-timeout={args.attempter_timeout}",
        f"--session-timeout={args.session_timeout}",
        f"--file-dir={work / 'files'}",
        "--storage-capacity=5",
        f"--journal={work / 'journal' / f'demo-{index}.jsonl'}",
        "--metrics-address="
        + (f"127.0.0.1:{args.metrics_port + index - 1}" if args.metrics_port else "127.0.0.1:0"),
    ]


def replay_command() -> str:
    """`election-replay` as this interpreter's environment has it (a venv not activated)."""
    beside = Path(sys.executable).parent / "election-replay"
    return str(beside) if beside.exists() else "election-replay"


def top_command(zk: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "election", "top", f"--zk-servers={zk}",
            f"--election-path={ELECTION_PATH}", *extra]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=0, help="stop after N seconds")
    parser.add_argument("--leader-timeout", default="2s")
    parser.add_argument("--attempter-timeout", default="10s")
    parser.add_argument("--session-timeout", default="4s")
    parser.add_argument("--workdir", type=Path, default=Path(".demo"))
    parser.add_argument(
        "--metrics-port", type=int, default=9101, help="first replica's port; 0: any free ports"
    )
    parser.add_argument(
        "--top",
        action=argparse.BooleanOptionalAction,
        default=sys.stdout.isatty(),
        help="show `election top` (default: when stdout is a terminal)",
    )
    args = parser.parse_args()

    work: Path = args.workdir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    (work / "journal").mkdir(parents=True)
    (work / "logs").mkdir()
    zk = ZooKeeperServer(work / "zookeeper")
    zk.start()
    print(f"== ZooKeeper {zk.connect_string} (data and log in {work / 'zookeeper'})", flush=True)

    replicas: list[subprocess.Popen[bytes]] = []
    top: subprocess.Popen[bytes] | None = None
    stopping = False
    last: list[subprocess.Popen[bytes]] = []  # the leader: stopped once the others are

    def stop(signum: int = signal.SIGTERM, frame: object = None) -> None:
        """The replicas that wait first, then the leader: the next in line takes over in
        a millisecond, and would lead a moment at the end of the demo."""
        nonlocal stopping
        if stopping:
            return
        stopping = True
        leading = [p for i, p in enumerate(replicas, 1) if _leads(work, i)]
        last[:] = [p for p in leading if p.poll() is None]
        for proc in [*replicas, *([top] if top is not None else [])]:
            if proc.poll() is None and proc not in last:
                proc.send_signal(signal.SIGTERM)

    def stop_the_leader() -> None:
        if last and all(p.poll() is not None for p in replicas if p not in last):
            for proc in last:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            last.clear()

    # The replicas run in sessions of their own, so Ctrl-C reaches only this script (and
    # `election top`): each replica then gets exactly one SIGTERM, a graceful stop. (Two
    # signals, the terminal's and ours, would force their exit.) They die with this
    # script all the same: childwrap ties them to it (PR_SET_PDEATHSIG).
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for index in range(1, REPLICAS + 1):
            with open(work / "logs" / f"demo-{index}.log", "wb") as log:
                command = wrapped(replica_command(index, zk.connect_string, work, args))
                replicas.append(
                    subprocess.Popen(
                        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
        print(
            f"== {REPLICAS} replicas: demo-1..demo-{REPLICAS}; metrics from 127.0.0.1:"
            f"{args.metrics_port or '<any>'}\n"
            "== try, in another terminal:\n"
            "   pkill -TERM -f 'replica-id=demo-1'   # graceful stop of demo-1: a hand-over\n"
            "   pkill -KILL -f 'replica-id=demo-2'   # a crash: its keeper hands over at once\n"
            "   pkill -STOP -f 'replica-id=demo-3'   # frozen, not dead: take-over after the\n"
            "                                        # session (pkill -CONT to wake it)\n"
            f"   tail -f {work / 'logs'}/*.log        # the replicas' logs\n"
            f"   ls {work / 'files'}; curl -s 127.0.0.1:{args.metrics_port}/metrics\n"
            f"   {replay_command()} {work / 'journal'}/*.jsonl   # the post-mortem, any time\n"
            "== Ctrl-C stops everything",
            flush=True,
        )
        if args.top:
            time.sleep(2)  # time to read the hints before the table takes the screen
            top = subprocess.Popen(top_command(zk.connect_string))
        deadline = time.monotonic() + args.duration if args.duration else None
        while any(p.poll() is None for p in replicas):
            if deadline is not None and time.monotonic() >= deadline:
                if not args.top:
                    snapshot = subprocess.run(top_command(zk.connect_string, "--once"))
                    print(f"== election top --once exited with {snapshot.returncode}")
                stop()
                deadline = None
            if top is not None and top.poll() is not None:
                stop()  # q in election top ends the demo
            stop_the_leader()
            time.sleep(0.2)
        codes = [p.wait() for p in replicas]
    finally:
        stop()
        for proc in last:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*replicas, *([top] if top is not None else [])]:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        zk.close()
    files = sorted(p.name for p in (work / "files").glob("election-*"))
    print(f"== replicas exited with {codes}; {len(files)} leader files in {work / 'files'}")
    killed = [
        f"demo-{i} ({signal.Signals(-code).name})" for i, code in enumerate(codes, 1) if code < 0
    ]
    if killed:
        print(f"== killed by a signal, as the demo invites: {', '.join(killed)}")
    if files:
        print("== newest:", json.dumps(json.loads((work / "files" / files[-1]).read_text())))
    print(f"== journals: {work / 'journal'}; logs: {work / 'logs'}")
    print(f"== replay them: {replay_command()} {work / 'journal'}/*.jsonl")
    return demo_exit_code(codes)


def _leads(work: Path, index: int) -> bool:
    """Whether replica `index` leads, as its journal's last record says."""
    try:
        with open(work / "journal" / f"demo-{index}.jsonl", "rb") as journal:
            journal.seek(0, os.SEEK_END)
            journal.seek(max(0, journal.tell() - 65536))
            lines = journal.read().splitlines()
    except OSError:
        return False
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn or partial line
        return isinstance(record, dict) and record.get("state") == "Leader"
    return False


def demo_exit_code(codes: list[int]) -> int:
    """0 unless a replica failed by itself: one killed by a signal (a SIGKILL, as the demo
    invites) is part of the demo; one that exited non-zero (a refusal, an internal error)
    is a failure."""
    return 0 if all(code <= 0 for code in codes) else 1


if __name__ == "__main__":
    sys.exit(main())
