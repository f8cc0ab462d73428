"""One writer per journal: an exclusive lock beside it, held while a process writes.

Two daemons appending to one journal make it unreadable (`seq 7 does not follow seq 18`).
The lock is `flock(2)` on a small hidden file beside the journal (`.NAME.lock`: never
taken for a rotated segment, never matched by `NAME*`), not on the journal itself, which
rotation renames. The holder writes its pid into it, so that the next one can say who
holds it, and tell a live writer (refuse) from the survivors of a dead one that still
hold the inherited lock while they finish (wait). The descriptor is not inherited by
children unless passed on purpose. Standard library only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from journal.writer import make_parents

__all__ = ["JournalInUse", "JournalLock", "lock_path", "pid_alive"]


def lock_path(journal: str | os.PathLike[str]) -> Path:
    """The lock file of the journal at `journal` (its real path: one lock per file)."""
    real = Path(os.path.realpath(journal))
    return real.with_name(f".{real.name}.lock")


class JournalInUse(Exception):
    """Another process holds the journal's lock; `str()` says who."""

    def __init__(self, journal: Path, holder: int | None, writer_alive: bool) -> None:
        self.journal = journal
        self.holder = holder
        self.writer_alive = writer_alive
        if holder is None:
            why = "another process writes to it"
        elif writer_alive:
            why = f"another process writes to it (pid {holder})"
        else:
            why = f"the processes of its last writer (pid {holder}, gone) still hold it"
        self.why = why
        super().__init__(f"{journal} is in use: {why}; a journal has one writer")


class JournalLock:
    """The lock of one journal; `acquire` before writing, `release` (or the process's
    end) lets the next writer in."""

    def __init__(self, journal: str | os.PathLike[str]) -> None:
        self.journal = Path(journal)
        self.path = lock_path(journal)
        self._fd: int | None = None

    def acquire(self, wait_for_survivors: float = 0.0, poll: float = 0.05) -> None:
        """Take the lock, or raise JournalInUse: at once when its holder's writer runs;
        after up to `wait_for_survivors` seconds when the writer is gone but processes
        that inherited the lock still hold it (a dead daemon's companions finishing its
        work). Makes the journal's directory if missing (mode 0700). Raises OSError when
        the lock file cannot be made."""
        make_parents(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + wait_for_survivors
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = _holder(fd)
                    alive = holder is None or pid_alive(holder)
                    if alive or time.monotonic() >= deadline:
                        raise JournalInUse(self.journal, holder, alive) from None
                    time.sleep(poll)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def fileno(self) -> int:
        """The locked descriptor (to hand to a process that must keep the journal)."""
        if self._fd is None:
            raise ValueError("the journal lock is not held")
        return self._fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _holder(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    return None


def pid_alive(pid: int) -> bool:
    """Whether a process of pid `pid` runs (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
