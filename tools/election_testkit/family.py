"""Reading what the family job (`jobs/family_job.py`, a script run as `--exec`) recorded:
the job's promise, seen from the job's side."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

FAMILY_JOB = Path(__file__).resolve().parent / "jobs" / "family_job.py"


class FamilyLog:
    """The lines of $FAMILY_LOG: `kind token pid wall [others]`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[tuple[str, int, int, float, str]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            kind, token, pid, wall, *rest = line.split()
            out.append((kind, int(token), int(pid), float(wall), rest[0] if rest else ""))
        return out

    def pids(self) -> dict[int, int]:
        """pid -> token of every job process that ever started (worker or child)."""
        return {pid: token for kind, token, pid, _, _ in self.lines() if kind in ("start", "child")}

    def starts(self) -> list[tuple[int, int, float, list[str]]]:
        """(token, pid, wall, processes of other terms alive then) per job start."""
        return [
            (token, pid, wall, [] if others == "-" else others.split(","))
            for kind, token, pid, wall, others in self.lines()
            if kind == "start"
        ]

    def others_at_start(self) -> list[str]:
        """Every start that found a process of another term alive: must stay empty."""
        return [
            f"token {token} pid {pid} at {wall:.3f} found alive: {', '.join(others)}"
            for token, pid, wall, others in self.starts()
            if others
        ]

    def termed(self) -> set[int]:
        """Pids that recorded a SIGTERM."""
        return {pid for kind, _, pid, _, _ in self.lines() if kind == "term"}

    def last_beat(self) -> dict[int, float]:
        last: dict[int, float] = defaultdict(float)
        for _, _, pid, wall, _ in self.lines():
            last[pid] = max(last[pid], wall)
        return dict(last)

    def alive(self) -> list[int]:
        """Job processes of this log still alive (zombies count as gone; a pid reused by
        another program does not count)."""
        return [pid for pid in self.pids() if alive(pid) and _is_family(pid)]


def alive(pid: int) -> bool:
    """True for a live process (not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


def _is_family(pid: int) -> bool:
    try:
        return FAMILY_JOB.name.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
