"""Which run of a process: its host, its pid and when it started.

A pid alone does not say whether a process still runs: it is reused, and in a container
every daemon may be pid 1. The kernel's start time of the process (clock ticks since
boot, `/proc/<pid>/stat`) tells one run from the next on the same machine. A member node
carries its replica's incarnation, so that a replica restarted right after a crash knows
the node its dead run left (its session not yet expired) for its own, while one held by
a live process is another replica's. Standard library only.
"""

from __future__ import annotations

import os
import socket
from typing import Final

import attrs

from journal.lock import pid_alive

__all__ = ["Incarnation", "started"]

_STARTTIME_FIELD: Final = 22  # of /proc/<pid>/stat, counting from 1


def _stat(pid: int) -> tuple[bytes, int] | None:
    """The state letter and start time (clock ticks since boot) of process `pid`, from
    /proc; None when it cannot be read (no such process, no /proc, or hidden from us)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces and parentheses.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return fields[0], int(fields[_STARTTIME_FIELD - 3])
    except (IndexError, ValueError):
        return None


def _exited(state: bytes) -> bool:
    return state in (b"Z", b"X")  # dead; a zombie only waits for its parent to reap it


def started(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot); None if it does not run (a
    zombie does not) or this system cannot tell."""
    stat = _stat(pid)
    return None if stat is None or _exited(stat[0]) else stat[1]


def _runs(pid: int) -> bool:
    """Whether `pid` runs: it exists and, where /proc tells, is no zombie."""
    if not pid_alive(pid):
        return False
    stat = _stat(pid)
    return stat is None or not _exited(stat[0])


@attrs.frozen(kw_only=True)
class Incarnation:
    """One run of a process: host, pid and start time (None where it cannot be told)."""

    host: str
    pid: int
    started: int | None = None

    @classmethod
    def current(cls) -> Incarnation:
        pid = os.getpid()
        return cls(host=socket.gethostname(), pid=pid, started=started(pid))

    def replaceable_by(self, here: Incarnation) -> bool:
        """True when `here` (the current process) may take this incarnation's place: it
        ran on this host and no longer runs (its pid is gone, or another process's, with
        another start time), or it is `here`'s own pid (this process, or a run before
        it in the same pid: a container's pid 1). False for another host's, and for a
        process that runs, or may: only its session's end frees the place then."""
        if self.host != here.host:
            return False
        if self.pid == here.pid:
            return True
        if not _runs(self.pid):
            return True
        now = started(self.pid)
        return self.started is not None and now is not None and now != self.started
