"""JournalWriter: appends records to a JSONL journal, one `os.write` per line.

Each line goes out in a single `os.write` (looping only on a short write), then
`os.fsync`, so a crash tears at most the final line, which the reader drops. Opening a
journal always writes a fresh header: a restarted daemon pointed at the same path starts
a new run in the same file.

Thread use: one thread appends (the loop thread that owns the state). The writer takes
no locks; sharing it between threads would interleave nothing (each line is one write)
but would break the per-run `seq` check.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from journal.format import (
    FORMAT_VERSION,
    JOURNAL_NAME,
    JsonObject,
    dumps_line,
    header_problem,
    record_problem,
)

__all__ = ["JournalWriter"]

_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


def _make_parents(directory: Path) -> None:
    """Create `directory` and any missing ancestors, each with mode 0700.

    `os.makedirs(mode=...)` applies the mode to the leaf only, so walk down by hand.
    """
    missing = []
    while not directory.exists():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    for path in reversed(missing):
        # Made by someone else meanwhile: fine (open() fails later if it is no directory).
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)


def _fsync_dir(directory: Path) -> None:
    """Make a new file's directory entry durable (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories
    finally:
        os.close(fd)


def _ends_mid_line(path: Path, size: int) -> bool:
    """True if the file's last byte is not a newline (a torn tail from a crash)."""
    if size == 0:
        return False
    with path.open("rb") as f:
        f.seek(size - 1)
        return f.read(1) != b"\n"


class JournalWriter:
    """Appends to the journal at `path`, writing `header` first (a new run).

    `header` is completed with `journal` and `format` if it lacks them (see
    `journal.format.make_header`) and must then be a valid header, else ValueError.
    The file is created with mode 0600 and missing parent directories with mode 0700.
    With `fsync=False` lines are only fsynced by `sync()` and `close()`.
    """

    def __init__(
        self, path: str | os.PathLike[str], header: Mapping[str, Any], *, fsync: bool = True
    ) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._bytes_written = 0
        self._last_seq: int | None = None
        self._failed = False
        full_header: JsonObject = {"journal": JOURNAL_NAME, "format": FORMAT_VERSION, **header}
        problem = header_problem(full_header)
        if problem is not None:
            raise ValueError(problem)
        header_line = dumps_line(full_header)

        if not self.path.parent.exists():
            _make_parents(self.path.parent)
        created = not self.path.exists()
        fd = os.open(self.path, _OPEN_FLAGS, 0o600)
        self._fd: int | None = fd
        try:
            size = os.fstat(fd).st_size
            # A crash left half a line: end it, so our header starts a line of its own
            # (the reader drops a corrupt line just before a header as that run's tail).
            prefix = b"\n" if _ends_mid_line(self.path, size) else b""
            self._write(prefix + header_line)
            os.fsync(fd)
            if created:
                _fsync_dir(self.path.parent)
        except BaseException:
            self.close()
            raise

    @property
    def bytes_written(self) -> int:
        """Bytes this writer has written, header included."""
        return self._bytes_written

    @property
    def closed(self) -> bool:
        """True once `close()` has run."""
        return self._fd is None

    def _open_fd(self) -> int:
        if self._fd is None:
            raise ValueError(f"journal {self.path} is closed")
        return self._fd

    def _write(self, data: bytes) -> None:
        fd = self._open_fd()
        view = memoryview(data)
        try:
            while view:
                # One write per line in practice; a short write (disk nearly full, a
                # signal) is continued, which still tears nothing but this final line.
                written = os.write(fd, view)
                self._bytes_written += written
                view = view[written:]
        except BaseException:
            # Part of the line may be on disk; a further line would be glued onto it.
            self._failed = True
            raise

    def append(self, record: Mapping[str, Any]) -> None:
        """Write `record` as one line (and fsync it unless `fsync=False`).

        Raises ValueError for a malformed record or a `seq` not above the previous
        one, OSError if the write fails (the writer is then unusable: reopen the
        journal to start a new run).
        """
        fd = self._open_fd()
        if self._failed:
            raise ValueError(f"journal {self.path}: an earlier write failed; reopen it")
        obj = dict(record)
        problem = record_problem(obj)
        if problem is not None:
            raise ValueError(problem)
        seq: int = obj["seq"]
        if self._last_seq is not None and seq <= self._last_seq:
            raise ValueError(f"record: seq {seq} does not follow {self._last_seq}")
        self._write(dumps_line(obj))
        self._last_seq = seq
        if self._fsync:
            os.fsync(fd)

    def sync(self) -> None:
        """fsync what has been written so far."""
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        """fsync and close; safe to call twice."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if not self._failed:
                os.fsync(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
