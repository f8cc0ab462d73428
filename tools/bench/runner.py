"""The frame every benchmark runs in (`Bench`), and what they read off ZooKeeper and /proc.

    bench = Bench("handover", __doc__, argv, runs=20)     # --runs --workdir --json --quiet
    bench.add_argument("--session-timeout", default="2s")  # and its own
    args = bench.parse()
    with bench, bench.zookeeper() as zk:                   # its own ZooKeeper, in workdir
        runs = bench.repeat("graceful", args.runs, lambda d: graceful_run(zk, d, ...))
    return bench.finish(bench.report(graceful=collect(runs)), render)

`repeat` gives each run a directory of its own, keeps an error and goes on (one bad run
must not hide the rest), and prints progress on stderr; `report` starts the JSON object
with the machine (CPU, Python, ZooKeeper, commit), the load average before and after,
the command line and the errors; `finish` prints it (JSON, or the text of `render` under
the machine line: tools/bench/report.py), removes a temporary workdir and returns the
exit code: 1 if any run failed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from election_testkit.replica import Replica
from election_testkit.zookeeper import ZooKeeperServer

from .report import emit

ROOT = Path(__file__).resolve().parents[2]  # the checkout: benchmarks run from it
Run = dict[str, Any]


class Bench:
    """One benchmark's run: arguments, work directory, progress, ZooKeeper, repeated runs
    with their errors, and the frame of the report."""

    def __init__(self, name: str, doc: str | None, argv: list[str] | None, runs: int) -> None:
        self.name = name
        self.argv = list(sys.argv[1:] if argv is None else argv)
        self.parser = argparse.ArgumentParser(
            prog=f"python -m tools.bench.{name}", description=(doc or "").split("\n\n")[0]
        )
        self.parser.add_argument("--runs", type=int, default=runs, help=f"default {runs}")
        self.parser.add_argument("--workdir", type=Path, help="keep ZooKeeper, journals, logs")
        self.parser.add_argument("--json", action="store_true", help="print one JSON object")
        self.parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
        self.add_argument = self.parser.add_argument
        self.errors: list[str] = []
        self.machine: dict[str, Any] = machine(None)
        self.args = argparse.Namespace()
        self.workdir = Path()
        self._temporary = False
        self._load_before = os.getloadavg()
        self._started = time.monotonic()

    def parse(self) -> argparse.Namespace:
        self.args = self.parser.parse_args(self.argv)
        self._temporary = self.args.workdir is None
        self.workdir = self.args.workdir or Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._load_before = os.getloadavg()
        self._started = time.monotonic()
        return self.args

    def __enter__(self) -> Bench:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._temporary:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @contextlib.contextmanager
    def zookeeper(self, **kwargs: Any) -> Iterator[ZooKeeperServer]:
        """A standalone ZooKeeper of this benchmark's (tick 200 ms unless told)."""
        with ZooKeeperServer(self.workdir / "zk", **kwargs) as zk:
            self.machine = machine(zk)
            self.log(f"ZooKeeper {self.machine['zookeeper']} on {zk.connect_string}")
            yield zk

    def log(self, line: str) -> None:
        if not getattr(self.args, "quiet", False):
            print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)

    def repeat(self, label: str, runs: int, run: Callable[[Path], Run]) -> list[Run]:
        """`run(directory)` `runs` times; the runs that did not raise."""
        done: list[Run] = []
        for i in range(runs):
            try:
                measured = run(self.workdir / f"{label}-{i:02d}".replace(" ", "-"))
            except Exception as exc:  # report and go on
                self.errors.append(f"{label} run {i}: {type(exc).__name__}: {exc!s:.1500}")
                self.log(f"{label} {i + 1}/{runs}: ERROR {exc!s:.300}")
                continue
            done.append(measured)
            shown = ", ".join(f"{k}={v:.4g}" for k, v in measured.items() if isinstance(v, float))
            self.log(f"{label} {i + 1}/{runs}: {shown}")
        return done

    def report(self, **sections: Any) -> dict[str, Any]:
        """The report: the frame (machine, load, command, arguments, errors, elapsed) and
        the benchmark's sections."""
        config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(self.args).items()}
        return {
            "benchmark": self.name,
            "machine": self.machine,
            "load_average_before": self._load_before,
            "load_average_after": os.getloadavg(),
            "command": " ".join([f"python -m tools.bench.{self.name}", *self.argv]),
            "config": config,
            **sections,
            "errors": self.errors,
            "elapsed": time.monotonic() - self._started,
        }

    def finish(self, report: Mapping[str, Any], render: Callable[[Mapping[str, Any]], str]) -> int:
        emit(report, render, self.args.json)
        return 1 if report["errors"] else 0


def machine(zk: ZooKeeperServer | None) -> dict[str, Any]:
    """The machine a figure was measured on, and the commit it was measured at."""
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    version = ""
    if zk is not None:
        with contextlib.suppress(OSError, IndexError):
            # "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on ...": keep "3.8.0"
            text = zk.four_letter_word("srvr").splitlines()[0].split(":", 1)[1].strip()
            found = re.match(r"[0-9][0-9.]*", text)
            version = found.group(0) if found else text
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "zookeeper": version,
        "zookeeper_tick_ms": zk.tick_ms if zk is not None else None,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
    }


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet"], timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return head + (" (dirty)" if dirty.returncode else "")


def negotiated_timeouts(zk: ZooKeeperServer) -> dict[int, float]:
    """Session id -> negotiated session timeout (seconds) of every connection, from
    ZooKeeper's ``cons`` (``sid=0x...,...,to=2000``)."""
    out: dict[int, float] = {}
    for match in re.finditer(r"sid=0x([0-9a-f]+)[^)]*?\bto=(\d+)", zk.four_letter_word("cons")):
        out[int(match.group(1), 16)] = int(match.group(2)) / 1000.0
    return out


def session_id(replica: Replica) -> int | None:
    """The replica's current session id, from its last SessionConnected record."""
    sid = None
    for record in replica.records():
        if record["event"]["type"] == "SessionConnected":
            sid = record["event"]["session_id"]
    return sid


def mntr(zk: ZooKeeperServer) -> dict[str, float]:
    """ZooKeeper's ``mntr`` counters and gauges that are numbers."""
    out: dict[str, float] = {}
    for line in zk.four_letter_word("mntr").splitlines():
        key, _, value = line.partition("\t")
        with contextlib.suppress(ValueError):
            out[key] = float(value)
    return out


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (kB) and Threads from /proc/PID/status."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = int(value.split()[0])
    return out


def proc_pss_kb(pid: int) -> int | None:
    """The proportional set size (kB) from /proc/PID/smaps_rollup."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return None


def memory(pids: Mapping[str, list[int]]) -> dict[str, dict[str, float]]:
    """Per role (a daemon, its keeper, ...): the processes still there, their mean RSS and
    PSS in MB."""
    out: dict[str, dict[str, float]] = {}
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
